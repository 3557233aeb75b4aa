import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCli } from '../../../host/config/cli.ts';
import { loadConfig } from '../../../host/config/load.ts';
import { HostError } from '../../../host/errors.ts';
import { tempDir } from '../../support/paths.ts';

const telemetry = { component: 'a.wasm', world: 'telemetry', grants: { pubsub: { publish: ['telemetry/#'] } } };

function setup(bridges?: Record<string, unknown>): { file: string; dir: string } {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.wasm'), '');
  const file = join(dir, 'edgehost.json');
  writeFileSync(file, JSON.stringify({ modules: { telemetry }, ...(bridges ? { bridges } : {}) }));
  return { file, dir };
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

const out = [{ filter: 'telemetry/#' }];

test('a bridge gets its defaults: a stable client id, MQTT 5, QoS 1, empty prefixes, a week of session', () => {
  const { file } = setup({ cloud: { url: 'mqtts://broker.example.com', out } });
  const [b] = loadConfig(parseCli(['--config', file])).bridges;
  assert.equal(b.name, 'cloud');
  assert.equal(b.clientId, `edgehost-${hostname()}-cloud`);
  assert.deepEqual(b.broker, { scheme: 'mqtts', host: 'broker.example.com', port: 8883, path: '', secure: true });
  assert.equal(b.protocolVersion, 5);
  assert.deepEqual(b.out, [{ filter: 'telemetry/#', localPrefix: '', remotePrefix: '', qos: 1 }]);
  assert.deepEqual(b.in, []);
  assert.equal(b.sessionExpirySeconds, 604_800);
  assert.deepEqual(b.reconnect, { initialMs: 500, maxMs: 30_000 });
  assert.equal(b.password, undefined);
});

test('--bridge creates the bridge "default": everything out at QoS 1, nothing in', () => {
  const { file } = setup();
  const [b] = loadConfig(parseCli(['--config', file, '--bridge', 'ws://127.0.0.1:9001/mqtt'])).bridges;
  assert.equal(b.name, 'default');
  assert.deepEqual(b.broker, { scheme: 'ws', host: '127.0.0.1', port: 9001, path: '/mqtt', secure: false });
  assert.deepEqual(b.out, [{ filter: '#', localPrefix: '', remotePrefix: '', qos: 1 }]);
  assert.deepEqual(b.in, []);
});

test('--bridge points an existing "default" bridge elsewhere and keeps its rules', () => {
  const { file } = setup({ default: { url: 'mqtt://a', clientId: 'x', in: [{ filter: 'cmd/#' }] } });
  const [b] = loadConfig(parseCli(['--config', file, '--bridge', 'mqtt://b:1884'])).bridges;
  assert.equal(b.url, 'mqtt://b:1884');
  assert.deepEqual(b.out, []);
  assert.equal(b.in[0].filter, 'cmd/#');
});

test('a bad --bridge URL names the key and the flag', () => {
  const { file } = setup();
  const e = loadError(file, '--bridge', 'http://broker');
  assert.equal(e.code, 'EH_CONFIG_INVALID');
  assert.match(e.message, /bridges\.default\.url: scheme "http:" is not a broker scheme; use mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/ \(from --bridge\)/);
});

test('--bridge given twice is a usage error', () => {
  assert.throws(
    () => parseCli(['--bridge', 'mqtt://a', '--bridge', 'mqtt://b']),
    (e: HostError) => e.code === 'EH_CLI_USAGE' && /--bridge was given more than once/.test(e.message),
  );
});

test('credentials in the URL, and a password inline, are refused with where to put them', () => {
  const { file } = setup({ cloud: { url: 'mqtt://user:secret@broker', out, password: 'secret' } });
  const e = loadError(file);
  assert.match(e.message, /bridges\.cloud\.url: credentials in the URL would be logged with it; remove them and use username with passwordFile or passwordEnv/);
  assert.match(e.message, /bridges\.cloud\.password: a password is not written in the config .*; use passwordFile or passwordEnv/);
});

test('the password file is relative to the config file and must be readable; the variable must be set', () => {
  const { file, dir } = setup({
    a: { url: 'mqtt://h', out, username: 'u', passwordFile: 'missing.txt' },
    b: { url: 'mqtt://h', out, username: 'u', passwordEnv: 'EDGEHOST_TEST_UNSET_VARIABLE' },
  });
  const e = loadError(file);
  assert.ok(
    e.message.includes(`${file}: bridges.a.passwordFile: cannot read ${join(dir, 'missing.txt')} (ENOENT); the path is relative to the config file`),
    e.message,
  );
  assert.match(e.message, /bridges\.b\.passwordEnv: the environment variable EDGEHOST_TEST_UNSET_VARIABLE is not set/);
});

test('a readable password file resolves to its absolute path; the password itself is not in the config', () => {
  const { file, dir } = setup({ a: { url: 'mqtt://h', out, username: 'u', passwordFile: 'pw' } });
  writeFileSync(join(dir, 'pw'), 'secret\n');
  const [b] = loadConfig(parseCli(['--config', file])).bridges;
  assert.deepEqual(b.password, { file: join(dir, 'pw') });
  assert.ok(!JSON.stringify(b).includes('secret'));
});

test('TLS options on a plain URL, half a client certificate, and a password without a user are refused', () => {
  const { file } = setup({ a: { url: 'mqtt://h', out, tls: { cert: 'c.pem' }, passwordEnv: 'HOME' } });
  const e = loadError(file);
  assert.match(e.message, /bridges\.a\.tls: TLS options apply to mqtts:\/\/ and wss:\/\/ URLs, and the url is mqtt:\/\//);
  assert.match(e.message, /bridges\.a\.tls\.key: a client certificate needs both cert and key/);
  assert.match(e.message, /bridges\.a\.username: a password needs a username/);
});

test('rules: QoS 2, wildcards in a prefix, a prefix without "/", a bad filter and no rules at all are refused by key', () => {
  const { file } = setup({
    a: { url: 'mqtt://h', out: [{ filter: 'a/#', qos: 2 }, { filter: 'b', remotePrefix: 'site/+/' }, { filter: 'c', localPrefix: 'x' }, { filter: 'd/#/e' }] },
    b: { url: 'mqtt://h' },
  });
  const e = loadError(file);
  assert.match(e.message, /bridges\.a\.out\[0\]\.qos: qos is 0 or 1/);
  assert.match(e.message, /bridges\.a\.out\[1\]\.remotePrefix: a prefix has no wildcards/);
  assert.match(e.message, /bridges\.a\.out\[2\]\.localPrefix: a prefix ends with "\/"/);
  assert.match(e.message, /bridges\.a\.out\[3\]\.filter: filter "d\/#\/e": # must be the whole last level/);
  assert.match(e.message, /bridges\.b\.out: a bridge with no out and no in rules does nothing/);
});

test('in rules that overlap are refused: the broker could send a message twice', () => {
  const { file } = setup({ a: { url: 'mqtt://h', in: [{ filter: 'a/#' }, { filter: 'b/#' }, { filter: 'a/+/c' }] } });
  const e = loadError(file);
  assert.match(e.message, /bridges\.a\.in\[2\]\.filter: overlaps in\[0\]: a message matching both could arrive twice; merge the two rules/);
  assert.doesNotMatch(e.message, /in\[1\]/);
});

test('over MQTT 3.1.1 an in rule that matches what an out rule sends is refused; distinct prefixes are fine', () => {
  const { file } = setup({ a: { url: 'mqtt://h', protocolVersion: 4, out: [{ filter: 'telemetry/#' }], in: [{ filter: 'telemetry/+' }] } });
  const e = loadError(file);
  assert.match(e.message, /bridges\.a\.in\[0\]\.filter: matches what out\[0\] sends, and MQTT 3\.1\.1 has no no-local/);
  const ok = setup({
    a: {
      url: 'mqtt://h',
      protocolVersion: 4,
      out: [{ filter: 'telemetry/#', remotePrefix: 'site/a/' }],
      in: [{ filter: 'telemetry/#', remotePrefix: 'site/b/' }],
    },
  });
  assert.equal(loadConfig(parseCli(['--config', ok.file])).bridges[0].protocolVersion, 4);
  // MQTT 5 has No Local: the same overlap is fine.
  const v5 = setup({ a: { url: 'mqtt://h', out: [{ filter: 'telemetry/#' }], in: [{ filter: 'telemetry/#' }] } });
  assert.equal(loadConfig(parseCli(['--config', v5.file])).bridges.length, 1);
});

test('a bridge name follows the module name rule, and unknown keys are refused', () => {
  const { file } = setup({ Cloud: { url: 'mqtt://h', out }, ok: { url: 'mqtt://h', out, qos: 1 } });
  const e = loadError(file);
  assert.match(e.message, /bridges\.Cloud: bad name: bridge names are lowercase letters, digits and dashes/);
  assert.match(e.message, /bridges\.ok: unknown key "qos": remove it or fix the spelling/);
});

test('--help lists --bridge', async () => {
  const { usage } = await import('../../../host/config/flags.ts');
  assert.match(usage(undefined, 'edgehost.json'), /--bridge <url>\s+Bridge the bus to an MQTT broker/);
});
