import { bootOrExit, loadRulesOrExit, createRuntime, handleShutdownSignals, startFailureLine } from '@pulsebridge/core';
import { startApiServer } from './server.js';

/** Composition root of the API process. */
async function main(): Promise<void> {
  const config = await bootOrExit();
  const rules = await loadRulesOrExit(config.configDir);
  const runtime = createRuntime(config, { process: 'api' });
  const api = await startApiServer(runtime, { port: config.port, rules });
  handleShutdownSignals({
    logger: runtime.logger,
    timeoutMs: config.shutdownTimeoutMs,
    stop: async () => {
      await api.close();
      await runtime.close();
    },
  });
  // Only once a SIGTERM would be handled: whoever waits for this line may stop the process next.
  runtime.logger.info({ url: config.publicUrl, port: config.port }, 'pulsebridge API listening');
}

main().catch((error: unknown) => {
  process.stderr.write(`${startFailureLine('api', error, 'PORT')}\n`);
  process.exit(1);
});
