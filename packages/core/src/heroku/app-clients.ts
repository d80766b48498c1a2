import type pg from 'pg';
import type { Config } from '../config.js';
import { integrationTokenSource } from './integration-credentials.js';
import { HerokuApiError, HerokuClient } from './platform-client.js';

/** A Heroku client for an app, through the integration that monitors it with credentials. */
export type HerokuClientForApp = (appName: string) => Promise<HerokuClient>;

/**
 * The Heroku client of the oldest integration that monitors `appName` and holds a Heroku API
 * token or an OAuth connection; throws `HerokuApiError` `no_credentials` when none does. Actions
 * on an app (runs, rollbacks, restarts) go through it, so none reaches an app no integration
 * monitors.
 */
export function herokuClientForApp(deps: { pool: pg.Pool; secretKey: Buffer; heroku: Config['heroku'] }): HerokuClientForApp {
  const oauth = { idUrl: deps.heroku.idUrl, clientId: deps.heroku.oauthId, clientSecret: deps.heroku.oauthSecret };
  return async (appName) => {
    const { rows } = await deps.pool.query<{ id: string }>(
      `SELECT id FROM heroku_integrations WHERE $1 = ANY(monitored_apps) AND (api_token_ciphertext IS NOT NULL OR oauth_refresh_token_ciphertext IS NOT NULL)
        ORDER BY created_at LIMIT 1`,
      [appName],
    );
    if (!rows[0]) throw new HerokuApiError(0, 'no_credentials', `no integration with a Heroku API token or OAuth connection monitors ${appName}`);
    return new HerokuClient({ apiUrl: deps.heroku.apiUrl, tokens: integrationTokenSource({ pool: deps.pool, secretKey: deps.secretKey, oauth }, rows[0].id) });
  };
}
