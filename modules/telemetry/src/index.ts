// Telemetry: N simulated devices, each publishing a JSON reading per tick (times `burst`) to
// `<topic-prefix><deviceId>`:
//   {"deviceId":"sensor-1","temperature":21.37,"pressure":1001.5,"timestamp":1732400000000,"seq":1}

import type { Message } from 'edgehost:platform/message-handler@0.1.0';
import { type Outgoing, publishBatch } from 'edgehost:platform/pubsub@0.1.0';
import { every, nowMs } from 'edgehost:platform/timer@0.1.0';
import { ConfigError, describeError, installConsole, nonEmptyStringList, readConfig } from '../../shared/guest.ts';
import { encodeUtf8 } from '../../shared/utf8.ts';
import moduleJson from '../module.json' with { type: 'json' };

installConsole();

interface Device {
  topic: string;
  /** `{"deviceId":"<id>","temperature":` as UTF-8: the constant start of every reading. */
  head: Uint8Array;
  seq: number;
  /**
   * A reading the host refused with `full` or `limited`: published again before this
   * device samples anew. While it is held the device takes no new readings, so the
   * device slows to what the bus accepts, nothing is lost and `seq` has no gaps.
   */
  held: Uint8Array | undefined;
}

interface Range {
  min: number;
  span: number;
}

let devices: Device[] = [];
let burst = 1;
let temperature: Range = { min: 0, span: 0 };
let pressure: Range = { min: 0, span: 0 };
let timerId: number | undefined;
/** Publish error kinds (`denied`, `invalid`...) already logged: warn once per kind. */
const warned = new Set<string>();
/** Whether some device holds a reading back now: logged when that starts and when it ends. */
let holdingBack = false;

function range(cfg: ReturnType<typeof readConfig>, name: string): Range {
  const min = cfg.number(`${name}-min`);
  const max = cfg.number(`${name}-max`);
  if (min > max) {
    throw new ConfigError(`${name}-min`, `config "${name}-min" (${min}) is greater than "${name}-max" (${max})`);
  }
  return { min, span: max - min };
}

function checkTopicPart(key: string, value: string): void {
  if (value.includes('+') || value.includes('#')) {
    throw new ConfigError(key, `config "${key}": expected no MQTT wildcards (+ or #), found ${JSON.stringify(value)}`);
  }
}

