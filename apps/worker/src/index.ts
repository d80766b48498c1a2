export { startWorkers, type Workers } from './worker.js';
export { failOrphanedRuns, reconcileOnce, resendSlackAfterRedisLoss, resendUnsentPages, startReconciler, type RedisLossWatch } from './reconciler.js';
export { processEvents, mergeTouched } from './processors/process-event.js';
export { startMetricsServer } from './metrics-server.js';
