/**
 * Runs `task` every `intervalMs` (first run after one interval), never two runs at once: a tick
 * that finds the previous run still going is skipped. A failing run is reported to `onError` and
 * the next tick tries again. `stop()` clears the timer and waits for a run in progress, so a
 * service can close its pool after it. The timer does not keep the process alive.
 */
export function runPeriodically(intervalMs: number, task: () => Promise<unknown>, onError: (err: Error) => void): { stop: () => Promise<void> } {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .then(
        () => undefined,
        (err: Error) => onError(err),
      )
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
