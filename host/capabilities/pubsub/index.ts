import { z } from 'zod';
import { filterCovers, topicFilterProblem } from '../../../packages/mqtt-topic/topic.ts';
import { defineCapability, type Op } from '../capability.ts';

const filter = z.string().superRefine((s, ctx) => {
  const problem = topicFilterProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const pubsubGrant = z
  .object({
    /** Filters of the topics the module may publish to. */
    publish: z.array(filter).default([]),
    /** Filters the module may subscribe to (or narrower ones). */
    subscribe: z.array(filter).default([]),
  })
  .strict();
export type PubsubGrant = z.infer<typeof pubsubGrant>;

/** A bus message as it crosses the thread boundary. */
export interface WireMessage {
  topic: string;
  payload: Uint8Array;
  publishedAt: number;
}

export interface PubsubOps {
  toService: {
    /** Publishes the guest made, in order (accepted: grant, size and rate were checked in the worker). */
    publish: Op<{ topic: string; payload: Uint8Array }[]>;
    subscribe: Op<string>;
    unsubscribe: Op<string>;
  };
  toWorker: {
    /** Runs the message handler on a batch; resolves when it returned ok, rejects with its error. */
    deliver: Op<WireMessage[]>;
  };
}

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
