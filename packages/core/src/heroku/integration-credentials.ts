import type pg from 'pg';
import { decryptSecret, encryptSecret } from '../crypto.js';
import { HerokuApiError, type HerokuTokenSource } from './platform-client.js';

/** Refresh an OAuth access token this long before it expires. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

export interface OAuthClientConfig {
  idUrl: string;
  clientId: string | undefined;
  clientSecret: string | undefined;
}

interface CredentialRow {
  api_token_ciphertext: string | null;
  oauth_access_token_ciphertext: string | null;
  oauth_refresh_token_ciphertext: string | null;
  oauth_expires_at: Date | null;
  status: string;
}

export interface OAuthTokens {
  accessToken: string;
  refreshToken: string;
  expiresInSeconds: number;
}

/** POST `<idUrl>/oauth/token`; a 401 means the grant is gone (revoked or expired). */
export async function requestOAuthToken(oauth: OAuthClientConfig, grant: { grant_type: 'authorization_code'; code: string } | { grant_type: 'refresh_token'; refresh_token: string }): Promise<OAuthTokens> {
  if (oauth.clientSecret === undefined) throw new HerokuApiError(0, 'not_configured', 'HEROKU_OAUTH_SECRET is not set');
  const response = await fetch(`${oauth.idUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({ ...grant, client_secret: oauth.clientSecret }).toString(),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await response.json().catch(() => ({}))) as { access_token?: string; refresh_token?: string; expires_in?: number; id?: string; message?: string; error?: string; error_description?: string };
  if (!response.ok || !body.access_token) {
    throw new HerokuApiError(response.status, body.id ?? body.error ?? 'oauth_error', body.message ?? body.error_description ?? `Heroku OAuth answered HTTP ${response.status}`);
  }
  return { accessToken: body.access_token, refreshToken: body.refresh_token ?? '', expiresInSeconds: body.expires_in ?? 28_800 };
}

/** Stores OAuth tokens (encrypted) and marks the integration connected. */
export async function storeOAuthTokens(pool: pg.Pool, secretKey: Buffer, integrationId: string, tokens: OAuthTokens): Promise<void> {
  await pool.query(
    `UPDATE heroku_integrations SET oauth_access_token_ciphertext = $2, oauth_refresh_token_ciphertext = COALESCE($3, oauth_refresh_token_ciphertext),
            oauth_expires_at = $4, status = 'active', status_reason = NULL, updated_at = now() WHERE id = $1`,
    [
      integrationId,
      encryptSecret(secretKey, tokens.accessToken),
      tokens.refreshToken === '' ? null : encryptSecret(secretKey, tokens.refreshToken),
      new Date(Date.now() + tokens.expiresInSeconds * 1000),
    ],
  );
}

/**
 * The Heroku credentials of an integration: its OAuth access token (refreshed before it
 * expires and after a 401), else its pasted API token. A refresh token Heroku refuses marks
 * the integration `disconnected` with the reason, for the API and UI to show.
 */
export function integrationTokenSource(deps: { pool: pg.Pool; secretKey: Buffer; oauth: OAuthClientConfig }, integrationId: string): HerokuTokenSource {
  const load = async (client: pg.Pool | pg.PoolClient = deps.pool, lock = false) => {
    const { rows } = await client.query<CredentialRow>(
      `SELECT api_token_ciphertext, oauth_access_token_ciphertext, oauth_refresh_token_ciphertext, oauth_expires_at, status::text
         FROM heroku_integrations WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [integrationId],
    );
    if (!rows[0]) throw new HerokuApiError(0, 'not_found', 'the integration no longer exists');
    return rows[0];
  };

  /** Refreshes under a row lock so concurrent workers refresh once; returns the new access token or null. */
  const refresh = async (force: boolean): Promise<string | null> => {
    const client = await deps.pool.connect();
    try {
      await client.query('BEGIN');
      const row = await load(client, true);
      if (row.oauth_refresh_token_ciphertext === null) {
        await client.query('ROLLBACK');
        return null;
      }
      const stillFresh = row.oauth_access_token_ciphertext !== null && row.oauth_expires_at !== null && row.oauth_expires_at.getTime() - Date.now() > REFRESH_MARGIN_MS;
      if (stillFresh && !force) {
        await client.query('ROLLBACK');
        return decryptSecret(deps.secretKey, row.oauth_access_token_ciphertext!);
      }
      try {
        const tokens = await requestOAuthToken(deps.oauth, { grant_type: 'refresh_token', refresh_token: decryptSecret(deps.secretKey, row.oauth_refresh_token_ciphertext) });
        await client.query('COMMIT');
        await storeOAuthTokens(deps.pool, deps.secretKey, integrationId, tokens);
        return tokens.accessToken;
      } catch (error) {
        if (error instanceof HerokuApiError && (error.status === 400 || error.status === 401)) {
          await client.query(
            `UPDATE heroku_integrations SET status = 'disconnected', status_reason = $2, oauth_access_token_ciphertext = NULL, updated_at = now() WHERE id = $1`,
            [integrationId, `Heroku refused to refresh the OAuth token (${error.describe()}): the authorization was revoked or has expired. Connect with Heroku again.`],
          );
          await client.query('COMMIT');
          return null;
        }
        await client.query('ROLLBACK');
        throw error;
      }
    } finally {
      client.release();
    }
  };

  return {
    async token() {
      const row = await load();
      if (row.oauth_refresh_token_ciphertext !== null) {
        if (row.status === 'disconnected') throw new HerokuApiError(401, 'disconnected', 'the integration is disconnected from Heroku; connect it again');
        const fresh = row.oauth_access_token_ciphertext !== null && row.oauth_expires_at !== null && row.oauth_expires_at.getTime() - Date.now() > REFRESH_MARGIN_MS;
        if (fresh) return decryptSecret(deps.secretKey, row.oauth_access_token_ciphertext!);
        const token = await refresh(false);
        if (token === null) throw new HerokuApiError(401, 'disconnected', 'the integration is disconnected from Heroku; connect it again');
        return token;
      }
      if (row.api_token_ciphertext !== null) return decryptSecret(deps.secretKey, row.api_token_ciphertext);
      throw new HerokuApiError(0, 'no_credentials', 'the integration has no Heroku API token or OAuth connection');
    },
    refresh: () => refresh(true),
  };
}
