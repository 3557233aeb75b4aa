import { z } from 'zod';
import { topicFilterProblem } from '../../../packages/mqtt-topic/topic.ts';

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
