import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCli } from '../../../host/config/cli.ts';
import { loadConfig } from '../../../host/config/load.ts';
import { HostError } from '../../../host/errors.ts';
import { tempDir } from '../../support/paths.ts';

// Components only need to exist for the config to load; their contents are checked at start.
function setup(modules: Record<string, unknown>): string {
  const dir = tempDir();
  for (const name of ['a.wasm', 'b.wasm']) writeFileSync(join(dir, name), '');
  const file = join(dir, 'edgehost.json');
  writeFileSync(file, JSON.stringify({ modules }));
  return file;
}

function loadError(file: string, ...args: string[]): HostError {
  try {
    loadConfig(parseCli(['--config', file, ...args]));
  } catch (e) {
    assert.ok(e instanceof HostError, `expected a HostError, got ${e}`);
    return e;
  }
  assert.fail('config loaded, but an error was expected');
}

test('a valid config resolves component paths against the config file and applies defaults', () => {
  const file = setup({ telemetry: { component: 'a.wasm', world: 'telemetry', grants: { pubsub: { publish: ['telemetry/#'] } } } });
  const config = loadConfig(parseCli(['--config', file]));
  const [m] = config.modules;
  assert.equal(m.componentPath, join(file, '..', 'a.wasm'));
  assert.deepEqual(m.grants.pubsub, { publish: ['telemetry/#'], subscribe: [] });
  assert.equal(m.limits.callDeadlineMs, 5000);
  assert.deepEqual(m.capabilityInterfaces, [
    'edgehost:platform/logging',
    'edgehost:platform/config',
    'edgehost:platform/pubsub',
    'edgehost:platform/timer',
    'edgehost:platform/key-value',
    'edgehost:platform/metrics',
    'wasi:filesystem/preopens',
    'wasi:filesystem/types',
  ]);
});

test('an unknown module key names the file, the key and what to do', () => {
  const file = setup({ telemetry: { component: 'a.wasm', world: 'telemetry', colour: 'red' } });
  const e = loadError(file);
  assert.equal(e.code, 'EH_CONFIG_INVALID');
  assert.match(e.message, new RegExp(`${file}: modules\\.telemetry: unknown key "colour": remove it or fix the spelling`));
});

test('a bad socket address from the flag names the key, the reason and the flag', () => {
  const file = setup({ server: { component: 'a.wasm', world: 'server' } });
  const e = loadError(file, '--server-socket-address', '127.0.0.1');
  assert.equal(e.code, 'EH_CONFIG_INVALID');
  assert.match(e.message, /modules\.server\.grants\.socket\.listen\[0\]: "127\.0\.0\.1" is not an address: expected ip:port.*\(from --server-socket-address\)/);
});

test('a host name is not accepted as a listen address', () => {
  const file = setup({ server: { component: 'a.wasm', world: 'server', grants: { socket: { listen: ['localhost:1883'] } } } });
  assert.match(loadError(file).message, /"localhost" is not an IP address/);
});

test('a bad allowed host names the entry and the reason', () => {
  const file = setup({ gateway: { component: 'a.wasm', world: 'gateway' } });
  const e = loadError(file, '--gateway-allowed-host', 'http://example.com/api');
  assert.equal(e.code, 'EH_CONFIG_INVALID');
  assert.match(e.message, /modules\.gateway\.grants\.outboundHttp\.allowedHosts\[0\]: .*example\.com\/api.*path.*\(from --gateway-allowed-host\)/i);
});

test('a missing component file is named with a hint to build', () => {
  const file = setup({ telemetry: { component: 'missing.wasm', world: 'telemetry' } });
  const e = loadError(file);
  assert.equal(e.code, 'EH_COMPONENT_NOT_FOUND');
  assert.match(e.message, /missing\.wasm does not exist\. Run "npm run build"/);
});

test('an unknown world lists the worlds there are', () => {
  const file = setup({ telemetry: { component: 'a.wasm', world: 'sensor' } });
  assert.match(loadError(file).message, /modules\.telemetry\.world: no world "sensor" in .* \(worlds there: telemetry, gateway, server, http-service\)/);
});

test('a grant for a capability the world does not import is refused', () => {
  const file = setup({ telemetry: { component: 'a.wasm', world: 'telemetry', grants: { socket: { listen: ['127.0.0.1:1883'] } } } });
  assert.match(loadError(file).message, /modules\.telemetry\.grants\.socket: world "telemetry" does not import this capability; remove the grant/);
});

test('a flag for a module the config lacks says which module it needs', () => {
  const file = setup({ telemetry: { component: 'a.wasm', world: 'telemetry' } });
  const e = loadError(file, '--gateway-url', 'http://127.0.0.1:1/');
  assert.equal(e.code, 'EH_CLI_USAGE');
  assert.match(e.message, /--gateway-url applies to the module named "gateway", but .* has no modules\.gateway/);
});

