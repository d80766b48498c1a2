/** Facts derived from a payload where Heroku's semantics need code, not templates. */
export interface DynoFacts {
  name: string;
  /** Process type: `web`, `worker`, `run`, ... */
  type: string;
  /** A one-off dyno (`heroku run`, Scheduler): judged by its exit status, not its final state. */
  one_off: boolean;
  state: string;
  exit_status: number | null;
  /**
   * Formation dynos: starting | up | stopping | down | crashed | unknown.
   * One-off dynos: running (not finished) | succeeded | failed | timed_out | crashed.
   */
  outcome: string;
}

export interface FormationFacts {
  type: string | null;
  quantity: number | null;
  previous_quantity: number | null;
  size: string | null;
  previous_size: string | null;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** Exit status of a one-off dyno stopped for exceeding its `time_to_live` on the Common Runtime. */
const EXIT_TIMED_OUT = 143;

/**
 * Dyno lifecycle, Cedar (`starting -> up -> stopping`, crash `-> crashed`) and Fir
 * (`... -> stopping -> down`, crash `-> crashed -> down`). One-off dynos always end `down` or
 * `crashed`, so their outcome comes from `exit_status`: 0 succeeded, 143 timed out (the
 * Common Runtime's time to live), anything else failed.
 */
export function dynoFacts(data: Json): DynoFacts | null {
  const name = str(data.name);
  const state = str(data.state);
  if (name === null || state === null) return null;
  const type = str(data.type) ?? name.split('.')[0] ?? name;
  const management = str(data.management);
  const oneOff = type === 'run' || name.startsWith('run.') || (management !== null && management.startsWith('run:'));
  const exitStatus = num(data.exit_status);
  let outcome: string;
  if (oneOff) {
    const finished = state === 'down' || state === 'crashed';
    if (!finished) outcome = 'running';
    else if (exitStatus === 0) outcome = 'succeeded';
    else if (exitStatus === EXIT_TIMED_OUT) outcome = 'timed_out';
    else if (exitStatus === null) outcome = state === 'crashed' ? 'crashed' : 'succeeded';
    else outcome = 'failed';
  } else {
    outcome = ['starting', 'up', 'stopping', 'down', 'crashed'].includes(state) ? state : 'unknown';
  }
  return { name, type, one_off: oneOff, state, exit_status: exitStatus, outcome };
}

/** Scale and resize of a process type, with the values before the change from `previous_data`. */
export function formationFacts(data: Json, previous: Json): FormationFacts {
  return {
    type: str(data.type),
    quantity: num(data.quantity),
    previous_quantity: num(previous.quantity),
    size: str(data.size),
    previous_size: str(previous.size),
  };
}

/** Everything rule templates can see for one event. */
export function templateScope(event: { entity: string; resource: string; action: string | null; appName: string | null; occurredAt: Date | null; payload: unknown }) {
  const payload = isObject(event.payload) ? event.payload : {};
  const data = isObject(payload.data) ? payload.data : {};
  const previous = isObject(payload.previous_data) ? payload.previous_data : {};
  return {
    event: payload,
    data,
    previous_data: previous,
    actor: isObject(payload.actor) ? payload.actor : {},
    detail: isObject(payload.detail) ? payload.detail : {},
    action: event.action,
    resource: event.resource,
    entity: event.entity,
    app_name: event.appName,
    occurred_at: event.occurredAt?.toISOString() ?? null,
    dyno: event.resource === 'dyno' ? dynoFacts(data) : null,
    formation: event.resource === 'formation' ? formationFacts(data, previous) : null,
    // Drain events: the signal that crossed its threshold (or went quiet).
    signal: event.resource === 'log' && isObject(payload.signal) ? payload.signal : null,
  };
}
