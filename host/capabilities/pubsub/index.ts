import { z } from 'zod';
import { filterCovers, topicFilterProblem } from '../../../packages/mqtt-topic/topic.ts';
import { defineCapability } from '../capability.ts';
import { type PubsubGrant, pubsubGrant } from './grant.ts';
import type { PubsubOps } from './ops.ts';

export { type PubsubGrant, pubsubGrant } from './grant.ts';
export type { PubsubOps } from './ops.ts';
export type { PackedMessages } from './packed.ts';

export const pubsub = defineCapability<PubsubGrant, PubsubOps>({
  name: 'pubsub',
  interfaces: ['edgehost:platform/pubsub'],
  handlerExport: 'edgehost:platform/message-handler',
  grantKey: 'pubsub',
  grant: pubsubGrant,
  limits: {
    /** Largest payload the module may publish. */
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    /** Publishes per second (a burst of one second's worth is allowed); 0 = no limit. */
    publishPerSecond: z.number().int().min(0).default(100_000),
    /** Filters the module may hold on the bus at once (declared ones included); past it, subscribe returns `limited`. */
    maxSubscriptions: z.number().int().positive().default(1000),
    /** Bytes of all those filters together. */
    maxSubscriptionBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024),
  },
  check(module, grant) {
    const subscriptions = (module.entry.subscriptions as string[] | undefined) ?? [];
    const problems: string[] = [];
    subscriptions.forEach((f, i) => {
      const problem = topicFilterProblem(f);
      if (problem) problems.push(`subscriptions[${i}]: ${problem}`);
      else if (!grant.subscribe.some((g) => filterCovers(g, f))) {
        problems.push(`subscriptions[${i}]: "${f}" is not covered by grants.pubsub.subscribe; add it there`);
      }
    });
    return problems;
  },
  worker: new URL('./worker.ts', import.meta.url).href,
  loadService: () => import('./service.ts'),
});