test('an unknown flag is a usage error that lists the flags this config has', () => {
  const file = setup({ gateway: { component: 'a.wasm', world: 'gateway' } });
  const e = loadError(file, '--gateway-alowed-host', 'x');
  assert.equal(e.code, 'EH_CLI_USAGE');
  assert.match(e.message, /unknown option --gateway-alowed-host\./);
  assert.match(e.message, /module options for .*: --gateway-allowed-host, --gateway-dir, --gateway-url\./);
  assert.match(e.message, /--help/);
});

test('a flag without a value, or an argument that is not a flag, is a usage error', () => {
  for (const argv of [['--config'], ['--gateway-url'], ['stray']]) {
    assert.throws(
      () => parseCli(argv),
      (e: HostError) => e.code === 'EH_CLI_USAGE' && /--help/.test(e.message),
      argv.join(' '),
    );
  }
});

test('module flags come from module names: --uplink-allowed-host and --broker-socket-address for modules uplink and broker', () => {
  const file = setup({ uplink: { component: 'a.wasm', world: 'gateway' }, broker: { component: 'b.wasm', world: 'server' } });
  const config = loadConfig(
    parseCli([
      '--config',
      file,
      '--uplink-allowed-host',
      '127.0.0.1:8081',
      '--uplink-url',
      'http://127.0.0.1:8081/in',
      '--broker-socket-address',
      '127.0.0.1:1884',
    ]),
  );
  const uplink = config.modules.find((m) => m.name === 'uplink')!;
  const broker = config.modules.find((m) => m.name === 'broker')!;
  assert.deepEqual(uplink.grants.outboundHttp, {
    allowedHosts: ['127.0.0.1:8081'],
    defaultTimeoutMs: 10_000,
    maxResponseBytes: 4194304,
    maxRequestBytes: 16777216,
  });
  assert.equal(uplink.config.url, 'http://127.0.0.1:8081/in');
  assert.deepEqual((broker.grants.socket as { listen: string[] }).listen, ['127.0.0.1:1884']);
  assert.deepEqual(broker.config.listen, ['127.0.0.1:1884']);
});

test('a module gets only the flags of the capabilities its world imports', () => {
  const file = setup({ uplink: { component: 'a.wasm', world: 'gateway' } });
  const e = loadError(file, '--uplink-socket-address', '127.0.0.1:1884');
  assert.equal(e.code, 'EH_CLI_USAGE');
  assert.match(e.message, /module "uplink" has no socket capability/);
});

test('a file that is not JSON is reported as such', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'c.json'), '{ "modules": ');
  const e = loadError(join(dir, 'c.json'));
  assert.equal(e.code, 'EH_CONFIG_FILE');
  assert.match(e.message, /is not valid JSON/);
});

test('--<module>-dir mounts a directory relative to the working directory, read-only unless :rw', () => {
  const file = setup({ reader: { component: 'a.wasm', world: 'telemetry' } });
  const config = loadConfig(parseCli(['--config', file, '--reader-dir', 'shared:/config', '--reader-dir', '/var/lib/x:/data:rw']));
  assert.deepEqual(config.modules[0].grants.filesystem, {
    mounts: [
      { host: join(process.cwd(), 'shared'), guest: '/config', mode: 'ro' },
      { host: '/var/lib/x', guest: '/data', mode: 'rw' },
    ],
  });
});

test('a mount in the config file is relative to the file; a bad guest path names the key and the flag', () => {
  const file = setup({ reader: { component: 'a.wasm', world: 'telemetry', grants: { filesystem: { mounts: [{ host: 'data', guest: '/data' }] } } } });
  assert.equal(
    (loadConfig(parseCli(['--config', file])).modules[0].grants.filesystem as { mounts: { host: string }[] }).mounts[0].host,
    join(file, '..', 'data'),
  );
  const e = loadError(file, '--reader-dir', 'x:data');
  assert.match(e.message, /modules\.reader\.grants\.filesystem\.mounts\[0\]\.guest: an absolute path in the guest, such as \/data \(from --reader-dir\)/);
});

test('--log-format pretty|json sets logFormat (over the config file); without either it is left to the terminal check; another value names the key and the flag', () => {
  const file = setup({ a: { component: 'a.wasm', world: 'telemetry' } });
  assert.equal(parseCli(['--log-format', 'json']).logFormat, 'json');
  assert.equal(parseCli(['--log-format=pretty']).logFormat, 'pretty');
  assert.equal(loadConfig(parseCli(['--config', file])).logFormat, undefined);
  assert.equal(loadConfig(parseCli(['--config', file, '--log-format', 'json'])).logFormat, 'json');
  writeFileSync(file, JSON.stringify({ logFormat: 'pretty', modules: { a: { component: 'a.wasm', world: 'telemetry' } } }));
  assert.equal(loadConfig(parseCli(['--config', file])).logFormat, 'pretty');
  assert.equal(loadConfig(parseCli(['--config', file, '--log-format', 'json'])).logFormat, 'json');
  const e = loadError(file, '--log-format', 'colour');
  assert.equal(e.code, 'EH_CONFIG_INVALID');
  assert.match(e.message, /logFormat: .*"pretty".*"json".* \(from --log-format\)/);
});
