import { describe, expect, it } from 'vitest';
import { checkPostgres, checkRedis } from '@pulsebridge/core';
import { freePort } from '../support/ports.js';
import { ADMIN_URL } from '../support/services.js';

// Start-up says "start it" only when nothing answers; a server that answers and refuses gets "check the URL".
const pg = new URL(ADMIN_URL);

describe('start-up checks tell an absent server from a wrong setting', () => {
  it('PostgreSQL: an unknown role is a setting to check, a closed port a server to start', async () => {
    const wrongUser = new URL(ADMIN_URL);
    wrongUser.username = 'no_such_role_here';
    expect(await checkPostgres(wrongUser.toString())).toMatch(/refused the connection \(.*no_such_role_here.*\): check the user, password, database and SSL settings in DATABASE_URL/);
    const closed = await freePort();
    expect(await checkPostgres(`postgresql://postgres@127.0.0.1:${closed}/x`)).toMatch(new RegExp(`^PostgreSQL is not reachable at 127.0.0.1:${closed} .*start it`));
  });

  it('Redis: a port where something else answers is a setting to check, a closed port a server to start', async () => {
    expect(await checkRedis(`redis://${pg.hostname}:${pg.port || 5432}`)).toMatch(/did not answer as Redis .*check REDIS_URL/);
    const closed = await freePort();
    expect(await checkRedis(`redis://127.0.0.1:${closed}`)).toMatch(new RegExp(`^Redis is not reachable at 127.0.0.1:${closed} .*start it`));
  });
});
