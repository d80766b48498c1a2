/** An error answered by the Heroku Platform API: its HTTP status and Heroku's `{id, message}`. */
export class HerokuApiError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
  ) {
    super(message);
    this.name = 'HerokuApiError';
  }

  /** One line for people: "Couldn't find that app. (not_found)". */
  describe(): string {
    return `${this.message} (${this.id})`;
  }
}

/** Supplies the bearer token; `refresh` is called once after a 401 (OAuth) and returns a new one or null. */
export interface HerokuTokenSource {
  token(): Promise<string>;
  refresh?(): Promise<string | null>;
}

export interface WebhookInput {
  include: string[];
  level: 'notify' | 'sync';
  url: string;
  secret?: string;
  authorization?: string | null;
}

export interface HerokuWebhook {
  id: string;
  include: string[];
  level: string;
  url: string;
}

export interface HerokuLogDrain {
  id: string;
  url: string;
  /** `d.<uuid>`: Logplex sends it as Logplex-Drain-Token. */
  token: string;
}

export interface DynoInput {
  command: string;
  attach: boolean;
  size: string;
  type?: string;
  time_to_live: number;
  env?: Record<string, string>;
  force_no_tty?: boolean;
}

export interface HerokuDyno {
  id: string;
  name: string;
  state: string;
  attach_url: string | null;
  command: string;
  size: string;
  exit_status?: number | null;
}

export interface HerokuClientOptions {
  apiUrl: string;
  tokens: HerokuTokenSource;
  /** Attempts per request for 429, 5xx and network errors (and 409 where a call allows it). */
  maxAttempts?: number;
  baseDelayMs?: number;
  /** Below this many remaining requests in Heroku's hourly budget, requests are spaced out. */
  lowBudget?: number;
  fetch?: typeof fetch;
}

const ACCEPT = 'application/vnd.heroku+json; version=3';

/**
 * A small client for the Heroku Platform API calls pulsebridge makes. Retries 429 (after
 * Retry-After), 5xx and network errors with exponential backoff; slows down when
 * RateLimit-Remaining runs low; turns Heroku's `{id, message}` errors into HerokuApiError.
 */
