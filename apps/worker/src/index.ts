export { startWorkers, type Workers } from './worker.js';
export { reconcileOnce, resendSlackAfterRedisLoss, resendUnsentPages, startReconciler, type RedisLossWatch } from './reconciler.js';
export { processEvent } from './processors/process-event.js';
