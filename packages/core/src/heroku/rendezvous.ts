import tls from 'node:tls';

export class RendezvousError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RendezvousError';
  }
}

export interface RendezvousResult {
  /** True when the time limit ended the session, not the process. */
  timedOut: boolean;
}

/** Longest first line accepted from the server before it says `rendezvous`. */
const MAX_HANDSHAKE_BYTES = 4_096;

/**
 * Attaches to a one-off dyno over Heroku's Rendezvous protocol: TLS to the attach URL's
 * host and port, the secret (path without its `/`, plus any query) and CRLF, then one line
 * `rendezvous`, then the process's output until the server closes. The output is not
 * collected here: `onOutput` sees each chunk of raw bytes as it comes (and decides what to
 * keep, so memory is the caller's to bound); the session is cut after `timeoutMs`.
 */
export function attachToDyno(
  attachUrl: string,
  options: { timeoutMs: number; ca?: string | Buffer; onOutput?: (chunk: Buffer) => void; connectTimeoutMs?: number },
): Promise<RendezvousResult> {
  let url: URL;
  try {
    url = new URL(attachUrl);
  } catch {
    return Promise.reject(new RendezvousError(`attach URL is not a URL: ${attachUrl}`));
  }
  if (url.protocol !== 'rendezvous:') {
    return Promise.reject(new RendezvousError(`unsupported attach URL scheme ${url.protocol} (Private Space dynos attach over SSH, which pulsebridge does not support)`));
  }
  const secret = `${url.pathname.replace(/^\//, '')}${url.search}`;
  const port = Number(url.port || 5000);
  return new Promise((resolve, reject) => {
    let settled = false;
    let handshake = Buffer.alloc(0);
    let attached = false;
    let timedOut = false;
    let secured = false;
    const socket = tls.connect({ host: url.hostname, port, servername: url.hostname, ...(options.ca !== undefined && { ca: options.ca }) });
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(limit);
      clearTimeout(connectLimit);
      socket.destroy();
      if (error) reject(error);
      else resolve({ timedOut });
    };
    const connectLimit = setTimeout(() => finish(new RendezvousError(`no answer from the dyno at ${url.host} within ${options.connectTimeoutMs ?? 15_000} ms`)), options.connectTimeoutMs ?? 15_000);
    const limit = setTimeout(() => {
      timedOut = true;
      finish();
    }, options.timeoutMs);
    socket.once('secureConnect', () => {
      secured = true;
      clearTimeout(connectLimit);
      socket.write(`${secret}\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      if (attached) {
        options.onOutput?.(chunk);
        return;
      }
      handshake = Buffer.concat([handshake, chunk]);
      const refused = () => new RendezvousError(`the dyno did not accept the attach secret (answered ${JSON.stringify(handshake.subarray(0, 40).toString('utf8'))})`);
      const end = handshake.indexOf(0x0a);
      if (end === -1) {
        if (handshake.length > MAX_HANDSHAKE_BYTES) finish(refused());
        return;
      }
      if (handshake.subarray(0, end).toString('utf8').trim() !== 'rendezvous') {
        finish(refused());
        return;
      }
      attached = true;
      const rest = handshake.subarray(end + 1);
      handshake = Buffer.alloc(0);
      if (rest.length > 0) options.onOutput?.(rest);
    });
    const closedEarly = () =>
      secured
        ? new RendezvousError('the dyno closed the connection before attaching (unknown or used attach secret)')
        : new RendezvousError(`TLS handshake with the dyno at ${url.host} failed: the connection closed during the handshake`);
    socket.on('end', () => (attached ? finish() : finish(closedEarly())));
    socket.on('close', () => (attached ? finish() : finish(closedEarly())));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') return finish(new RendezvousError(`could not connect to the dyno at ${url.host}: connection refused`));
      if (!secured) {
        return finish(new RendezvousError(`TLS handshake with the dyno at ${url.host} failed: ${error.message}`));
      }
      if (!attached) return finish(new RendezvousError(`connection to the dyno at ${url.host} failed: ${error.message}`));
      finish();
    });
  });
}
