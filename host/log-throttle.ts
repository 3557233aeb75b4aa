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
