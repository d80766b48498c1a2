export { startWorkers, type Workers } from './worker.js';
export { reconcileOnce, startReconciler } from './reconciler.js';
export { processEvent } from './processors/process-event.js';
