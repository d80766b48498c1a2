/** Builders of Heroku log drain bodies (`application/logplex-1`) as Logplex writes them. */

/** One octet-counted frame: the message's byte length, a space, the message (with its newline). */
export const frame = (message: string): string => `${Buffer.byteLength(`${message}\n`)} ${message}\n`;

const header = (proc: string, app = 'heroku', at = new Date()) => `<158>1 ${at.toISOString().replace(/\.\d+Z$/, '+00:00')} host ${app} ${proc} -`;

/** A router line: `at=info` with a status, or `at=error code=Hxx` (status 503). */
export function routerLine(options: { status?: number; code?: string; dyno?: string; desc?: string; path?: string } = {}): string {
  const status = options.status ?? (options.code ? 503 : 200);
  const at = options.code ? `at=error code=${options.code} desc="${options.desc ?? 'Request timeout'}"` : 'at=info';
  return `${header('router')} ${at} method=GET path=${options.path ?? '/'} host=example.herokuapp.com request_id=8601b555-6a83-4c12-8269-97c8e32cdb22 fwd="204.204.204.204" dyno=${options.dyno ?? 'web.1'} connect=0ms service=${options.code ? '30000' : '23'}ms status=${status} bytes=0 protocol=https`;
}

/** A runtime line of a dyno: `Error R14 (Memory quota exceeded)`, `State changed from up to crashed`. */
export const runtimeLine = (dyno: string, message: string): string => `${header(dyno)} ${message}`;

/** An app's own line (no signal). */
export const appLine = (dyno: string, message: string): string => `${header(dyno, 'app')} ${message}`;

export const body = (lines: string[]): string => lines.map(frame).join('');
