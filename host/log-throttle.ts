/**
 * Logs the first event of a burst at once and then at most one summary per
 * `intervalMs` while the burst lasts, so a module that hits a limit thousands
 * of times a second costs a few log lines, not thousands.
 */
export function throttledLog(intervalMs: number, write: (suppressed: number) => void): () => void {
  let lastWrite = -Infinity;
  let suppressed = 0;
  return () => {
    const now = performance.now();
    if (now - lastWrite >= intervalMs) {
      write(suppressed);
      lastWrite = now;
      suppressed = 0;
    } else {
      suppressed++;
    }
  };
}

/**
 * Writes lines within a budget (`allow` says whether one more line may go now);
 * the lines it refuses are counted, and the count is written at most once a
 * second by `summary`, so even the count cannot flood the log.
 */
export function budgetedLines(allow: () => boolean, summary: (suppressed: number) => void): (write: () => void) => void {
  let suppressed = 0;
  let lastSummary = Number.NEGATIVE_INFINITY;
  return (write) => {
    if (!allow()) {
      suppressed++;
      return;
    }
    if (suppressed > 0 && performance.now() - lastSummary >= 1000) {
      summary(suppressed);
      suppressed = 0;
      lastSummary = performance.now();
    }
    write();
  };
}
