// A module built to attack the host (test/fixtures/guests/attacker) tries, one
// attack at a time, to make the host process spend memory, logs or CPU on its
// behalf. Each attack must end in a trap or a typed refusal for the attacker
// only; the host's resident memory, sampled from /proc meanwhile, must stay
// within the attacker's budgets plus a fixed overhead (README, "Limits"); and a
// control client doing MQTT QoS 1 round trips through another module must keep
// getting answers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { server, testGuest } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

const MAX_MEMORY_MB = 32;
/** What a restart costs while the old worker is torn down and the new one starts, plus sampling noise. */
const FIXED_OVERHEAD_MB = 48;

interface Result {
  attack: string;
  outcome: string;
  detail: unknown;
}

let host: HostProcess;
let control: MqttClient;
let attacks: MqttClient;
const results: Result[] = [];
const roundTrips: number[] = [];
/** RSS rise per attack, reported at the end. */
const rises: Record<string, number> = {};
let lostRoundTrips = 0;
let stopControl = false;
let controlDone: Promise<void>;
let attackerPort: number;

function rssMb(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${host.child.pid}/status`, 'utf8'))?.[1]) / 1024;
}

/** Runs `attack` and returns the host's RSS before it and its peak until `done` resolves. */
async function measured(attack: string, done: () => Promise<unknown>): Promise<{ before: number; peak: number }> {
  const before = rssMb();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb());
  }, 10);
  try {
    await attacks.publishAsync('attack/run', attack, { qos: 1 });
    await done();
    peak = Math.max(peak, rssMb());
  } finally {
    clearInterval(sampler);
  }
  rises[attack] = peak - before;
  return { before, peak };
}

function result(attack: string, timeoutMs = 30_000): Promise<Result> {
  const seen = results.find((r) => r.attack === attack);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no result for ${attack}`)), timeoutMs);
    const check = () => {
      const r = results.find((x) => x.attack === attack);
      if (!r) return;
      clearTimeout(timer);
      attacks.off('message', check);
      resolve(r);
    };
    attacks.on('message', check);
  });
}

before(async () => {
  const mqttPort = await freePort();
  attackerPort = await freePort();
  const config = writeConfig({
    modules: {
      server: server(`127.0.0.1:${mqttPort}`),
      attacker: testGuest('attacker', 'attacker', {
        grants: { pubsub: { subscribe: ['attack/run', 'flood/#'], publish: ['attack/result'] }, socket: { listen: [`127.0.0.1:${attackerPort}`] } },
        config: { listen: `127.0.0.1:${attackerPort}` },
        limits: { maxMemoryMb: MAX_MEMORY_MB, maxSocketBufferedBytes: 4 * 1024 * 1024, callDeadlineMs: 20_000 },
        delivery: { maxAttempts: 1 },
        restart: { initialBackoffMs: 20, maxCrashes: 20 },
      }),
    },
  });
  host = new HostProcess(['--config', config]);
  await host.ready(['server', 'attacker']);
  control = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'control', reconnectPeriod: 0 });
  attacks = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'attacks', reconnectPeriod: 0 });
  attacks.on('message', (_t, payload) => {
    results.push(JSON.parse(payload.toString()));
  });
  await attacks.subscribeAsync('attack/result', { qos: 1 });
  await control.subscribeAsync('control/echo', { qos: 1 });
  // QoS 1 round trips through the server module, one after another, for as long as the attacks last.
  controlDone = (async () => {
    let n = 0;
    while (!stopControl) {
      const id = String(n++);
      const started = performance.now();
      const back = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 5000);
        const onMessage = (_t: string, p: Buffer) => {
          if (p.toString() !== id) return;
          clearTimeout(timer);
          control.off('message', onMessage);
          resolve(true);
        };
        control.on('message', onMessage);
      });
      await control.publishAsync('control/echo', id, { qos: 1 });
      if (await back) roundTrips.push(performance.now() - started);
      else lostRoundTrips++;
    }
  })();
});

