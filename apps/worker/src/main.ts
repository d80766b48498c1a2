import { SlackTemplateError, bootOrExit, checkReadiness, loadRulesOrExit, createRuntime, createWorkerRedis, handleShutdownSignals, loadSlackTemplates, startFailureLine } from '@pulsebridge/core';
import { startMetricsServer } from './metrics-server.js';
import { startWorkers } from './worker.js';

/** Composition root of the worker process. */
async function main(): Promise<void> {
  const config = await bootOrExit();
  const rules = await loadRulesOrExit(config.configDir);
  const slackTemplates = await loadSlackTemplates(config.configDir).catch((error: unknown) => {
    if (!(error instanceof SlackTemplateError)) throw error;
    process.stderr.write(`slack templates: ${error.message}\n`);
    process.exit(1);
  });
  const runtime = createRuntime(config, { process: 'worker' });
  const connection = createWorkerRedis(config.redisUrl, { tlsVerify: config.redisTlsVerify });
  connection.on('error', (err) => runtime.logger.warn({ err: err.message }, 'worker redis connection error'));
  const workers = startWorkers(runtime, { connection, rules, slackTemplates });
  const metricsServer = await startMetricsServer(runtime.metrics, config.worker.port, {
    token: config.metricsToken,
    readiness: () => checkReadiness({ pool: runtime.db.pool, redis: runtime.redis }),
  });
  handleShutdownSignals({
    logger: runtime.logger,
    timeoutMs: config.shutdownTimeoutMs,
    stop: async () => {
      metricsServer.close();
      await workers.close();
      connection.disconnect();
      await runtime.close();
    },
  });
  // Only once a SIGTERM would be handled: whoever waits for this line may stop the process next.
  runtime.logger.info({ concurrency: config.worker.concurrency, metricsPort: config.worker.port, rules: rules.rules.length, rulesFile: rules.file, slack: config.slack.botToken ? 'on' : 'off (no SLACK_BOT_TOKEN)' }, 'pulsebridge worker running');
}

main().catch((error: unknown) => {
  process.stderr.write(`${startFailureLine('worker', error, 'WORKER_PORT')}\n`);
  process.exit(1);
});
