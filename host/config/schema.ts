import { z } from 'zod';
import { parseAdminAddress } from '../admin/address.ts';
import { bridgesConfig } from '../bridge/config.ts';
import { capabilities } from '../capabilities/index.ts';
import { logFormats, logLevels } from '../logger.ts';

const positiveInt = z.number().int().positive();

/** Limits of the module's sandbox itself; capabilities add their own keys (see `capabilities[].limits`). */
const coreLimits = {
  /** A call into the module running longer than this (not counting host I/O it waits on) terminates the module. */
  callDeadlineMs: positiveInt.default(5000),
  /** Heap of the module's worker thread (JS glue, not the guest's linear memory). */
  workerHeapMb: positiveInt.default(64),
  /** The guest's linear memory; past it, the module is restarted. */
  maxMemoryMb: positiveInt.default(128),
};

const limitsShape: z.ZodRawShape = { ...coreLimits };
for (const c of capabilities) Object.assign(limitsShape, c.limits ?? {});
export const moduleLimits = z.object(limitsShape).strict();
/** Every limit by key: the sandbox's and every capability's. */
export type ModuleLimits = z.infer<typeof moduleLimits> & z.infer<z.ZodObject<typeof coreLimits>> & Record<string, number>;

export const deliveryOptions = z
  .object({
    /** Most messages per handler call. */
    maxBatch: z.number().int().min(1).max(10_000).default(256),
    /** Wait up to this long for a batch to fill; 0 delivers at once. */
    lingerMs: z.number().int().min(0).max(60_000).default(0),
    /** Messages queued for the module beyond the one batch in flight. */
    capacity: positiveInt.default(100_000),
    /** Payload bytes queued for the module beyond the batch in flight (the memory a queue may hold); past either bound, `overflow` applies. */
    capacityBytes: positiveInt.default(64 * 1024 * 1024),
    /**
     * What a full queue does: drop its oldest or the newest message (counted and
     * logged), or `block`: keep every message and hold back the modules that
     * publish to it (their `publish` to its topics answers `full`) until it drains.
     * Default: `block` for a durable queue, which must not lose what was
     * acknowledged; `drop-oldest` for an in-memory one.
     */
    overflow: z.enum(['drop-oldest', 'drop-newest', 'block']).optional(),
    /** Don't deliver the module's own publishes back to it (for bridges). */
    noLocal: z.boolean().default(false),
    /**
     * After this many failed attempts a message goes to the dead-letter topic
     * (deadletter/<module>); 0 = retry forever. A failed batch is retried one
     * message at a time, so only the message that fails is counted.
     */
    maxAttempts: z.number().int().min(0).default(5),
    /** A message older than this when it fails goes to the dead-letter topic; 0 = no limit. */
    ttlMs: z.number().int().min(0).default(0),
    /** Keep the queue on disk (<dataDir>/queues.sqlite): it survives a host crash. */
    durable: z.boolean().default(false),
    /** Backoff after the handler fails a batch: starts here, doubles, capped. */
    retryInitialMs: positiveInt.default(100),
    retryMaxMs: positiveInt.default(10_000),
  })
  .strict()
  .transform((d) => ({ ...d, overflow: d.overflow ?? (d.durable ? ('block' as const) : ('drop-oldest' as const)) }));
export type DeliveryOptions = z.infer<typeof deliveryOptions>;

export const restartPolicy = z
  .object({
    initialBackoffMs: positiveInt.default(200),
    maxBackoffMs: positiveInt.default(30_000),
    /** More crashes than this within `windowMs` marks the module failed: it is not restarted again. */
    maxCrashes: positiveInt.default(10),
    windowMs: positiveInt.default(60_000),
    /**
     * Starts in a row that fail before the module is ready (init returned an
     * error, or trapped) after which it is marked failed: such failures are
     * nearly always a bad config or a bug, which retrying does not fix.
     */
    maxStartFailures: positiveInt.default(3),
  })
  .strict();
export type RestartPolicy = z.infer<typeof restartPolicy>;

/** Grants: one key per capability that has one (from the capability list), plus the WASI environment. */
const grantShape: Record<string, z.ZodType> = {
  /** Names of host environment variables the module may read through wasi:cli/environment. */
  environment: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name')).default([]),
};
for (const c of capabilities) if (c.grantKey) grantShape[c.grantKey] = c.grant.prefault({});
export const grants = z.object(grantShape).strict();

export const moduleName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'module names are lowercase letters, digits and dashes, starting with a letter');

