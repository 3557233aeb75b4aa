// Bus messages as they cross between a module's worker and the main thread:
// the topics as one list and every payload in one buffer that is transferred,
// not copied. Structured clone pays per object: a batch of 256 small messages
// cloned as 256 objects, each with its own Uint8Array, cost more on both
// threads (postMessage was a fifth of the main thread's busy time in the
// pipeline bench) than the bus's own work on them.

/** Messages packed for one postMessage. */
export interface PackedMessages {
  topics: string[];
  /** Every payload, one after another. */
  bytes: Uint8Array;
  /** Where each payload ends in `bytes`. */
  ends: Uint32Array;
  /** When the bus accepted each (deliveries only). */
  publishedAt?: Float64Array;
}

interface Unpacked {
  topic: string;
  payload: Uint8Array;
  publishedAt?: number;
}

/** `messages` packed, with the buffers to transfer (they are the packed copy's own, so transferring them takes nothing from the caller). */
export function pack(messages: readonly Unpacked[], withTimes: boolean): { args: PackedMessages; transfer: ArrayBuffer[] } {
  const n = messages.length;
  let size = 0;
  for (let i = 0; i < n; i++) size += messages[i].payload.length;
  const bytes = new Uint8Array(size);
  const ends = new Uint32Array(n);
  const topics = new Array<string>(n);
  const publishedAt = withTimes ? new Float64Array(n) : undefined;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const m = messages[i];
    bytes.set(m.payload, at);
    at += m.payload.length;
    ends[i] = at;
    topics[i] = m.topic;
    if (publishedAt) publishedAt[i] = m.publishedAt ?? 0;
  }
  const transfer = [bytes.buffer, ends.buffer];
  if (publishedAt) transfer.push(publishedAt.buffer);
  return { args: publishedAt ? { topics, bytes, ends, publishedAt } : { topics, bytes, ends }, transfer };
}

/**
 * Calls `each` with every message of `p` in order. `payload` is a view into the
 * one shared buffer: a caller that keeps it (a queue) copies it, or one retained
 * message would hold its whole batch's bytes past every byte budget.
 */
export function forEachPacked(p: PackedMessages, each: (topic: string, payload: Uint8Array, publishedAt: number, index: number) => void): void {
  let start = 0;
  for (let i = 0; i < p.topics.length; i++) {
    const end = p.ends[i];
    each(p.topics[i], p.bytes.subarray(start, end), p.publishedAt?.[i] ?? 0, i);
    start = end;
  }
}