export class HerokuClient {
  private remaining = Number.POSITIVE_INFINITY;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly lowBudget: number;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: HerokuClientOptions) {
    this.maxAttempts = options.maxAttempts ?? 4;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.lowBudget = options.lowBudget ?? 50;
    this.doFetch = options.fetch ?? fetch;
  }

  /** Requests left in the hourly budget, as of the last answer. */
  get rateLimitRemaining(): number {
    return this.remaining;
  }

  async request<T>(method: string, path: string, body?: unknown, options: { retryConflict?: boolean; headers?: Record<string, string> } = {}): Promise<T> {
    let token = await this.options.tokens.token();
    let refreshed = false;
    for (let attempt = 1; ; attempt += 1) {
      if (this.remaining < this.lowBudget) await sleep(1_000);
      let response: Response;
      try {
        response = await this.doFetch(`${this.options.apiUrl}${path}`, {
          method,
          headers: { ...options.headers, Accept: ACCEPT, Authorization: `Bearer ${token}`, ...(body !== undefined && { 'Content-Type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (error) {
        if (attempt >= this.maxAttempts) throw new HerokuApiError(0, 'unreachable', `Heroku API unreachable: ${(error as Error).message}`);
        await sleep(this.backoff(attempt));
        continue;
      }
      const remaining = Number(response.headers.get('ratelimit-remaining'));
      if (Number.isFinite(remaining)) this.remaining = remaining;
      if (response.ok) return (response.status === 204 ? undefined : await response.json()) as T;

      const payload = (await response.json().catch(() => ({}))) as { id?: string; message?: string };
      const error = new HerokuApiError(response.status, payload.id ?? `http_${response.status}`, payload.message ?? `Heroku answered HTTP ${response.status}`);
      if (response.status === 401 && !refreshed && this.options.tokens.refresh) {
        refreshed = true;
        const fresh = await this.options.tokens.refresh();
        if (fresh !== null) {
          token = fresh;
          continue;
        }
        throw error;
      }
      const retryable = response.status === 429 || response.status >= 500 || (response.status === 409 && options.retryConflict === true);
      if (!retryable || attempt >= this.maxAttempts) throw error;
      const retryAfter = Number(response.headers.get('retry-after'));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : this.backoff(attempt));
    }
  }

  private backoff(attempt: number): number {
    return this.baseDelayMs * 2 ** (attempt - 1);
  }

  getApp(app: string) {
    return this.request<{ id: string; name: string }>('GET', `/apps/${encodeURIComponent(app)}`);
  }
  listWebhooks(app: string) {
    return this.request<HerokuWebhook[]>('GET', `/apps/${encodeURIComponent(app)}/webhooks`);
  }
  createWebhook(app: string, input: WebhookInput) {
    return this.request<HerokuWebhook>('POST', `/apps/${encodeURIComponent(app)}/webhooks`, input);
  }
  updateWebhook(app: string, id: string, input: Partial<WebhookInput>) {
    return this.request<HerokuWebhook>('PATCH', `/apps/${encodeURIComponent(app)}/webhooks/${encodeURIComponent(id)}`, input);
  }
  deleteWebhook(app: string, id: string) {
    return this.request<HerokuWebhook>('DELETE', `/apps/${encodeURIComponent(app)}/webhooks/${encodeURIComponent(id)}`);
  }
  listLogDrains(app: string) {
    return this.request<HerokuLogDrain[]>('GET', `/apps/${encodeURIComponent(app)}/log-drains`);
  }
  createLogDrain(app: string, url: string) {
    return this.request<HerokuLogDrain>('POST', `/apps/${encodeURIComponent(app)}/log-drains`, { url });
  }
  deleteLogDrain(app: string, id: string) {
    return this.request<HerokuLogDrain>('DELETE', `/apps/${encodeURIComponent(app)}/log-drains/${encodeURIComponent(id)}`);
  }
  /** A fresh release can make dyno creation answer 409 for a moment: retried. */
  createDyno(app: string, input: DynoInput) {
    return this.request<HerokuDyno>('POST', `/apps/${encodeURIComponent(app)}/dynos`, input, { retryConflict: true });
  }
  getDyno(app: string, id: string) {
    return this.request<HerokuDyno>('GET', `/apps/${encodeURIComponent(app)}/dynos/${encodeURIComponent(id)}`);
  }
  /** The app's newest releases, newest first (the first is the current one when it succeeded). */
  listReleases(app: string, max = 1) {
    return this.request<HerokuRelease[]>('GET', `/apps/${encodeURIComponent(app)}/releases`, undefined, { headers: { Range: `version ..; order=desc, max=${max}` } });
  }
  /** A release by id or version number. */
  getRelease(app: string, release: string | number) {
    return this.request<HerokuRelease>('GET', `/apps/${encodeURIComponent(app)}/releases/${encodeURIComponent(String(release))}`);
  }
  /** Rolls the app back to an earlier release: Heroku makes a new release ("Rollback to vN") with its slug and config. */
  rollback(app: string, releaseId: string) {
    return this.request<HerokuRelease>('POST', `/apps/${encodeURIComponent(app)}/releases`, { release: releaseId });
  }
  restartDyno(app: string, dyno: string) {
    return this.request<unknown>('DELETE', `/apps/${encodeURIComponent(app)}/dynos/${encodeURIComponent(dyno)}`);
  }
  restartProcessType(app: string, processType: string) {
    return this.request<unknown>('DELETE', `/apps/${encodeURIComponent(app)}/formations/${encodeURIComponent(processType)}`);
  }
  restartAllDynos(app: string) {
    return this.request<unknown>('DELETE', `/apps/${encodeURIComponent(app)}/dynos`);
  }
}

/** What pulsebridge reads of a release. */
export interface HerokuRelease {
  id: string;
  version: number;
  description: string;
  status: 'pending' | 'succeeded' | 'failed' | 'expired';
  current: boolean;
  created_at: string;
  /** Absent on older API answers; false when Heroku will not roll back to it. */
  eligible_for_rollback?: boolean;
  user?: { email?: string; id?: string } | null;
  slug?: { id: string } | null;
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
