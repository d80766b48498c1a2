import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { AppError, HerokuApiError, createLogger } from '@pulsebridge/core';
import { errorHandler } from './error-handler.js';

const handle = errorHandler(createLogger({ level: 'silent', service: 'test' }));

function answer(error: unknown) {
  const sent: { status?: number; body?: { error: { code: string; message: string } } } = {};
  const res = {
    headersSent: false,
    status(code: number) {
      sent.status = code;
      return this;
    },
    json(body: never) {
      sent.body = body;
      return this;
    },
  } as unknown as Response;
  handle(error, { id: 'req-1' } as unknown as Request, res, () => undefined);
  return sent;
}

describe('the error handler', () => {
  it('answers a path parameter that does not decode 400, as the router reports it', () => {
    const error = Object.assign(new URIError("Failed to decode param '%E0%A4%A'"), { status: 400, statusCode: 400 });
    expect(answer(error)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
  });

  it('answers client errors from middleware (http-errors carry `expose`) with their status', () => {
    expect(answer(Object.assign(new Error('Not Found'), { status: 404, expose: true }))).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(answer(Object.assign(new Error('Range Not Satisfiable'), { status: 416, expose: true }))).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
  });

  it('answers a value PostgreSQL refuses 400, whether from pg or from Prisma', () => {
    const fromPg = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021', severity: 'ERROR' });
    const fromPrisma = Object.assign(new Error('Invalid `prisma.service.findUnique()` invocation'), {
      code: 'P2007',
      meta: { driverAdapterError: { cause: { originalCode: '22P02', kind: 'InvalidInputValue' } } },
    });
    for (const error of [fromPg, fromPrisma]) expect(answer(error)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
  });

  it('keeps our own failures 500: an upstream status, a lost connection, a bug', () => {
    expect(answer(new HerokuApiError(401, 'unauthorized', 'Invalid credentials provided.'))).toMatchObject({ status: 500, body: { error: { code: 'internal' } } });
    expect(answer(Object.assign(new Error('terminating connection'), { code: '57P01', severity: 'FATAL' }))).toMatchObject({ status: 500 });
    expect(answer(new TypeError("Cannot read properties of null (reading 'type')"))).toMatchObject({ status: 500 });
    expect(answer(new AppError('conflict', 'taken'))).toMatchObject({ status: 409, body: { error: { code: 'conflict', message: 'taken' } } });
  });
});
