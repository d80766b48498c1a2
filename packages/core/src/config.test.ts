import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const required = { ADMIN_TOKEN: 'a-long-enough-admin-token', SECRET_KEY: 'ab'.repeat(32) };

function errorsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.lines;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig(required);
    expect(config).toMatchObject({
      databaseUrl: 'postgresql://postgres@127.0.0.1:5432/pulsebridge',
      redisUrl: 'redis://127.0.0.1:6379',
      port: 3000,
      publicUrl: 'http://localhost:3000',
      queuePrefix: 'pulsebridge',
      configDir: './config',
      slack: { apiUrl: 'https://slack.com/api/' },
      heroku: { apiUrl: 'https://api.heroku.com', idUrl: 'https://id.heroku.com' },
    });
    expect(loadConfig({ ...required, PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
    // On Heroku without PUBLIC_URL (the first deploy of the button), from the dyno metadata.
    expect(loadConfig({ ...required, HEROKU_APP_NAME: 'pb-demo', HEROKU_APP_DEFAULT_DOMAIN_NAME: 'pb-demo-0a1b2c3d4e5f.herokuapp.com' }).publicUrl).toBe('https://pb-demo-0a1b2c3d4e5f.herokuapp.com');
    expect(loadConfig({ ...required, HEROKU_APP_NAME: 'pb-demo' }).publicUrl).toBe('https://pb-demo.herokuapp.com');
    expect(loadConfig({ ...required, HEROKU_APP_NAME: 'pb-demo', PUBLIC_URL: 'https://incidents.example.com/' }).publicUrl).toBe('https://incidents.example.com');
    expect(loadConfig({ ...required, SECRET_KEY: Buffer.alloc(32, 1).toString('base64') }).secretKey).toEqual(Buffer.alloc(32, 1));
  });

  it('names every missing or malformed variable on its own line', () => {
    const lines = errorsOf({ PORT: 'eighty', DATABASE_URL: 'not a url', SECRET_KEY: 'short' });
    expect(lines).toHaveLength(4);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^config: ADMIN_TOKEN is required/),
        expect.stringMatching(/^config: SECRET_KEY must be 32 bytes/),
        expect.stringMatching(/^config: PORT /),
        expect.stringMatching(/^config: DATABASE_URL must be a URL/),
      ]),
    );
    expect(errorsOf({ ADMIN_TOKEN: required.ADMIN_TOKEN })).toEqual([expect.stringMatching(/^config: SECRET_KEY is required/)]);
  });
});
