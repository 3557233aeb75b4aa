// The `bridges` key of the host config and the `--bridge <url>` flag: the schema (checked
// with the rest of the config, same error format) and the resolution of what needs the
// config file's folder or the environment (password and TLS files, the password variable).
// Secrets are never read here and never kept in the resolved config: only where to find
// them; the connection reads them when it connects.
import { accessSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { topicFilterProblem } from '../../packages/mqtt-topic/topic.ts';
import { echoPaths, overlappingInRules } from './loops.ts';
import type { BridgeRule } from './topics.ts';

export const bridgeName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'bridge names are lowercase letters, digits and dashes, starting with a letter');

/** The bridge `--bridge <url>` creates or points elsewhere. */
export const FLAG_BRIDGE = 'default';

const schemes = ['mqtt', 'mqtts', 'ws', 'wss'] as const;
export type BrokerScheme = (typeof schemes)[number];
const defaultPorts: Record<BrokerScheme, number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };

export interface BrokerAddress {
  scheme: BrokerScheme;
  host: string;
  port: number;
  /** For ws(s): the HTTP path ('/mqtt'); '' for mqtt(s). */
  path: string;
  secure: boolean;
}

/** Parses a broker URL, or returns why it is not one (the reason says what to write instead). */
export function parseBrokerUrl(url: string): BrokerAddress | string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url}" is not a URL; write mqtt://host[:port], mqtts://, ws:// or wss://`;
  }
  const scheme = u.protocol.slice(0, -1);
  if (!(schemes as readonly string[]).includes(scheme)) return `scheme "${scheme}:" is not a broker scheme; use mqtt://, mqtts://, ws:// or wss://`;
  if (!u.hostname) return `"${url}" has no host`;
  if (u.username || u.password) return 'credentials in the URL would be logged with it; remove them and use username with passwordFile or passwordEnv';
  if (u.search || u.hash) return `"${url}" has a query or fragment; a broker URL has none`;
  const s = scheme as BrokerScheme;
  const secure = s === 'mqtts' || s === 'wss';
  const path = u.pathname === '/' ? '' : u.pathname;
  if ((s === 'mqtt' || s === 'mqtts') && path) return `"${url}" has a path; only ws:// and wss:// URLs have one`;
  return { scheme: s, host: u.hostname, port: u.port ? Number(u.port) : defaultPorts[s], path, secure };
}

const prefix = z
  .string()
  .refine((p) => !p.includes('+') && !p.includes('#') && !p.includes('\u0000'), 'a prefix has no wildcards (+, #) and no U+0000')
  .refine((p) => p === '' || p.endsWith('/'), 'a prefix ends with "/" (e.g. "site/a/"), or is ""');

