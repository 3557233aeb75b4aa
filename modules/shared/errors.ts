// Readable text for errors in guests. Pure (no WIT imports), so code that also runs in Node tests
// (modules/server/src/server.ts) uses it too; guest.ts re-exports it.
//
// A WIT import whose result is `result<_, E>` throws an Error when it returns `err`: its
// `payload` is the E value, for edgehost's errors a variant `{ tag, val? }` (`val` is absent for a
// case without payload), and its message is "[object Object] (see error.payload)".

/** A value as text: strings as they are, others as JSON (or String() when JSON cannot show them). */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined) return 'undefined';
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s;
  } catch {
    return String(v);
  }
}

/** The error variant a WIT import put on the Error it threw (`{tag, val}`), if any. */
export function errorPayload(e: unknown): { tag: string; val?: unknown } | undefined {
  const p = e !== null && typeof e === 'object' ? (e as { payload?: unknown }).payload : undefined;
  if (p !== null && typeof p === 'object' && typeof (p as { tag?: unknown }).tag === 'string') {
    return p as { tag: string; val?: unknown };
  }
  return undefined;
}

/** `tag: val` (or `tag`) for an error thrown by a WIT import; the message for any other error. */
export function describeError(e: unknown): string {
  const p = errorPayload(e);
  if (p) return p.val === undefined ? p.tag : `${p.tag}: ${showValue(p.val)}`;
  if (e instanceof Error) return e.message || e.name;
  return showValue(e);
}
