// The families HostMetrics builds from what others report: the modules' own
// series (edgehost:platform/metrics, through their workers' snapshots) and the
// bridges' figures (Host.bridgeList), read from fakes of both and parsed with a
// Prometheus text parser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import type { BridgeInfo } from '../../../host/bridge/bridge.ts';
import { Bus } from '../../../host/bus/bus.ts';
import { HostMetrics } from '../../../host/metrics/host-metrics.ts';
import type { ModuleRuntime } from '../../../host/runtime/module-runtime.ts';
import type { GuestSeries, WorkerMetricsSnapshot } from '../../../host/sandbox/worker-metrics.ts';

type Family = { name: string; help: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] };

function fakeModule(name: string, guest: GuestSeries[]) {
  const snapshot: WorkerMetricsSnapshot = { calls: {}, failures: {}, denied: {}, limits: {}, memoryBytes: 0, guest: {} };
  const m = {
    name,
    state: 'ready',
    restarts: 0,
    wakes: 0,
    guest,
    workerMetrics: () => ({ ...snapshot, guest: Object.fromEntries(m.guest.map((g) => [`${g.name}${JSON.stringify(g.labels)}`, g])) }),
    held: () => ({}),
    gauges: () => ({}),
  };
  return m;
}

async function families(metrics: HostMetrics): Promise<Family[]> {
  return parsePrometheus(await metrics.render()) as Family[];
}

const values = (fs: Family[], name: string) => fs.find((f) => f.name === name)?.metrics.map((m) => [m.labels, Number(m.value)]);

test("modules' series appear as edgehost_guest_<name> with the module label; a series that does not fit its family is left out; unused families go", async () => {
  const a = fakeModule('a', [
    { name: 'jobs_total', type: 'counter', labels: [['kind', 'x']], value: 3 },
    { name: 'depth', type: 'gauge', labels: [], value: 7 },
  ]);
  const b = fakeModule('b', [
    { name: 'jobs_total', type: 'counter', labels: [['kind', 'y']], value: 1 },
    // Other label names than the family was first seen with: not rendered.
    { name: 'depth', type: 'gauge', labels: [['queue', 'q']], value: 9 },
  ]);
  const modules = [a, b];
  const metrics = new HostMetrics({ modules: () => modules as unknown as ModuleRuntime[], bus: new Bus() });
  let fs = await families(metrics);
  assert.equal(fs.find((f) => f.name === 'edgehost_guest_jobs_total')?.type, 'COUNTER');
  assert.deepEqual(values(fs, 'edgehost_guest_jobs_total'), [
    [{ module: 'a', kind: 'x' }, 3],
    [{ module: 'b', kind: 'y' }, 1],
  ]);
  assert.equal(fs.find((f) => f.name === 'edgehost_guest_depth')?.type, 'GAUGE');
  assert.deepEqual(values(fs, 'edgehost_guest_depth'), [[{ module: 'a' }, 7]]);

  // Module a is removed: its families go with it when no other module reports them.
  modules.splice(0, 1);
  fs = await families(metrics);
  assert.deepEqual(values(fs, 'edgehost_guest_jobs_total'), [[{ module: 'b', kind: 'y' }, 1]]);
  assert.deepEqual(values(fs, 'edgehost_guest_depth'), [[{ module: 'b', queue: 'q' }, 9]], "b's depth now defines the family");
  b.guest = [];
  fs = await families(metrics);
  assert.equal(
    fs.some((f) => f.name.startsWith('edgehost_guest_') && !f.name.startsWith('edgehost_guest_call_')),
    false,
  );
});

test('a guest series never replaces a host family of the same name', async () => {
  const m = fakeModule('a', [{ name: 'call_failures_total', type: 'counter', labels: [], value: 5 }]);
  const metrics = new HostMetrics({ modules: () => [m] as unknown as ModuleRuntime[], bus: new Bus() });
  const fs = await families(metrics);
  const family = fs.find((f) => f.name === 'edgehost_guest_call_failures_total');
  assert.match(family?.help ?? '', /Guest calls that failed/);
  assert.deepEqual(family?.metrics, []);
});

test("bridges' state, messages, drops, queue depth and connections, read when scraped", async () => {
  const info: BridgeInfo = {
    name: 'cloud',
    url: 'mqtt://127.0.0.1:1883',
    clientId: 'site-a',
    state: 'connected',
    protocolVersion: 5,
    failedAttempts: 0,
    connects: 3,
    failedAttemptsTotal: 4,
    out: { queued: 10, inFlight: 2, sent: 100, dropped: 1 },
    in: { received: 50, echoesDropped: 6, dropped: 7 },
  };
  const metrics = new HostMetrics({ modules: () => [], bus: new Bus(), bridges: () => [info] });
  const fs = await families(metrics);
  const bridge = { bridge: 'cloud' };
  assert.deepEqual(values(fs, 'edgehost_bridge_state'), [
    [{ ...bridge, state: 'connecting' }, 0],
    [{ ...bridge, state: 'connected' }, 1],
    [{ ...bridge, state: 'waiting' }, 0],
    [{ ...bridge, state: 'stopped' }, 0],
  ]);
  assert.deepEqual(values(fs, 'edgehost_bridge_messages_sent_total'), [[bridge, 100]]);
  assert.deepEqual(values(fs, 'edgehost_bridge_messages_received_total'), [[bridge, 50]]);
  assert.deepEqual(values(fs, 'edgehost_bridge_messages_dropped_total'), [
    [{ ...bridge, reason: 'overflow' }, 1],
    [{ ...bridge, reason: 'no_rule' }, 7],
    [{ ...bridge, reason: 'echo' }, 6],
  ]);
  assert.deepEqual(values(fs, 'edgehost_bridge_queue_depth'), [[bridge, 12]]);
  assert.deepEqual(values(fs, 'edgehost_bridge_connections_total'), [[bridge, 3]]);
  assert.deepEqual(values(fs, 'edgehost_bridge_connection_failures_total'), [[bridge, 4]]);
  for (const f of fs.filter((x) => x.name.startsWith('edgehost_bridge_'))) {
    assert.equal(f.type, f.name.endsWith('_total') ? 'COUNTER' : 'GAUGE', f.name);
  }
});
