import { z } from 'zod';
import { MAX_BUCKET_BYTES } from './store.ts';

const bucketName = z
  .string()
  .min(1, 'a bucket name, or "*" for any')
  .refine((b) => Buffer.byteLength(b) <= MAX_BUCKET_BYTES, `a bucket name is at most ${MAX_BUCKET_BYTES} bytes`);

export const keyValueGrant = z
  .object({
    /**
     * Buckets of the module's own store it may use; `"*"` allows any name.
     * Empty (the default): none, every call is `denied`. The store is the
     * module's own whatever the names: modules never share buckets.
     */
    buckets: z.array(bucketName).default([]),
  })
  .strict();
export type KeyValueGrant = z.infer<typeof keyValueGrant>;