after(async () => {
  stopControl = true;
  await controlDone;
  await Promise.all([control?.endAsync(), attacks?.endAsync()]);
  host?.kill();
});

const restartedAfter = (code: string, since: number) =>
  host.waitForLog((l) => l.module === 'attacker' && l.code === code && host.lines.indexOf(l) >= since, 30_000, `attacker stopped with ${code}`);
const readyAgain = (since: number) =>
  host.waitForLog((l) => l.msg === 'module attacker ready' && host.lines.indexOf(l) >= since, 30_000, 'attacker ready again');

test('growing memory past maxMemoryMb in one call: the grow fails inside the guest, the module restarts, and the host holds no more than the cap', async () => {
  const since = host.lines.length;
  const { before, peak } = await measured('grow', async () => {
    const stopped = await restartedAfter('EH_MODULE_MEMORY', since);
    assert.match(stopped.msg, new RegExp(`ran out of linear memory at its limit of ${MAX_MEMORY_MB} MiB`));
    await readyAgain(since);
  });
  assert.ok(peak - before < MAX_MEMORY_MB + FIXED_OVERHEAD_MB, `RSS rose ${(peak - before).toFixed(1)} MB for a ${MAX_MEMORY_MB} MiB cap`);
  assert.equal(
    results.some((r) => r.attack === 'grow'),
    false,
    'the 256 MiB allocation succeeded',
  );
});

test('asking wasi:random for 2 GiB traps the module before the host allocates anything', async () => {
  const since = host.lines.length;
  const { before, peak } = await measured('random', async () => {
    const stopped = await restartedAfter('EH_MODULE_TRAP', since);
    assert.match(stopped.msg, /asked for 2147483648 bytes at once; the limit is 1048576/);
    await readyAgain(since);
  });
  assert.ok(peak - before < FIXED_OVERHEAD_MB, `RSS rose ${(peak - before).toFixed(1)} MB`);
});

test('writing 2 GiB of zeroes to stdout is refused with a stream error, nothing allocated', async () => {
  const { before, peak } = await measured('zeroes', () => result('zeroes'));
  const r = results.find((x) => x.attack === 'zeroes')!;
  assert.equal(r.outcome, 'refused');
  assert.equal(r.detail, 'last-operation-failed');
  assert.ok(peak - before < 16, `RSS rose ${(peak - before).toFixed(1)} MB`);
});

test('64 MiB to stdout costs the log a few lines: the rest is counted, not written', async () => {
  const since = host.lines.length;
  await measured('stdout', () => result('stdout'));
  const lines = host.lines.slice(since).filter((l) => l.module === 'attacker' && l.stream === 'stdout');
  assert.ok(lines.length <= 400, `${lines.length} stdout lines logged`);
  assert.ok(lines.every((l) => l.msg.length <= 8 * 1024));
});

test('thousands of large filters: subscribe answers limited at the budget', async () => {
  await measured('subscribe', () => result('subscribe'));
  const r = results.find((x) => x.attack === 'subscribe')!;
  assert.equal(r.outcome, 'limited');
  const { accepted, error } = r.detail as { accepted: number; error: string };
  // 64 KiB of filters of about 1000 bytes each.
  assert.ok(accepted > 0 && accepted <= 66, `${accepted} filters accepted`);
  assert.match(error, /^limited: .*limits\.maxSubscriptions is 1000 and limits\.maxSubscriptionBytes 65536/);
});

