/**
 * Runs `pass` every `intervalMs`, one at a time (a pass still running when the next is due is
 * not overlapped: that one is skipped), until `stop`, which waits for the pass in progress. A pass
 * that fails is reported to `onError` and the next runs as usual. The timer never keeps the
 * process alive.
 */
export function repeatEvery(intervalMs: number, pass: () => Promise<unknown>, onError: (err: unknown) => void): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = pass()
      .catch(onError)
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
