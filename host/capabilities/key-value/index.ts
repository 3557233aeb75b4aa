import { z } from 'zod';
import { defineCapability } from '../capability.ts';
import { type KeyValueGrant, keyValueGrant } from './grant.ts';

export { type KeyValueGrant, keyValueGrant } from './grant.ts';

/**
 * A key-value store per module (`wit/key-value.wit`), modelled on
 * wasi:keyvalue/store and batch: named buckets, granted per module, in one
 * SQLite file per module under the data directory, with a quota. It runs in
 * the module's worker only (a synchronous SQLite call blocks only that
 * module's thread); a call's writes are committed before what the call sent
 * leaves the worker (WorkerContext.beforeOutput).
 */
export const keyValue = defineCapability<KeyValueGrant>({
  name: 'key-value',
  interfaces: ['edgehost:platform/key-value'],
  grantKey: 'keyValue',
  grant: keyValueGrant,
  // Every reference world imports it and componentize keeps every world import,
  // so a module that never stores anything imports it too; refused, its calls
  // answer `denied` and the module keeps running.
  linkWithoutGrant: true,
  limits: {
    /** Bytes the module's store may hold: per entry its bucket name, key and value bytes, plus 64 for the row. Past it, writes get `limited`. */
    keyValueQuotaMb: z.number().int().positive().default(64),
    /** Longest key, in UTF-8 bytes; a longer one gets `invalid`. */
    keyValueMaxKeyBytes: z.number().int().positive().max(65_536).default(1024),
    /** Largest value; a larger one gets `invalid`, before the host copies it. */
    keyValueMaxValueBytes: z
      .number()
      .int()
      .positive()
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
  },
  errors: {
    EH_COMMIT_FAILED: 'the writes of a call could not be committed; nothing the call produced was sent, and the module was restarted',
  },
  worker: new URL('./worker.ts', import.meta.url).href,
});
