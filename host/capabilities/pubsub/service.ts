// The module's end of the bus: its subscriber (queue, filters, delivery loop)
// lives here on the main thread and outlives the module's instances, so
// messages queue while the module restarts, sleeps or is replaced.
import type { BusMessage, SubscriberOptions } from '../../bus/bus.ts';
import { throttledLog } from '../../log-throttle.ts';
import type { ServiceHalf } from '../capability.ts';
import type { PubsubGrant } from './grant.ts';
import type { PubsubOps } from './ops.ts';
import { forEachPacked, pack } from './packed.ts';

export const bind: ServiceHalf<PubsubGrant, PubsubOps>['bind'] = (host, module) => {
  const entry = () => module.entry as { delivery: SubscriberOptions; subscriptions: string[] };
  const subscriber = host.bus.addSubscriber(module.name, entry().delivery, async (batch: BusMessage[]) => {
    // Waits for the instance to be ready, waking a module in idle sleep.
    const worker = module.readyWorker() ?? (await module.worker());
    try {
      const packed = pack(batch, true);
      await worker.request('deliver', packed.args, packed.transfer);
    } catch (e) {
      const reason = (e as Error).message;
      module.logger.warn(
        { messages: batch.length, reason },
        `module ${module.name} did not handle a batch of ${batch.length} messages (${reason}); it will be retried, or dead-lettered after delivery.maxAttempts`,
      );
      throw e;
    }
  });
  for (const filter of entry().subscriptions) subscriber.subscribe(filter);
  const overBudget = throttledLog(1000, (suppressed) =>
    module.logger.warn(
      { code: 'EH_LIMIT', limit: 'limits.maxSubscriptions', refusedSinceLastWarning: suppressed },
      `module ${module.name} is at its subscription budget (limits.maxSubscriptions ${module.limits.maxSubscriptions}, limits.maxSubscriptionBytes ${module.limits.maxSubscriptionBytes}); new filters are refused`,
    ),
  );
  // Nothing is delivered until an instance is ready.
  subscriber.pause();

  // Queues that block when full hold back every module publishing to them: each
  // worker is told the room a queue has left and its filters, counts its own
  // publishes down from it, and refuses with `full` when it runs out.
  const filtersOf = (id: string) => host.bus.subscriber(id)?.stats().filters ?? [];
  const stopWatching = host.bus.watchRoom((subscriber, room) => {
    module.readyWorker()?.notify('room', room ? { subscriber, filters: filtersOf(subscriber), ...room } : { subscriber });
  });

  return {
    handlers: {
      publish(packed) {
        forEachPacked(packed, (topic, view) => {
          try {
            // A copy of its own: queues keep it, and a view would keep the whole batch's buffer.
            host.bus.publish(topic, view.slice(), module.name);
          } catch (e) {
            // The worker checked the topic; what fails here is a durable queue refusing the write.
            module.logger.error(
              { err: e, topic },
              `a message module ${module.name} published to ${topic} could not be queued everywhere: ${(e as Error).message}`,
            );
          }
        });
      },
      subscribe: (filter) => {
        const held = subscriber.stats().filters;
        if (held.includes(filter)) return;
        const bytes = held.reduce((n, f) => n + f.length, 0);
        if (held.length >= module.limits.maxSubscriptions || bytes + filter.length > module.limits.maxSubscriptionBytes) {
          overBudget();
          return;
        }
        subscriber.subscribe(filter);
      },
      unsubscribe: (filter) => {
        subscriber.unsubscribe(filter);
      },
    },
    instanceReady: () => {
      // A new instance starts knowing the room of every queue that blocks.
      const worker = module.readyWorker();
      for (const { id, filters, room } of host.bus.rooms()) worker?.notify('room', { subscriber: id, filters, ...room });
      subscriber.resume();
    },
    // A crashed instance waits out its restart; a sleeping one is woken by the next delivery.
    instanceEnded: (_n, why) => {
      if (why !== 'sleep') subscriber.pause();
    },
    stopIntake: () => subscriber.pause(),
    drain: () => {
      // No new messages; the ones queued are still delivered.
      for (const filter of subscriber.stats().filters) subscriber.unsubscribe(filter);
      return subscriber.idle();
    },
    update(_grant, next) {
      const { delivery, subscriptions } = next as { delivery: SubscriberOptions; subscriptions: string[] };
      host.bus.reconfigure(module.name, delivery);
      for (const filter of subscriptions) subscriber.subscribe(filter);
    },
    held: () => {
      const q = subscriber.stats();
      return { queuedBytes: q.queuedBytes };
    },
    close: () => {
      stopWatching();
      // A durable queue's rows stay in the store, for a later module of the same name.
      host.bus.removeSubscriber(module.name);
    },
  };
};