const rule = z
  .object({
    /** Topic filter, relative to both prefixes. */
    filter: z.string().superRefine((f, ctx) => {
      const problem = topicFilterProblem(f);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    localPrefix: prefix.default(''),
    remotePrefix: prefix.default(''),
    qos: z
      .number()
      .refine((q) => q === 0 || q === 1, 'qos is 0 or 1: a bridge delivers at least once, which QoS 1 gives; QoS 2 would add a round trip and no guarantee')
      .default(1),
  })
  .strict();

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name');
const positiveInt = z.number().int().positive();

const tls = z
  .object({
    /** PEM file of the CA(s) that sign the broker's certificate (default: Node's CA store). */
    ca: z.string().min(1).optional(),
    /** Client certificate and key (PEM files), for brokers that authenticate clients by certificate. */
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    /** Name the broker's certificate must carry (default: the URL's host). */
    servername: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().default(true),
  })
  .strict();

export const bridgeConfig = z
  .object({
    url: z.string().superRefine((url, ctx) => {
      const parsed = parseBrokerUrl(url);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
    }),
    /** Stable across restarts, so the broker keeps the session (default: edgehost-<hostname>-<name>). */
    clientId: z
      .string()
      .min(1)
      .max(256)
      .refine((id) => !id.includes('\u0000'), 'a client id has no U+0000')
      .optional(),
    username: z.string().optional(),
    /** Refused with a message: a password is never written in the config. */
    password: z.unknown().optional(),
    /** File holding the password (relative to the config file; a trailing newline is ignored). */
    passwordFile: z.string().min(1).optional(),
    /** Host environment variable holding the password. */
    passwordEnv: envName.optional(),
    tls: tls.optional(),
    /** 5 (falls back to 4 when the broker does not speak 5 and no in rule can match what out rules send) or 4. */
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
    keepaliveSeconds: z.number().int().min(0).max(65_535).default(30),
    /** MQTT 5: how long the broker keeps the session (and the messages queued for it) while the host is away. */
    sessionExpirySeconds: z.number().int().min(0).max(0xffff_ffff).default(604_800),
    reconnect: z
      .object({ initialMs: positiveInt.default(500), maxMs: positiveInt.default(30_000) })
      .strict()
      .prefault({}),
    out: z.array(rule).default([]),
    in: z.array(rule).default([]),
    delivery: z
      .object({
        /**
         * Messages taken from the queue at a time; the next batch starts when the broker
         * acknowledged all of this one, so a large batch keeps the window below full.
         */
        maxBatch: z.number().int().min(1).max(100_000).default(1000),
        /** QoS 1 publishes sent and not acknowledged yet, at most (and never more than the broker's MQTT 5 Receive Maximum). */
        maxInFlight: z.number().int().min(1).max(65_535).default(100),
        /** Messages queued for the broker beyond those in flight (on disk, in <dataDir>/queues.sqlite). */
        capacity: positiveInt.default(1_000_000),
        /** Payload bytes queued for the broker beyond those in flight: what bounds the memory the queue holds. */
        capacityBytes: positiveInt.default(64 * 1024 * 1024),
        /** Past a capacity: drop (the default, so a long outage cannot hold the host's publishers), or `block` publishers until it drains. */
        overflow: z.enum(['drop-oldest', 'drop-newest', 'block']).default('drop-oldest'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((b, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (b.password !== undefined)
      issue(['password'], 'a password is not written in the config (it would end up in backups and logs); use passwordFile or passwordEnv');
    if (b.passwordFile !== undefined && b.passwordEnv !== undefined) issue(['passwordEnv'], 'give passwordFile or passwordEnv, not both');
    if ((b.passwordFile !== undefined || b.passwordEnv !== undefined) && b.username === undefined) issue(['username'], 'a password needs a username');
    const parsed = parseBrokerUrl(b.url);
    if (b.tls && typeof parsed !== 'string' && !parsed.secure)
      issue(['tls'], `TLS options apply to mqtts:// and wss:// URLs, and the url is ${parsed.scheme}://`);
    if (b.tls && (b.tls.cert === undefined) !== (b.tls.key === undefined))
      issue(['tls', b.tls.cert ? 'key' : 'cert'], 'a client certificate needs both cert and key');
    if (b.reconnect.maxMs < b.reconnect.initialMs) issue(['reconnect', 'maxMs'], `must be >= reconnect.initialMs (${b.reconnect.initialMs})`);
    if (b.out.length === 0 && b.in.length === 0) issue(['out'], 'a bridge with no out and no in rules does nothing; add a rule, e.g. out [{ "filter": "#" }]');
    for (const [i, j] of overlappingInRules(b.in as BridgeRule[])) {
      issue(['in', j, 'filter'], `overlaps in[${i}]: a message matching both could arrive twice; merge the two rules`);
    }
    if (b.protocolVersion === 4) {
      for (const e of echoPaths(b.out as BridgeRule[], b.in as BridgeRule[])) {
        issue(
          ['in', e.in, 'filter'],
          `matches what out[${e.out}] sends, and MQTT 3.1.1 has no no-local, so this host would receive its own messages back; use protocolVersion 5, or give out rules a remotePrefix no in rule matches`,
        );
      }
    }
  });
export type BridgeConfig = z.infer<typeof bridgeConfig>;

export const bridgesConfig = z.record(bridgeName, bridgeConfig);

/** Where a password comes from; read at each connect, never kept. */
export type PasswordSource = { file: string } | { env: string };

export interface ResolvedBridge {
  name: string;
  /** As configured; it holds no credentials (they are refused in URLs). */
  url: string;
  broker: BrokerAddress;
  clientId: string;
  username?: string;
  password?: PasswordSource;
  /** For mqtts:// and wss://: absolute file paths. */
  tls?: { ca?: string; cert?: string; key?: string; servername?: string; rejectUnauthorized: boolean };
  protocolVersion: 4 | 5;
  keepaliveSeconds: number;
  sessionExpirySeconds: number;
  reconnect: { initialMs: number; maxMs: number };
  out: BridgeRule[];
  in: BridgeRule[];
  delivery: { maxBatch: number; maxInFlight: number; capacity: number; capacityBytes: number; overflow: 'drop-oldest' | 'drop-newest' | 'block' };
}

/**
 * `--bridge <url>`: points the bridge named "default" at `url`, creating it (out `#` at
 * QoS 1, nothing in) when the config has none. Returns the key path it set, so a config
 * error can name the flag.
 */
export function applyBridgeFlag(raw: Record<string, unknown>, url: string): string {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  raw.bridges ??= {};
  const path = `bridges.${FLAG_BRIDGE}.url`;
  // Something else than an object there is the config's mistake: validation names it.
  if (!isObject(raw.bridges)) return path;
  raw.bridges[FLAG_BRIDGE] ??= { out: [{ filter: '#' }] };
  const entry = raw.bridges[FLAG_BRIDGE];
  if (isObject(entry)) entry.url = url;
  return path;
}

/**
 * Resolves the validated bridges: file paths against the config file's folder (each must be
 * readable), the password variable (must be set), the default client id. Problems are
 * appended to `problems` as `<where>.<key>: <reason>`.
 */
export function resolveBridges(bridges: Record<string, BridgeConfig>, opts: { base: string; where: string; problems: string[] }): ResolvedBridge[] {
  const out: ResolvedBridge[] = [];
  for (const [name, b] of Object.entries(bridges)) {
    const where = `${opts.where}bridges.${name}`;
    const readable = (key: string, file: string): string => {
      const path = resolve(opts.base, file);
      try {
        accessSync(path, constants.R_OK);
      } catch (e) {
        opts.problems.push(`${where}.${key}: cannot read ${path} (${(e as NodeJS.ErrnoException).code}); the path is relative to the config file`);
      }
      return path;
    };
    let password: PasswordSource | undefined;
    if (b.passwordFile !== undefined) password = { file: readable('passwordFile', b.passwordFile) };
    if (b.passwordEnv !== undefined) {
      if (process.env[b.passwordEnv] === undefined) opts.problems.push(`${where}.passwordEnv: the environment variable ${b.passwordEnv} is not set`);
      password = { env: b.passwordEnv };
    }
    const tlsFiles = b.tls && {
      ...b.tls,
      ca: b.tls.ca === undefined ? undefined : readable('tls.ca', b.tls.ca),
      cert: b.tls.cert === undefined ? undefined : readable('tls.cert', b.tls.cert),
      key: b.tls.key === undefined ? undefined : readable('tls.key', b.tls.key),
    };
    out.push({
      name,
      url: b.url,
      broker: parseBrokerUrl(b.url) as BrokerAddress,
      clientId: b.clientId ?? `edgehost-${hostname()}-${name}`,
      username: b.username,
      password,
      tls: tlsFiles,
      protocolVersion: b.protocolVersion,
      keepaliveSeconds: b.keepaliveSeconds,
      sessionExpirySeconds: b.sessionExpirySeconds,
      reconnect: b.reconnect,
      out: b.out as BridgeRule[],
      in: b.in as BridgeRule[],
      delivery: b.delivery,
    });
  }
  return out;
}
