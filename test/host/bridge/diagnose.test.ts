import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DiagnosisContext, diagnose } from '../../../host/bridge/diagnose.ts';

const ctx: DiagnosisContext = {
  name: 'cloud',
  host: 'broker.example.com',
  port: 8883,
  secure: true,
  clientId: 'gw-1',
  username: 'gw',
  password: { file: '/etc/edgehost/cloud.password' },
  servername: 'broker.example.com',
  protocolVersion: 5,
};

const connack = (code: number, message: string) => Object.assign(new Error(`Connection refused: ${message}`), { code });
const system = (code: string, message = code) => Object.assign(new Error(message), { code });

test('refused credentials name the user and where the password comes from', () => {
  for (const rc of [4, 134, 5, 135]) {
    const d = diagnose(connack(rc, 'Bad username or password'), ctx);
    assert.equal(d.code, 'EH_BRIDGE_AUTH', `rc ${rc}`);
    assert.match(d.message, /user(name)? "gw"/);
    assert.match(d.message, /\/etc\/edgehost\/cloud\.password \(bridges\.cloud\.passwordFile\)/);
  }
  const env = diagnose(connack(134, 'Bad User Name or Password'), { ...ctx, password: { env: 'CLOUD_PASSWORD' } });
  assert.match(env.message, /\$CLOUD_PASSWORD \(bridges\.cloud\.passwordEnv\)/);
  const anonymous = diagnose(connack(5, 'Not authorized'), { ...ctx, username: undefined, password: undefined });
  assert.match(anonymous.message, /does not let anonymous clients connect.*set bridges\.cloud\.username and bridges\.cloud\.passwordFile or passwordEnv/);
});

test('a rejected client id says which key to change', () => {
  const d = diagnose(connack(133, 'Client Identifier not valid'), ctx);
  assert.equal(d.code, 'EH_BRIDGE_REFUSED');
  assert.match(d.message, /client id "gw-1".*bridges\.cloud\.clientId/);
});

test('network failures say what could not be reached and which key names it', () => {
  assert.match(
    diagnose(system('ECONNREFUSED'), ctx).message,
    /nothing accepts connections at broker\.example\.com:8883 \(connection refused\); check bridges\.cloud\.url/,
  );
  assert.match(diagnose(system('ENOTFOUND'), ctx).message, /cannot resolve the host name "broker\.example\.com"/);
  assert.match(diagnose(system('EHOSTUNREACH'), ctx).message, /cannot reach broker\.example\.com:8883 \(EHOSTUNREACH\)/);
  assert.match(diagnose(new Error('connack timeout'), { ...ctx, secure: false }).message, /did not answer CONNECT in time.*a TLS listener needs mqtts:\/\//);
  assert.match(diagnose(undefined, ctx).message, /closed the connection before answering CONNECT; check that the port is a TLS listener/);
  for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH']) assert.equal(diagnose(system(code), ctx).code, 'EH_BRIDGE_UNREACHABLE');
});

test('TLS failures: a name mismatch lists what the certificate names; an unknown CA points at tls.ca', () => {
  const altname = Object.assign(system('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), {
    cert: { subjectaltname: 'DNS:other.example' },
  });
  const d = diagnose(altname, ctx);
  assert.equal(d.code, 'EH_BRIDGE_TLS');
  assert.equal(
    d.message,
    `the broker's certificate is not valid for "broker.example.com" (it names DNS:other.example); connect by a name the certificate lists, or set bridges.cloud.tls.servername to one`,
  );
  assert.match(diagnose(system('SELF_SIGNED_CERT_IN_CHAIN'), ctx).message, /not signed by a CA this host trusts.*bridges\.cloud\.tls\.ca/);
  assert.match(diagnose(system('CERT_HAS_EXPIRED'), ctx).message, /renew it on the broker/);
  assert.match(diagnose(system('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'), ctx).message, /TLS handshake .* failed/);
  const badKey = diagnose(system('ERR_OSSL_PEM_NO_START_LINE', 'error:0480006C:PEM routines::no start line'), ctx);
  assert.equal(badKey.code, 'EH_BRIDGE_TLS');
  assert.match(badKey.message, /the TLS files could not be used .*bridges\.cloud\.tls\.cert, key and ca/);
});

test('the same problem twice has the same kind; a different one another', () => {
  assert.equal(diagnose(system('ECONNREFUSED'), ctx).kind, diagnose(system('ECONNREFUSED'), ctx).kind);
  assert.notEqual(diagnose(system('ECONNREFUSED'), ctx).kind, diagnose(connack(135, 'Not authorized'), ctx).kind);
});
