// The guest as the host runs it: index.ts bundled and componentized for world `server`
// (QuickJS), then driven through its WIT exports with fake host imports. Proves the
// wiring that the core's unit tests cannot: config lookups, host errors, event shapes.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { transpile } from '@bytecodealliance/jco';
import * as shim from '@bytecodealliance/preview2-shim';
import { build } from 'esbuild';
import type { Packet } from '../../../modules/server/src/codec/packets.ts';
import { PacketParser } from '../../../modules/server/src/codec/parser.ts';
import { serialize } from '../../../modules/server/src/codec/serializer.ts';
import { dec, enc } from './harness.ts';

const root = new URL('../../../', import.meta.url).pathname;
// biome-ignore lint/suspicious/noExplicitAny: the guest's exports are called as the WIT describes them, untyped here.
type Instantiate = (getCore: (name: string) => Promise<WebAssembly.Module>, imports: Record<string, unknown>) => Promise<Record<string, any>>;
let instantiate: Instantiate;
let outDir: string;

/** The host's key-value store as a map of `bucket\0key`; only `granted` buckets answer. */
class FakeKeyValue {
  readonly entries = new Map<string, Uint8Array>();
  readonly granted: Set<string>;
  constructor(granted = ['sessions', 'retained']) {
    this.granted = new Set(granted);
  }
  keys(bucket: string): string[] {
    return [...this.entries.keys()]
      .filter((k) => k.startsWith(`${bucket}\0`))
      .map((k) => k.slice(bucket.length + 1))
      .sort();
  }
  imports() {
    const err = (tag: string, val: string) => ({ tag: 'err', val: { tag, val } });
    const ok = (val?: unknown) => ({ tag: 'ok', val });
    const k = (bucket: string, key: string) => `${bucket}\0${key}`;
    const check = (bucket: string) => (this.granted.has(bucket) ? undefined : err('denied', `bucket "${bucket}"`));
    return {
      get: (b: string, key: string) => check(b) ?? ok(this.entries.get(k(b, key))),
      set: (b: string, key: string, v: Uint8Array) => check(b) ?? ok(void this.entries.set(k(b, key), v.slice())),
      delete: (b: string, key: string) => check(b) ?? ok(void this.entries.delete(k(b, key))),
      exists: (b: string, key: string) => check(b) ?? ok(this.entries.has(k(b, key))),
      listKeys: (b: string, cursor: string | undefined) =>
        check(b) ?? ok({ keys: this.keys(b).filter((x) => cursor === undefined || x > cursor), cursor: undefined }),
      getMany: (b: string, keys: string[]) => check(b) ?? ok(keys.map((key) => this.entries.get(k(b, key)))),
      setMany: (b: string, entries: [string, Uint8Array][]) => {
        if (!this.granted.has(b)) return check(b);
        for (const [key, v] of entries) this.entries.set(k(b, key), v.slice());
        return ok();
      },
      deleteMany: (b: string, keys: string[]) => {
        if (!this.granted.has(b)) return check(b);
        for (const key of keys) this.entries.delete(k(b, key));
        return ok();
      },
    };
  }
}

/** A fresh instance with fake host imports; `config` answers `config.get`; `kv` is its key-value store (none granted by default). */
async function start(config: Record<string, string>, opts: { listenError?: boolean; kv?: FakeKeyValue } = {}) {
  const sent: [number, Uint8Array][] = [];
  const closed: number[] = [];
  const bus: { topic: string; payload: string }[] = [];
  const subscribed: string[] = [];
  const listened: [string, string | undefined][] = [];
  const logs: string[] = [];
  let now = 1_700_000_000_000n;
  const imports: Record<string, unknown> = {};
  for (const [group, fns] of Object.entries(shim as Record<string, Record<string, unknown>>)) {
    for (const [name, impl] of Object.entries(fns)) imports[`wasi:${group}/${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`] = impl;
  }
  const ok = { tag: 'ok', val: undefined };
  imports['edgehost:platform/types'] = {};
  imports['edgehost:platform/logging'] = { log: (level: string, message: string) => void logs.push(`${level}: ${message}`) };
  imports['edgehost:platform/config'] = { get: (k: string) => config[k], getAll: () => Object.entries(config) };
  imports['edgehost:platform/pubsub'] = {
    publish: (topic: string, payload: Uint8Array) => {
      bus.push({ topic, payload: dec(payload) });
      return ok;
    },
    // The server publishes one message at a time: it must know each one's answer before acknowledging it.
    publishBatch: () => {
      throw new Error('the server does not publish in batches');
    },
    subscribe: (f: string) => {
      subscribed.push(f);
      return ok;
    },
    unsubscribe: (f: string) => {
      subscribed.push(`-${f}`);
      return ok;
    },
  };
  imports['edgehost:platform/socket'] = {
    listen: (address: string, protocol: string | undefined) => {
      listened.push([address, protocol]);
      return opts.listenError ? { tag: 'err', val: { tag: 'failed', val: 'address in use' } } : ok;
    },
    send: (id: number, data: Uint8Array) => {
      sent.push([id, data.slice()]);
      return ok;
    },
    close: (id: number) => void closed.push(id),
  };
  imports['edgehost:platform/timer'] = { after: () => 1, every: () => 7, cancel: () => {}, nowMs: () => now };
  imports['edgehost:platform/key-value'] = (opts.kv ?? new FakeKeyValue([])).imports();
  const metrics: [string, string, [string, string][], number][] = [];
  imports['edgehost:platform/metrics'] = {
    counterAdd: (name: string, labels: [string, string][], value: number) => {
      metrics.push(['counter', name, labels, value]);
      return ok;
    },
    gaugeSet: (name: string, labels: [string, string][], value: number) => {
      metrics.push(['gauge', name, labels, value]);
      return ok;
    },
  };
  const instance = await instantiate(async (name) => WebAssembly.compile(readFileSync(join(outDir, name))), imports);
  const received = (id: number): Packet[] => {
    const parser = new PacketParser(1 << 20);
    const out: Packet[] = [];
    for (const [to, data] of sent) if (to === id) parser.feed(data, (p) => void out.push(p));
    return out;
  };
  return {
    instance,
    sent,
    closed,
    bus,
    subscribed,
    listened,
    logs,
    metrics,
    received,
    advance: (ms: number) => {
      now += BigInt(ms);
      instance.timerHandler.onTick(7);
    },
    events: (events: unknown[]) => instance.socketHandler.handleEvents(events),
  };
}