test('100,000 log lines cost the log what limits.logLinesPerSecond allows, and lines that say how many were dropped', async () => {
  const since = host.lines.length;
  const started = performance.now();
  await measured('log', () => result('log'));
  const seconds = (performance.now() - started) / 1000;
  const lines = host.lines.slice(since).filter((l) => l.module === 'attacker' && l.source === 'guest');
  // The bucket holds one second's worth (200) and refills at 200 a second; the count of
  // dropped lines is said at most once a second.
  assert.ok(lines.length <= 200 * (1 + seconds) + (1 + seconds), `${lines.length} guest lines logged in ${seconds.toFixed(1)} s`);
  assert.ok(lines.some((l) => l.limit === 'limits.logLinesPerSecond' && Number(l.suppressed) > 0));
  // A limit line shows the module's linear memory and what the host holds for it.
  const limit = host.lines.slice(since).find((l) => l.module === 'attacker' && l.code === 'EH_LIMIT' && l.linearMemoryBytes !== undefined);
  assert.ok(limit, 'no limit line with the accounting');
  assert.ok(Number(limit.linearMemoryBytes) > 0);
  assert.deepEqual(Object.keys(limit.hostHeld as object).sort(), ['queuedBytes', 'socketReceivedBytes', 'socketUnsentBytes']);
});

test('a 10 MB error string is cut before it is logged or carried into the dead-letter log', async () => {
  const since = host.lines.length;
  const { before, peak } = await measured('error', () =>
    host.waitForLog((l) => l.code === 'EH_DEAD_LETTER' && l.module === 'attacker' && host.lines.indexOf(l) >= since, 30_000, 'the dead letter'),
  );
  const letter = host.lines.slice(since).find((l) => l.code === 'EH_DEAD_LETTER')!;
  assert.ok(String(letter.reason).length < 1200, `reason of ${String(letter.reason).length} characters`);
  assert.match(String(letter.reason), /\.\.\. \(10484736 more characters\)$/);
  assert.ok(peak - before < 64, `RSS rose ${(peak - before).toFixed(1)} MB`);
});

test('sending 64 MiB to each of 8 peers that do not read closes them at the budgets, holding no more than maxSocketBufferedBytes', async () => {
  const peers = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const s = net.connect(attackerPort, '127.0.0.1');
      s.pause();
      await new Promise((resolve) => s.once('connect', resolve));
      return s;
    }),
  );
  const closed = peers.map((s) => new Promise((resolve) => s.once('close', resolve)));
  await new Promise<void>((resolve) => {
    const check = () => {
      if (results.some((r) => r.attack === 'connections' && r.detail === 8)) {
        attacks.off('message', check);
        resolve();
      }
    };
    attacks.on('message', check);
    check();
  });
  const { before, peak } = await measured('send', () => result('send'));
  assert.ok(peak - before < 4 + FIXED_OVERHEAD_MB, `RSS rose ${(peak - before).toFixed(1)} MB`);
  // The module's budget (4 MiB here) is all that left it; the rest was refused.
  const { sent, refused } = results.find((r) => r.attack === 'send')!.detail as { sent: number; refused: number };
  assert.ok(sent <= 4 * 1024 * 1024, `${sent} bytes accepted`);
  assert.ok(refused > 0);
  // The host closed every one of them; read what reached them to see the close.
  for (const p of peers) p.resume();
  await Promise.all(closed);
  assert.equal(host.lines.filter((l) => l.module === 'attacker' && /is not keeping up/.test(l.msg)).length, 8);
});

test('the control client kept its round trips through the attacks: none lost, p99 under 2 s, and the host is up', (t) => {
  t.diagnostic(
    `host RSS rise per attack (MB): ${Object.entries(rises)
      .map(([a, mb]) => `${a} ${mb.toFixed(1)}`)
      .join(', ')}`,
  );
  stopControl = true;
  const sorted = [...roundTrips].sort((a, b) => a - b);
  const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? Number.POSITIVE_INFINITY;
  assert.equal(lostRoundTrips, 0);
  assert.ok(roundTrips.length > 20, `${roundTrips.length} round trips`);
  // The attacker keeps one of two cores busy for most of this file: the bound leaves room for that.
  assert.ok(p99 < 2000, `p99 ${p99.toFixed(0)} ms`);
  t.diagnostic(`control: ${roundTrips.length} QoS 1 round trips, p99 ${p99.toFixed(0)} ms, none lost`);
  assert.equal(host.child.exitCode, null);
  assert.equal(host.lines.filter((l) => l.module === 'server' && /stopped|failed/.test(l.msg)).length, 0);
});
