// The host as a user starts it: `node host/main.ts` with flags, in a child process.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { moduleWasm } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';

async function runToExit(args: string[]) {
  const host = new HostProcess(args);
  const { code } = await host.exited;
  return { code, stderr: host.stderr };
}

test('starts the three modules from config/, listens on the granted address, stops on SIGINT within 2 s, and reuses the transpile cache', async () => {
  for (const run of ['first', 'second']) {
    const port = await freePort();
    const host = new HostProcess(['--server-socket-address', `127.0.0.1:${port}`, '--gateway-allowed-host', '127.0.0.1:9']);
    try {
      await host.ready(['telemetry', 'gateway', 'server']);
      const listening = await host.waitForLog((l) => l.module === 'server' && l.msg === 'listening', 10_000, 'server listening');
      assert.equal(listening.address, `127.0.0.1:${port}`);
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.destroy();
      const loads = host.lines.filter((l) => typeof l.cache === 'string');
      assert.deepEqual(loads.map((l) => l.module).sort(), ['gateway', 'server', 'telemetry']);
      if (run === 'second')
        assert.deepEqual(
          loads.map((l) => l.cache),
          ['hit', 'hit', 'hit'],
          'second start transpiled again',
        );
      const { code, ms } = await host.stop('SIGINT');
      assert.equal(code, 0, host.stderr);
      assert.ok(ms < 2000, `SIGINT took ${ms} ms`);
    } finally {
      host.kill();
    }
  }
});

test('--help documents every flag and exits 0', async () => {
  const host = new HostProcess(['--help']);
  let out = '';
  host.child.stdout!.removeAllListeners('data');
  host.child.stdout!.on('data', (c: string) => (out += c));
  const { code } = await host.exited;
  assert.equal(code, 0);
  for (const flag of [
    '--config',
    '--gateway-allowed-host',
    '--gateway-url',
    '--server-socket-address',
    '--log-level',
    '--data-dir',
    '--admin-address',
    '--admin-token-file',
  ]) {
    assert.ok(out.includes(flag), `--help does not mention ${flag}`);
  }
});

const telemetryModule = { component: moduleWasm('telemetry'), world: 'telemetry', grants: { pubsub: { publish: ['telemetry/#'] } } };

test('an unknown module key exits 1 with one message naming the key', async () => {
  const config = writeConfig({ modules: { telemetry: { ...telemetryModule, colour: 'red' } } });
  const { code, stderr } = await runToExit(['--config', config]);
  assert.equal(code, 1);
  assert.match(stderr, /^edgehost: EH_CONFIG_INVALID: invalid config\n {2}.*modules\.telemetry: unknown key "colour": remove it or fix the spelling\n$/);
});

test('a bad socket address exits 1 naming the key and the flag', async () => {
  const config = writeConfig({ modules: { server: { component: moduleWasm('server'), world: 'server' } } });
  const { code, stderr } = await runToExit(['--config', config, '--server-socket-address', '127.0.0.1:99999']);
  assert.equal(code, 1);
  assert.match(
    stderr,
    /EH_CONFIG_INVALID: .*modules\.server\.grants\.socket\.listen\[0\]: "127\.0\.0\.1:99999": port must be 1-65535 \(from --server-socket-address\)/s,
  );
});

test('a missing component file exits 1 naming the path', async () => {
  const config = writeConfig({ modules: { telemetry: { ...telemetryModule, component: '/nonexistent/telemetry.wasm' } } });
  const { code, stderr } = await runToExit(['--config', config]);
  assert.equal(code, 1);
  assert.match(stderr, /^edgehost: EH_COMPONENT_NOT_FOUND: .*\/nonexistent\/telemetry\.wasm does not exist\. Run "npm run build"/);
});

test('a component built for another world exits 1 naming the imports and exports that do not fit', async () => {
  const config = writeConfig({ modules: { telemetry: { component: moduleWasm('server'), world: 'telemetry' } } });
  const { code, stderr } = await runToExit(['--config', config]);
  assert.equal(code, 1);
  assert.match(
    stderr,
    /EH_WORLD_MISMATCH: modules\.telemetry: component .*server\.wasm does not target world "telemetry": it imports edgehost:platform\/socket, which world "telemetry" does not provide; it exports edgehost:platform\/socket-handler, which world "telemetry" does not have\. It targets world "server"/,
  );
});

test('a file that is not a component exits 1 with EH_COMPONENT_INVALID', async () => {
  const { writeFileSync } = await import('node:fs');
  const { join, dirname } = await import('node:path');
  const config = writeConfig({ modules: { telemetry: { ...telemetryModule, component: 'bogus.wasm' } } });
  writeFileSync(join(dirname(config), 'bogus.wasm'), 'not wasm');
  const { code, stderr } = await runToExit(['--config', config]);
  assert.equal(code, 1);
  assert.match(stderr, /EH_COMPONENT_INVALID: .*bogus\.wasm is not a component jco can transpile/);
});
