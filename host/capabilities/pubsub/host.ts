import { filterCovers, topicFilterProblem, topicMatches, topicNameProblem } from '../../../packages/mqtt-topic/topic.ts';
import type { WireMessage } from '../../sandbox/protocol.ts';
import { hostError, type ModuleContext } from '../capability.ts';
import type { PubsubGrant } from './index.ts';

const HANDLER = 'edgehost:platform/message-handler';

export function create(ctx: ModuleContext, grant: PubsubGrant) {
  const grantKey = (list: 'publish' | 'subscribe') => `modules.${ctx.moduleName}.grants.pubsub.${list}`;
  // Publishes leave the worker in one postMessage per guest call: crossing the
  // thread boundary per message would cost more than the guest's own work, and
  // flushing when the call returns (not later) means a delivery is acknowledged
  // only after what its handler published is on its way, ahead of the ack.
  let outbox: { topic: string; payload: Uint8Array }[] = [];
  let lastSeq = 0;
  const flush = () => {
    const messages = outbox;
    outbox = [];
    if (messages.length > 0) ctx.post({ t: 'publish', messages, seq: lastSeq });
  };

  ctx.on('deliver', ({ id, messages }) => {
    const batch = messages.map((m: WireMessage) => ({ topic: m.topic, payload: m.payload, publishedAt: BigInt(m.publishedAt) }));
    ctx.callGuest(HANDLER, 'handle', [batch]).then(
      () => ctx.post({ t: 'delivered', id }),
      (e: unknown) => ctx.post({ t: 'delivered', id, error: describe(e) }),
    );
  });
  ctx.afterCall(flush);
  ctx.onClose(flush);

  return {
    publish(topic: string, payload: Uint8Array) {
      const problem = topicNameProblem(topic);
      if (problem) return hostError.invalid(problem);
      if (!grant.publish.some((f) => topicMatches(f, topic))) {
        return hostError.denied(ctx.denied('pubsub', `publish to ${topic}`, `add "${topic}" (or a filter matching it) to ${grantKey('publish')}`));
      }
      if (payload.length > ctx.limits.maxMessageBytes) {
        return hostError.invalid(`payload of ${payload.length} bytes exceeds the module's limit of ${ctx.limits.maxMessageBytes} (limits.maxMessageBytes)`);
      }
      if (!ctx.allow('publish')) return hostError.limited(`publish rate limit of ${ctx.limits.publishPerSecond}/s reached (limits.publishPerSecond)`);
      outbox.push({ topic, payload });
      lastSeq = ctx.publishAccepted();
      return { tag: 'ok', val: undefined };
    },
    subscribe(filter: string) {
      const problem = topicFilterProblem(filter);
      if (problem) return hostError.invalid(problem);
      if (!grant.subscribe.some((g) => filterCovers(g, filter))) {
        return hostError.denied(ctx.denied('pubsub', `subscribe to ${filter}`, `add "${filter}" (or a filter covering it) to ${grantKey('subscribe')}`));
      }
      // Publishes queued before this call must reach the bus first, to keep order.
      flush();
      ctx.post({ t: 'subscribe', filter });
      return { tag: 'ok', val: undefined };
    },
    unsubscribe(filter: string) {
      const problem = topicFilterProblem(filter);
      if (problem) return hostError.invalid(problem);
      flush();
      ctx.post({ t: 'unsubscribe', filter });
      return { tag: 'ok', val: undefined };
    },
  };
}

function describe(e: unknown): string {
  if (e && typeof e === 'object' && 'payload' in e) return String((e as { payload: unknown }).payload);
  return e instanceof Error ? e.message : String(e);
}
