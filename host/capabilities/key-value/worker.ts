// edgehost:platform/key-value in the module's worker: checks each call against
// the grant and the per-call budgets before the host copies anything, then
// reads or writes the module's own SQLite file (store.ts), opened at the first
// call. The writes of a guest call are committed before what the call produced
// leaves the worker (ctx.beforeOutput), and at a clean stop.
import { join } from 'node:path';
import { hostError, ok, type WorkerHalf } from '../capability.ts';
// Types only from grant.ts: its schema (zod) stays out of the module's worker.
import type { KeyValueGrant } from './grant.ts';
import { KvStore, MAX_BUCKET_BYTES, QuotaExceeded } from './store.ts';

/** Keys (or entries) one batch call may name, and keys one list-keys page holds. */
export const MAX_BATCH = 1000;
/** Bytes of values one get-many call may return. */
export const MAX_GET_MANY_BYTES = 16 * 1024 * 1024;

type HostError = ReturnType<(typeof hostError)[keyof typeof hostError]>;

export const create: WorkerHalf<KeyValueGrant>['create'] = (ctx, grant) => {
  const anyBucket = grant.buckets.includes('*');
  const granted = new Set(grant.buckets);
  const maxKey = ctx.limits.keyValueMaxKeyBytes;
  const maxValue = ctx.limits.keyValueMaxValueBytes;
  const file = join(ctx.dataDir, 'kv', `${ctx.moduleName}.sqlite`);
  let store: KvStore | undefined;

  ctx.beforeOutput(() => store?.commit());
  ctx.onClose(() => {
    store?.close();
    store = undefined;
  });

  const open = (): KvStore => {
    store ??= new KvStore(file, ctx.limits.keyValueQuotaMb * 1024 * 1024);
    return store;
  };

  /** Why `bucket` may not be used, as the guest's error; undefined when it may. */
  const checkBucket = (bucket: string): HostError | undefined => {
    if (bucket.length === 0 || Buffer.byteLength(bucket) > MAX_BUCKET_BYTES) {
      return hostError.invalid(`a bucket name is 1 to ${MAX_BUCKET_BYTES} bytes`);
    }
    if (anyBucket || granted.has(bucket)) return undefined;
    return hostError.denied(ctx.denied(`bucket "${bucket}"`, `add "${bucket}" (or "*") to modules.${ctx.moduleName}.grants.keyValue.buckets`));
  };
  const keyProblem = (key: string): HostError | undefined =>
    // Measured without encoding it: a key can be no longer in UTF-8 than 3 bytes per UTF-16 unit.
    key.length * 3 > maxKey && Buffer.byteLength(key) > maxKey
      ? hostError.invalid(`a key of ${Buffer.byteLength(key)} bytes is longer than ${maxKey} (limits.keyValueMaxKeyBytes)`)
      : undefined;
  const valueProblem = (value: Uint8Array): HostError | undefined =>
    value.length > maxValue ? hostError.invalid(`a value of ${value.length} bytes is larger than ${maxValue} (limits.keyValueMaxValueBytes)`) : undefined;
  const tooMany = (n: number, what: string): HostError | undefined =>
    n > MAX_BATCH ? hostError.limited(`${n} ${what} in one call; at most ${MAX_BATCH}`) : undefined;

  /** Runs `work` against the store, turning the host's own failures into `failed` and the quota into `limited`. */
  const run = <T>(work: (s: KvStore) => T) => {
    try {
      return ok(work(open()));
    } catch (e) {
      if (e instanceof QuotaExceeded) return hostError.limited(e.message);
      ctx.logger.warn({ err: e, capability: 'key-value' }, `key-value: ${(e as Error).message}`);
      return hostError.failed(`key-value store: ${(e as Error).message}`);
    }
  };

  return {
    'edgehost:platform/key-value': {
      get(bucket: string, key: string) {
        return checkBucket(bucket) ?? keyProblem(key) ?? run((s) => s.get(bucket, key));
      },
      set(bucket: string, key: string, value: Uint8Array) {
        return checkBucket(bucket) ?? keyProblem(key) ?? valueProblem(value) ?? run((s) => s.setMany(bucket, [[key, value]]));
      },
      delete(bucket: string, key: string) {
        return checkBucket(bucket) ?? keyProblem(key) ?? run((s) => s.deleteMany(bucket, [key]));
      },
      exists(bucket: string, key: string) {
        return checkBucket(bucket) ?? keyProblem(key) ?? run((s) => s.exists(bucket, key));
      },
      listKeys(bucket: string, cursor: string | undefined | null) {
        const after = cursor ?? undefined;
        return (
          checkBucket(bucket) ??
          (after === undefined ? undefined : keyProblem(after)) ??
          run((s) => {
            const { keys, more } = s.listKeys(bucket, after, MAX_BATCH);
            return { keys, cursor: more ? keys[keys.length - 1] : undefined };
          })
        );
      },
      getMany(bucket: string, keys: string[]) {
        const refused = checkBucket(bucket) ?? tooMany(keys.length, 'keys');
        if (refused) return refused;
        for (const key of keys) {
          const problem = keyProblem(key);
          if (problem) return problem;
        }
        const result = run((s) => s.getMany(bucket, keys, MAX_GET_MANY_BYTES));
        if (result.tag === 'ok' && result.val === undefined) {
          return hostError.limited(`the values of these ${keys.length} keys are more than ${MAX_GET_MANY_BYTES} bytes together; ask for fewer keys`);
        }
        return result;
      },
      setMany(bucket: string, entries: [string, Uint8Array][]) {
        const refused = checkBucket(bucket) ?? tooMany(entries.length, 'entries');
        if (refused) return refused;
        for (const [key, value] of entries) {
          const problem = keyProblem(key) ?? valueProblem(value);
          if (problem) return problem;
        }
        return run((s) => s.setMany(bucket, entries));
      },
      deleteMany(bucket: string, keys: string[]) {
        const refused = checkBucket(bucket) ?? tooMany(keys.length, 'keys');
        if (refused) return refused;
        for (const key of keys) {
          const problem = keyProblem(key);
          if (problem) return problem;
        }
        return run((s) => s.deleteMany(bucket, keys));
      },
    },
  };
};