const opened = (id: number) => ({ tag: 'opened', val: { id, localAddress: '127.0.0.1:1883', remoteAddress: '10.0.0.1:5', transport: 'tcp' } });
const data = (id: number, ...packets: Packet[]) => ({ tag: 'data', val: [id, Uint8Array.from(packets.flatMap((p) => [...serialize(p)]))] });
const connect = (clientId: string, keepalive = 0, clean = true): Packet => ({
  type: 'connect',
  protocolName: 'MQTT',
  protocolLevel: 4,
  supported: true,
  clean,
  keepalive,
  clientId,
});

describe('the server guest as a component', () => {
  before(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'edgehost-server-guest-'));
    const bundle = join(outDir, 'server.js');
    await build({
      entryPoints: [join(root, 'modules/server/src/index.ts')],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      external: ['edgehost:*'],
      outfile: bundle,
      logLevel: 'warning',
    });
    const wasm = join(outDir, 'server.wasm');
    const r = spawnSync(
      join(root, 'node_modules/.bin/jco'),
      [
        'componentize',
        bundle,
        '--wit',
        join(root, 'build/wit-platform'),
        '--world-name',
        'server',
        '--backend',
        'quickjs',
        '--backend-qjs-disable-async',
        '-o',
        wasm,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const { files } = await transpile(readFileSync(wasm), { name: 'guest', instantiation: { tag: 'async' } as never, noTypescript: true });
    for (const [name, content] of Object.entries(files as Record<string, Uint8Array>)) {
      mkdirSync(join(outDir, name, '..'), { recursive: true });
      writeFileSync(join(outDir, name), content);
    }
    ({ instantiate } = await import(pathToFileURL(join(outDir, 'guest.js')).href));
  });

  it('listens on every configured address with the mqtt subprotocol', async () => {
    const g = await start({ listen: '["127.0.0.1:1883","[::1]:1883"]' });
    g.instance.lifecycle.init();
    assert.deepEqual(g.listened, [
      ['127.0.0.1:1883', 'mqtt'],
      ['[::1]:1883', 'mqtt'],
    ]);
  });

  it('fails init when listening fails, naming the address', async () => {
    const g = await start({ listen: '["127.0.0.1:1883"]' }, { listenError: true });
    assert.throws(() => g.instance.lifecycle.init(), /listen on 127.0.0.1:1883 failed: failed: address in use/);
  });

  it('fails init on a bad config value', async () => {
    const g = await start({ 'max-inflight': 'lots' });
    assert.throws(() => g.instance.lifecycle.init(), /max-inflight/);
  });

  it('serves MQTT over socket events and bridges to the bus', async () => {
    const g = await start({ listen: '["127.0.0.1:1883"]' });
    g.instance.lifecycle.init();
    g.events([opened(1), data(1, connect('sub'), { type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'sensors/#', qos: 1 }] })]);
    g.events([opened(2), data(2, connect('pub'), { type: 'publish', topic: 'sensors/t', payload: enc('21'), qos: 1, retain: false, dup: false, packetId: 5 })]);
    g.instance.messageHandler.handle([{ topic: 'sensors/h', payload: enc('40'), publishedAt: 1n }]);
    assert.deepEqual(g.subscribed, ['sensors/#']);
    assert.deepEqual(g.bus, [{ topic: 'sensors/t', payload: '21' }]);
    assert.deepEqual(g.received(2), [
      { type: 'connack', sessionPresent: false, returnCode: 0 },
      { type: 'puback', packetId: 5 },
    ]);
    const toSub = g.received(1);
    assert.deepEqual(
      toSub.map((p) => p.type),
      ['connack', 'suback', 'publish', 'publish'],
    );
    assert.deepEqual(
      toSub.slice(2).map((p) => [(p as { topic: string }).topic, dec((p as { payload: Uint8Array }).payload), (p as { qos: number }).qos]),
      [
        ['sensors/t', '21', 1],
        ['sensors/h', '40', 1],
      ],
    );
  });

  it('closes a connection on garbage without trapping, and keeps serving the others', async () => {
    const g = await start({});
    g.instance.lifecycle.init();
    g.events([opened(1), data(1, connect('a')), opened(2), { tag: 'data', val: [2, Uint8Array.of(0xf0, 0x00)] }]);
    assert.deepEqual(g.closed, [2]);
    g.events([data(1, { type: 'pingreq' }), { tag: 'closed', val: 2 }]);
    assert.deepEqual(
      g.received(1).map((p) => p.type),
      ['connack', 'pingresp'],
    );
  });

  it('keeps a persistent session, its queued messages and retained messages in the key-value store, for the next instance', async () => {
    const kv = new FakeKeyValue();
    const first = await start({}, { kv });
    first.instance.lifecycle.init();
    first.events([opened(1), data(1, connect('sub', 0, false), { type: 'subscribe', packetId: 1, subscriptions: [{ filter: 't/#', qos: 1 }] })]);
    first.events([{ tag: 'closed', val: 1 }]);
    first.events([
      opened(2),
      data(
        2,
        connect('pub'),
        { type: 'publish', topic: 't/1', payload: enc('queued'), qos: 1, retain: false, dup: false, packetId: 3 },
        { type: 'publish', topic: 't/r', payload: enc('retained'), qos: 0, retain: true, dup: false },
      ),
    ]);
    assert.deepEqual(kv.keys('retained'), ['1']);
    assert.ok(kv.keys('sessions').some((k) => k.startsWith('m/')));

    const next = await start({}, { kv });
    next.instance.lifecycle.init();
    assert.ok(next.logs.some((l) => /restored 1 sessions holding 1 messages, and 1 retained messages/.test(l)));
    assert.deepEqual(next.subscribed, ['t/#']);
    next.events([opened(5), data(5, connect('sub', 0, false))]);
    const back = next.received(5);
    assert.deepEqual(back[0], { type: 'connack', sessionPresent: true, returnCode: 0 });
    assert.deepEqual(
      back.slice(1).map((p) => [(p as { topic: string }).topic, dec((p as { payload: Uint8Array }).payload)]),
      [['t/1', 'queued']],
    );
  });

  it('keeps nothing, and says so once, when no bucket is granted', async () => {
    const g = await start({});
    g.instance.lifecycle.init();
    assert.ok(g.logs.some((l) => /^info: persist: no key-value bucket is granted/.test(l)));
  });

  it('closes a client silent past 1.5 × its keep alive on a timer tick', async () => {
    const g = await start({});
    g.instance.lifecycle.init();
    g.events([opened(1), data(1, connect('a', 2))]);
    g.advance(2000);
    assert.deepEqual(g.closed, []);
    g.advance(1500);
    assert.deepEqual(g.closed, [1]);
  });

  it('reports its figures through edgehost:platform/metrics on the check tick, then only what changed', async () => {
    const g = await start({});
    g.instance.lifecycle.init();
    g.events([
      opened(1),
      data(
        1,
        connect('a'),
        { type: 'publish', topic: 't/1', payload: enc('x'), qos: 0, retain: true, dup: false },
        { type: 'subscribe', packetId: 1, subscriptions: [{ filter: 't/#', qos: 1 }] },
      ),
    ]);
    assert.equal(g.metrics.length, 0, 'nothing is reported per event');
    g.advance(1000);
    const first = new Map(g.metrics.map(([, name, labels, value]) => [`${name}${labels.map(([k, v]) => `{${k}=${v}}`).join('')}`, value]));
    assert.equal(first.get('mqtt_clients_connected'), 1);
    assert.equal(first.get('mqtt_subscriptions'), 1);
    assert.equal(first.get('mqtt_retained_messages'), 1);
    assert.equal(first.get('mqtt_messages_received_total{qos=0}'), 1);
    // The retained message went to the new subscription, at QoS 0 (the message's).
    assert.equal(first.get('mqtt_messages_sent_total{qos=0}'), 1);
    assert.equal(first.get('mqtt_messages_received_total{qos=2}'), 0, 'every series is reported the first time, zeros included');
    g.metrics.length = 0;
    g.events([data(1, { type: 'publish', topic: 'u/1', payload: enc('y'), qos: 0, retain: false, dup: false })]);
    g.advance(1000);
    assert.deepEqual(g.metrics, [['counter', 'mqtt_messages_received_total', [['qos', '0']], 1]]);
  });
});
