import type { Logger } from 'pino';

/**
 * Runs `stop` once on the first SIGTERM or SIGINT (or when the launcher that started this
 * process over IPC ends), raced against `timeoutMs`; exits 0 when it finishes in time and 1
 * otherwise. A second signal exits at once.
 */
export function handleShutdownSignals(options: { logger: Logger; timeoutMs: number; stop: () => Promise<void> }): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    options.logger.info({ signal, timeoutMs: options.timeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      options.logger.error({ timeoutMs: options.timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, options.timeoutMs);
    timer.unref();
    options
      .stop()
      .then(() => {
        options.logger.info('shutdown complete');
        process.exit(0);
      })
      .catch((err: unknown) => {
        options.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Started by `npm start`: its channel closes when the launcher ends, even when it is killed.
  if (process.channel !== undefined) {
    process.channel.unref();
    process.on('disconnect', () => {
      if (!stopping) onSignal('SIGTERM');
    });
  }
}