export const moduleConfig = z
  .object({
    /** Path of the component (.wasm), relative to the config file. */
    component: z.string().min(1),
    /**
     * World the component must target: a platform world (telemetry, gateway, server,
     * http-service), a world in `wit`, or a standard WASI world by its qualified name
     * ("wasi:http/proxy"), for components built for any host.
     */
    world: z
      .string()
      .regex(
        /^(?:[a-z][a-z0-9-]*|wasi:[a-z][a-z0-9-]*\/[a-z][a-z0-9-]*(?:@\d+\.\d+\.\d+[0-9A-Za-z.+-]*)?)$/,
        'a world name (lowercase letters, digits and dashes), or a WASI world such as wasi:http/proxy',
      ),
    /** Folder of the WIT package that defines `world`, relative to the config file; default: the host's wit/. */
    wit: z.string().optional(),
    enabled: z.boolean().default(true),
    grants: grants.prefault({}),
    /**
     * Filters the host subscribes the module to before it starts, so messages
     * published while it starts (or restarts) queue for it instead of passing it by.
     * Each must be covered by grants.pubsub.subscribe.
     */
    subscriptions: z.array(z.string()).default([]),
    /** The module's own settings, read by the guest through edgehost:platform/config. */
    config: z.record(z.string(), z.unknown()).default({}),
    limits: moduleLimits.prefault({}),
    delivery: deliveryOptions.prefault({}),
    restart: restartPolicy.prefault({}),
    /**
     * Idle sleep: after `afterMs` with nothing to do (no call, no message, no
     * connection open), the module's instance is stopped and its worker freed; its
     * queue, subscriptions, listeners and timers stay, and the next message,
     * connection or timer wakes it (init runs again). Absent: it never sleeps.
     */
    idle: z.object({ afterMs: positiveInt }).strict().optional(),
  })
  .strict();
export type ModuleConfig = Omit<z.infer<typeof moduleConfig>, 'limits'> & { limits: ModuleLimits };

/** Run-once (POST /v1/run, `edgehost run`): how many at once, how many wait, and the limits a request may ask for. */
export const runOnceOptions = z
  .object({
    /** Runs at the same time; each has its own worker thread. */
    concurrency: positiveInt.max(64).default(4),
    /** Runs waiting for a slot; past it a request gets 429 with Retry-After. */
    queue: z.number().int().min(0).max(1000).default(16),
    /** Wall-clock deadline of a run when the request gives none, and the most it may ask for. */
    defaultDeadlineMs: positiveInt.default(10_000),
    maxDeadlineMs: positiveInt.default(60_000),
    /** Linear memory of a run when the request gives none, and the most it may ask for. */
    defaultMemoryMb: positiveInt.default(64),
    maxMemoryMb: positiveInt.default(512),
    /** stdout and stderr are each cut at this many bytes (with a marker) unless the request asks for less, or more up to maxOutputBytes. */
    defaultOutputBytes: positiveInt.default(1024 * 1024),
    maxOutputBytes: positiveInt.default(16 * 1024 * 1024),
  })
  .strict();

/** The admin API (HTTP): deploy, replace and remove modules, and run components once. */
export const adminOptions = z
  .object({
    /** ip:port to listen on (port 0 picks a free one), or "off". A non-loopback address needs tokenFile. */
    address: z
      .string()
      .default('127.0.0.1:9090')
      .superRefine((value, ctx) => {
        try {
          parseAdminAddress(value);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      }),
    /** File holding the bearer token; without it one is generated into <dataDir>/admin-token. */
    tokenFile: z.string().optional(),
    /** Largest component upload accepted. */
    maxUploadMb: positiveInt.max(1024).default(64),
    /** Open connections at once; more are refused. */
    maxConnections: positiveInt.max(10_000).default(128),
    run: runOnceOptions.prefault({}),
  })
  .strict();
export type AdminOptions = z.infer<typeof adminOptions>;
export type RunOnceOptions = z.infer<typeof runOnceOptions>;

export const hostConfig = z
  .object({
    $schema: z.string().optional(),
    logLevel: z.enum(logLevels).default('info'),
    /** pretty or json; without it, pretty when stdout is a terminal and json otherwise (also --log-format). */
    logFormat: z.enum(logFormats).optional(),
    /** Where durable state lives, relative to the working directory. */
    dataDir: z.string().default('data'),
    /** Transpiled components, by content hash, relative to the working directory. */
    cacheDir: z.string().default('.cache/transpile'),
    /** How long SIGINT/SIGTERM waits for modules to finish their current call. */
    shutdownTimeoutMs: positiveInt.default(5000),
    /** Log every message between the main thread and the modules' workers (also --trace-protocol). */
    traceProtocol: z.boolean().default(false),
    /** Count what the modules do for GET /metrics (the modules' workers count, and send it once a second). */
    metrics: z.boolean().default(true),
    /** What all modules together may make the host hold. */
    budgets: z
      .object({
        /** Bytes received on all modules' sockets and not yet handled by their modules; past it, every connection stops reading until they catch up. */
        socketInputBytes: positiveInt.default(32 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    admin: adminOptions.prefault({}),
    modules: z.record(moduleName, moduleConfig),
    /** Connections of the bus to external MQTT brokers, by name (see host/bridge/). */
    bridges: bridgesConfig.default({}),
  })
  .strict();
export type HostConfig = Omit<z.infer<typeof hostConfig>, 'modules'> & { modules: Record<string, ModuleConfig> };