// Math.random is no use here: componentize-qjs snapshots the engine at build time (Wizer), so
// every instance starts from the same PRNG state and repeats the same "random" sequence.
// mulberry32, seeded in init from the clock.
let rngState = 0;
function random(): number {
  rngState = (rngState + 0x6d2b79f5) | 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A random value in the range, rounded to 2 decimals. */
function sample(r: Range): number {
  return Math.round((r.min + random() * r.span) * 100) / 100;
}

// Readings are built as bytes from pre-encoded constant parts: QuickJS runs the UTF-8 encoder
// as interpreted JS (~0.4 us per character), so only the few ASCII digits are converted per message.
const PRESSURE = encodeUtf8(',"pressure":');
const SEQ = encodeUtf8(',"seq":');
const CLOSE = 0x7d; // }

function putAscii(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  return at + s.length;
}

export const lifecycle = {
  init(): void {
    const cfg = readConfig(moduleJson.config);
    const ids = cfg.json('devices', nonEmptyStringList);
    const prefix = cfg.string('topic-prefix');
    checkTopicPart('topic-prefix', prefix);
    for (const id of ids) checkTopicPart('devices', id);
    const interval = cfg.number('interval-ms', { integer: true, min: 1, max: 0xffffffff });
    burst = cfg.number('burst', { integer: true, min: 1, max: 1_000_000 });
    temperature = range(cfg, 'temperature');
    pressure = range(cfg, 'pressure');
    devices = ids.map((id) => ({
      topic: prefix + id,
      head: encodeUtf8(`{"deviceId":${JSON.stringify(id)},"temperature":`),
      seq: 0,
      held: undefined,
    }));
    const now = Number(nowMs());
    rngState = (now ^ Math.floor(now / 4294967296) ^ (devices.length * 0x9e3779b9)) | 0;
    timerId = every(interval);
    console.info(`telemetry: ${devices.length} devices every ${interval} ms, burst ${burst}, topics ${prefix}<deviceId>`);
  },
};

/** `,"timestamp":<ms>` is the same for every reading of a tick. */
function reading(d: Device, timestampPart: Uint8Array): Uint8Array {
  d.seq++;
  const t = String(sample(temperature));
  const p = String(sample(pressure));
  const q = String(d.seq);
  const out = new Uint8Array(d.head.length + t.length + PRESSURE.length + p.length + timestampPart.length + SEQ.length + q.length + 1);
  out.set(d.head, 0);
  let at = putAscii(out, d.head.length, t);
  out.set(PRESSURE, at);
  at = putAscii(out, at + PRESSURE.length, p);
  out.set(timestampPart, at);
  at += timestampPart.length;
  out.set(SEQ, at);
  at = putAscii(out, at + SEQ.length, q);
  out[at] = CLOSE;
  return out;
}

/** A reading on its way out, with the device's `seq` before it was taken. */
interface Pending {
  device: Device;
  reading: Uint8Array;
  seqBefore: number;
}

/**
 * `burst` new readings of the device; or, when it holds one back, only that one: while
 * the host refuses, a tick builds nothing it would have to take back.
 */
function sampleDevice(d: Device, timestampPart: Uint8Array, out: Pending[]): void {
  if (d.held) {
    out.push({ device: d, reading: d.held, seqBefore: d.seq - 1 });
    d.held = undefined;
    return;
  }
  for (let i = 0; i < burst; i++) {
    const seqBefore = d.seq;
    out.push({ device: d, reading: reading(d, timestampPart), seqBefore });
  }
}

/**
 * Publishes the tick's readings in one host call (each import call costs more
 * in the component glue than building a reading does). When the host says to
 * try again later (`full`: a durable queue it would go to is full; `limited`:
 * the publish rate limit), each device keeps its first unpublished reading and
 * takes back the rest (its `seq` goes back too), and samples nothing new until
 * that one is published: devices slow to what the bus accepts, nothing is lost
 * and `seq` has no gaps. Other refusals (`denied`, `invalid`) will not change
 * on a retry: that reading is given up, logged once per kind, and the rest go on.
 */
function publishAll(pending: Pending[]): void {
  let from = 0;
  while (from < pending.length) {
    const messages: Outgoing[] = [];
    for (let i = from; i < pending.length; i++) messages.push({ topic: pending[i].device.topic, payload: pending[i].reading });
    try {
      publishBatch(messages);
      return;
    } catch (e) {
      // `publish-batch` throws its batch-error record: how many went, and why the next did not.
      const refusal = (e as { payload?: { published: number; error: { tag: string; val: string } } }).payload;
      if (typeof refusal?.published !== 'number') throw e;
      const at = from + refusal.published;
      const kind = refusal.error.tag;
      if (kind === 'full' || kind === 'limited') {
        if (!holdingBack) {
          holdingBack = true;
          console.warn(`telemetry: holding readings back, the host answered ${kind}: ${refusal.error.val}; devices sample again once it takes them`);
        }
        for (let i = pending.length - 1; i >= at; i--) {
          const p = pending[i];
          // From the last back, so each device ends up holding its first unpublished reading.
          p.device.held = p.reading;
          p.device.seq = p.seqBefore + 1;
        }
        return;
      }
      if (!warned.has(kind)) {
        warned.add(kind);
        console.warn(`telemetry: publish to ${pending[at].device.topic} failed: ${kind}: ${refusal.error.val} (further "${kind}" failures are not logged)`);
      }
      from = at + 1;
    }
  }
}

export const timerHandler = {
  onTick(id: number): void {
    if (id !== timerId) return;
    // A throw here would trap the instance: everything that can fail is caught.
    try {
      const timestampPart = encodeUtf8(`,"timestamp":${Number(nowMs())}`);
      const pending: Pending[] = [];
      for (const d of devices) sampleDevice(d, timestampPart, pending);
      publishAll(pending);
      if (holdingBack && devices.every((d) => d.held === undefined)) {
        holdingBack = false;
        console.info('telemetry: the host takes readings again; every held reading was published');
      }
    } catch (e) {
      if (!warned.has('tick')) {
        warned.add('tick');
        console.error(`telemetry: tick failed: ${describeError(e)}`);
      }
    }
  },
};

export const messageHandler = {
  // Telemetry subscribes to nothing; acknowledge anything delivered.
  handle(_messages: Message[]): void {},
};
