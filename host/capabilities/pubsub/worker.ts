import { filterCovers, topicFilterProblem, topicMatches, topicNameProblem } from '../../../packages/mqtt-topic/topic.ts';
import { hostError, ok, type WorkerHalf } from '../capability.ts';
import type { PubsubGrant } from './grant.ts';
import type { PubsubOps } from './ops.ts';
import { forEachPacked, pack } from './packed.ts';

const HANDLER = 'edgehost:platform/message-handler';
const packPublishes = (items: { topic: string; payload: Uint8Array }[]) => pack(items, false);

export const create: WorkerHalf<PubsubGrant, PubsubOps>['create'] = (ctx, grant) => {
  const grantKey = (list: 'publish' | 'subscribe') => `modules.${ctx.moduleName}.grants.pubsub.${list}`;
  const maxMessageBytes = ctx.limits.maxMessageBytes;
  // This instance's own subscriptions, to answer `limited` at once; the service
  // holds the module's whole set (declared, and earlier instances') to the same budget.
  const filters = new Set<string>();
  let filterBytes = 0;

  /**
   * Queues that block when full (another module's, or this one's own), with
   * the room the host last reported: this worker's publishes count down from
   * it, and one that would not fit is refused. Fresh reports replace the count.
   */
  const rooms = new Map<string, { filters: string[]; bytes: number; messages: number }>();
  /** The queue `topic` would not fit in, or else takes its room in all it goes to. */
  const take = (topic: string, size: number): string | undefined => {
    const into: { bytes: number; messages: number }[] = [];
    for (const [subscriber, room] of rooms) {
      if (!room.filters.some((f) => topicMatches(f, topic))) continue;
      if (room.bytes < size || room.messages < 1) return subscriber;
      into.push(room);
    }
    for (const room of into) {
      room.bytes -= size;
      room.messages -= 1;
    }
    return undefined;
  };

  ctx.handle({
    room: ({ subscriber, filters, bytes, messages }) => {
      if (filters && filters.length > 0) rooms.set(subscriber, { filters, bytes: bytes ?? 0, messages: messages ?? 0 });
      else rooms.delete(subscriber);
    },
    deliver: (packed) => {
      // The payloads stay views into the packed buffer: the call copies them into the guest.
      const batch: { topic: string; payload: Uint8Array; publishedAt: bigint }[] = [];
      forEachPacked(packed, (topic, payload, publishedAt) => batch.push({ topic, payload, publishedAt: BigInt(publishedAt) }));
      return ctx.callGuest(HANDLER, 'handle', [batch]).then(() => undefined);
    },
  });

  const publish = (topic: string, payload: Uint8Array) => {
    const problem = topicNameProblem(topic);
    if (problem) return hostError.invalid(problem);
    if (!grant.publish.some((f) => topicMatches(f, topic))) {
      return hostError.denied(ctx.denied(`publish to ${topic}`, `add "${topic}" (or a filter matching it) to ${grantKey('publish')}`));
    }
    if (payload.length > maxMessageBytes) {
      return hostError.invalid(`payload of ${payload.length} bytes exceeds the module's limit of ${maxMessageBytes} (limits.maxMessageBytes)`);
    }
    if (!ctx.allow('publishPerSecond')) return hostError.limited(`publish rate limit of ${ctx.limits.publishPerSecond}/s reached (limits.publishPerSecond)`);
    // Checked last: the cheap refusals first, and only when some queue blocks at all.
    const full = rooms.size > 0 ? take(topic, payload.length) : undefined;
    if (full !== undefined) return hostError.full(`the queue of ${full} is full; nothing was published: try again once it drains`);
    // Publishes of one call cross as one op, in order with everything else the module sends.
    ctx.service.append('publish', { topic, payload }, packPublishes);
    return ok(undefined);
  };

  /** `publish` for each message in order, stopping at the first refusal (WIT `publish-batch`). */
  const publishBatch = (messages: { topic: string; payload: Uint8Array }[]) => {
    for (let i = 0; i < messages.length; i++) {
      const r = publish(messages[i].topic, messages[i].payload);
      if (r.tag === 'err') return { tag: 'err' as const, val: { published: i, error: r.val } };
    }
    return ok(undefined);
  };

  return {
    'edgehost:platform/pubsub': {
      publish,
      publishBatch,
      subscribe(filter: string) {
        const problem = topicFilterProblem(filter);
        if (problem) return hostError.invalid(problem);
        if (!grant.subscribe.some((g) => filterCovers(g, filter))) {
          return hostError.denied(ctx.denied(`subscribe to ${filter}`, `add "${filter}" (or a filter covering it) to ${grantKey('subscribe')}`));
        }
        if (!filters.has(filter)) {
          if (filters.size >= ctx.limits.maxSubscriptions || filterBytes + filter.length > ctx.limits.maxSubscriptionBytes) {
            return hostError.limited(
              `the module holds ${filters.size} subscriptions of ${filterBytes} bytes; limits.maxSubscriptions is ${ctx.limits.maxSubscriptions} and limits.maxSubscriptionBytes ${ctx.limits.maxSubscriptionBytes}`,
            );
          }
          filters.add(filter);
          filterBytes += filter.length;
        }
        ctx.service.notify('subscribe', filter);
        return ok(undefined);
      },
      unsubscribe(filter: string) {
        const problem = topicFilterProblem(filter);
        if (problem) return hostError.invalid(problem);
        if (filters.delete(filter)) filterBytes -= filter.length;
        ctx.service.notify('unsubscribe', filter);
        return ok(undefined);
      },
    },
  };
};
