// One host with five bridges: a wrong password, an unreachable broker, a TLS name mismatch,
// and two that are right (the password, and TLS with tls.servername). Each failing bridge
// gives one clear line naming it and what to fix, however many times it retries; the
// password never appears in the log; the good bridges connect; and the host's own pipeline
// (telemetry -> gateway -> HTTP sink) runs throughout.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bridge, bridgeUp } from '../support/bridges.ts';
import { HostProcess, type LogLine, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry } from '../support/modules.ts';
import { Mosquitto, testTls } from '../support/mosquitto.ts';
import { tempDir } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';
import type { Reading } from '../support/readings.ts';

const WRONG = 'wr0ng-pa55word-xyz';
const RIGHT = 'r1ght-pa55word-xyz';
/** Failed attempts each failing bridge must have made, to show repeats are not logged. */
const ATTEMPTS = 5;

test('a wrong password, an unreachable broker and a TLS name mismatch each give one line with the bridge and the fix; the host keeps running', async (t) => {
  const dir = tempDir();
  const secured = await Mosquitto.start({ users: { edge: RIGHT }, persistence: false });
  const tls = await Mosquitto.start({ tls: { cert: testTls.cert, key: testTls.key }, persistence: false });
  const wrongFile = join(dir, 'wrong.password');
  writeFileSync(wrongFile, `${WRONG}\n`);
  const rightFile = join(dir, 'right.password');
  writeFileSync(rightFile, `${RIGHT}\n`);
  const nowhere = `mqtt://127.0.0.1:${await freePort()}`;
  const fast = { reconnect: { initialMs: 50, maxMs: 200 } };
  const out = { out: [{ filter: 'telemetry/#' }] };
  const sink = await new HttpSink().listen();
  const host = new HostProcess(
    [
      '--config',
      writeConfig({
        modules: { telemetry: telemetry({ devices: ['d1'], 'interval-ms': 50 }), gateway: gateway(sink.url, 'telemetry/#') },
        bridges: {
          'wrong-password': bridge(secured.url, 'wrong-password', out, { ...fast, username: 'edge', passwordFile: wrongFile }),
          unreachable: bridge(nowhere, 'unreachable', out, fast),
          'tls-name': bridge(tls.url, 'tls-name', out, { ...fast, tls: { ca: testTls.ca } }),
          'right-password': bridge(secured.url, 'right-password', out, { username: 'edge', passwordEnv: 'EDGEHOST_TEST_PASSWORD' }),
          'tls-ok': bridge(tls.url, 'tls-ok', out, { tls: { ca: testTls.ca, servername: testTls.name } }),
        },
      }),
      '--log-level',
      'debug',
    ],
    { EDGEHOST_TEST_PASSWORD: RIGHT },
  );
  try {
    await host.ready(['telemetry', 'gateway']);
    await Promise.all([bridgeUp(host, 'right-password'), bridgeUp(host, 'tls-ok')]);
    const failing = ['wrong-password', 'unreachable', 'tls-name'];
    const attempts = (name: string) => host.lines.filter((l) => l.bridge === name && l.level === 20 && /attempt \d+ failed/.test(l.msg)).length;
    await Promise.all(
      failing.map((name) => host.waitForLog((l) => l.bridge === name && attempts(name) >= ATTEMPTS, 30_000, `${ATTEMPTS} failed attempts of bridge ${name}`)),
    );
    const reported = (name: string) => host.lines.filter((l: LogLine) => l.bridge === name && l.level >= 40 && typeof l.code === 'string');
    for (const name of failing) for (const l of reported(name)) t.diagnostic(`${l.code}: ${l.msg}`);

    const [wrong] = reported('wrong-password');
    assert.equal(reported('wrong-password').length, 1, 'one line for the wrong password');
    assert.equal(wrong.code, 'EH_BRIDGE_AUTH');
    assert.match(wrong.msg, /^bridge wrong-password: /);
    assert.match(wrong.msg, /user "edge"/);
    assert.ok(wrong.msg.includes(wrongFile) && wrong.msg.includes('bridges.wrong-password.passwordFile'), wrong.msg);

    const [unreachable] = reported('unreachable');
    assert.equal(reported('unreachable').length, 1, 'one line for the unreachable broker');
    assert.equal(unreachable.code, 'EH_BRIDGE_UNREACHABLE');
    assert.match(
      unreachable.msg,
      /^bridge unreachable: nothing accepts connections at 127\.0\.0\.1:\d+ \(connection refused\); check bridges\.unreachable\.url/,
    );

    const [name] = reported('tls-name');
    assert.equal(reported('tls-name').length, 1, 'one line for the TLS name mismatch');
    assert.equal(name.code, 'EH_BRIDGE_TLS');
    assert.match(name.msg, /^bridge tls-name: the broker's certificate is not valid for "127\.0\.0\.1"/);
    assert.match(name.msg, /bridges\.tls-name\.tls\.servername/);

    // The rest of the host ran all along.
    await sink.waitFor(() => sink.items<Reading>().some((r) => r.seq >= 20), 20_000, 'telemetry at the sink');
    assert.equal(host.child.exitCode, null);
    const all = host.lines.map((l) => JSON.stringify(l)).join('\n');
    assert.ok(!all.includes(WRONG) && !all.includes(RIGHT), 'a password appeared in the log');
  } finally {
    host.kill();
    await sink.close();
    await Promise.all([secured.stop(), tls.stop()]);
  }
});
