export { startWorkers, type Workers } from './worker.js';
export { reconcileOnce, startReconciler } from './reconciler.js';
export { processEvent, skipReason } from './processors/process-event.js';
