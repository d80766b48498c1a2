import { describe, expect, it } from 'vitest';
import { isDataException, sqlStateOf } from './data-exception.js';

describe('PostgreSQL data exceptions', () => {
  it('reads the SQLSTATE from pg errors and from Prisma driver adapter errors', () => {
    expect(sqlStateOf({ code: '22021', severity: 'ERROR', message: 'invalid byte sequence for encoding "UTF8": 0x00' })).toBe('22021');
    expect(sqlStateOf({ code: 'P2039', meta: { driverAdapterError: { cause: { originalCode: '22P02', kind: 'InvalidInputValue' } } } })).toBe('22P02');
    expect(sqlStateOf({ code: 'ECONNREFUSED' })).toBeUndefined();
    expect(sqlStateOf({ code: '22021' })).toBeUndefined();
    expect(sqlStateOf({ code: 'P2002' })).toBeUndefined();
    expect(sqlStateOf(null)).toBeUndefined();
    expect(sqlStateOf('22021')).toBeUndefined();
  });

  it('counts only class 22 as the value’s fault', () => {
    expect(isDataException({ code: '22021', severity: 'ERROR' })).toBe(true);
    expect(isDataException({ code: 'P2007', meta: { driverAdapterError: { cause: { originalCode: '22P02' } } } })).toBe(true);
    expect(isDataException({ code: '22009', severity: 'ERROR' })).toBe(true);
    expect(isDataException({ code: '57P01', severity: 'FATAL' })).toBe(false);
    expect(isDataException({ code: '23505', severity: 'ERROR' })).toBe(false);
    expect(isDataException(new Error('connect ECONNREFUSED'))).toBe(false);
  });
});
