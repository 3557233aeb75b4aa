// What a failed connection attempt means, in one line that names the bridge and what to fix.
// Pure: the connection passes the error MQTT.js (or the socket, or TLS) reported.
import type { ErrorCode } from '../errors.ts';
import type { PasswordSource } from './config.ts';

export interface Diagnosis {
  code: ErrorCode;
  /** Same kind, same problem: repeats of it are counted, not logged again. */
  kind: string;
  /** What happened and what to do about it; no secrets. */
  message: string;
}

export interface DiagnosisContext {
  name: string;
  host: string;
  port: number;
  secure: boolean;
  clientId: string;
  username?: string;
  password?: PasswordSource;
  /** The name the broker's certificate must carry. */
  servername: string;
  protocolVersion: 4 | 5;
}

const CERT_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);
const UNREACHABLE = new Set(['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);

/** CONNACK codes (3.1.1 return codes 1-5, MQTT 5 reason codes from 0x80) that mean the protocol version. */
export const UNSUPPORTED_PROTOCOL = new Set([1, 132]);

function passwordWhere(ctx: DiagnosisContext): string {
  if (!ctx.password) return `set bridges.${ctx.name}.passwordFile or passwordEnv`;
  return 'file' in ctx.password
    ? `check the password in ${ctx.password.file} (bridges.${ctx.name}.passwordFile)`
    : `check the password in $${ctx.password.env} (bridges.${ctx.name}.passwordEnv)`;
}

/** A refused CONNACK: `rc` is the 3.1.1 return code or the MQTT 5 reason code. */
function refused(rc: number, reason: string, ctx: DiagnosisContext): Diagnosis {
  const b = `bridges.${ctx.name}`;
  const kind = `connack:${rc}`;
  switch (rc) {
    case 4:
    case 134:
      return {
        code: 'EH_BRIDGE_AUTH',
        kind,
        message:
          ctx.username === undefined
            ? `the broker wants a username and password (${reason}); set ${b}.username and ${b}.passwordFile or passwordEnv`
            : `the broker refused the username "${ctx.username}" or its password (${reason}); check ${b}.username, and ${passwordWhere(ctx)}`,
      };
    case 5:
    case 135:
      // Mosquitto answers a wrong password with "not authorized" too.
      return {
        code: 'EH_BRIDGE_AUTH',
        kind,
        message:
          ctx.username === undefined
            ? `the broker does not let anonymous clients connect (${reason}); set ${b}.username and ${b}.passwordFile or passwordEnv`
            : `the broker did not let user "${ctx.username}" connect (${reason}): a wrong password, or its ACL refuses this user or client id "${ctx.clientId}"; ${passwordWhere(ctx)} and the broker's ACL`,
      };
    case 2:
    case 133:
      return {
        code: 'EH_BRIDGE_REFUSED',
        kind,
        message: `the broker rejected client id "${ctx.clientId}" (${reason}); set ${b}.clientId to one it accepts (some brokers take only 23 letters and digits)`,
      };
    case 1:
    case 132:
      return {
        code: 'EH_BRIDGE_REFUSED',
        kind,
        message: `the broker does not speak MQTT ${ctx.protocolVersion === 5 ? '5' : '3.1.1'} (${reason}); set ${b}.protocolVersion`,
      };
    case 140:
      return {
        code: 'EH_BRIDGE_AUTH',
        kind,
        message: `the broker wants another authentication method (${reason}); bridges support username and password only`,
      };
    default:
      return { code: 'EH_BRIDGE_REFUSED', kind, message: `the broker refused the connection (${reason || `code ${rc}`}); retrying with backoff` };
  }
}

/**
 * Classifies why an attempt failed: `error` is what MQTT.js emitted before CONNACK (an
 * Error with a numeric `code` for a refused CONNACK, a Node system or TLS error with a
 * string `code`), or undefined when the connection just closed.
 */
export function diagnose(error: unknown, ctx: DiagnosisContext): Diagnosis {
  const where = `${ctx.host}:${ctx.port}`;
  const b = `bridges.${ctx.name}`;
  const e = error as (Error & { code?: unknown }) | undefined;
  const code = e?.code;
  const reason = e?.message ?? '';
  if (typeof code === 'number') return refused(code, reason.replace(/^Connection refused: /, ''), ctx);
  if (code === 'ECONNREFUSED') {
    return {
      code: 'EH_BRIDGE_UNREACHABLE',
      kind: 'ECONNREFUSED',
      message: `nothing accepts connections at ${where} (connection refused); check ${b}.url and that the broker is running`,
    };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return {
      code: 'EH_BRIDGE_UNREACHABLE',
      kind: String(code),
      message: `cannot resolve the host name "${ctx.host}" (${code}); check ${b}.url and this host's DNS`,
    };
  }
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return { code: 'EH_BRIDGE_UNREACHABLE', kind: code, message: `cannot reach ${where} (${code}); check ${b}.url, the network path and firewalls` };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = (e as { cert?: { subjectaltname?: string; subject?: { CN?: string } } }).cert;
    const detail = names?.subjectaltname ? `it names ${names.subjectaltname}` : names?.subject?.CN ? `it names CN=${names.subject.CN}` : reason;
    return {
      code: 'EH_BRIDGE_TLS',
      kind: code,
      message: `the broker's certificate is not valid for "${ctx.servername}" (${detail}); connect by a name the certificate lists, or set ${b}.tls.servername to one`,
    };
  }
  if (typeof code === 'string' && CERT_UNTRUSTED.has(code)) {
    return {
      code: 'EH_BRIDGE_TLS',
      kind: code,
      message: `the broker's certificate is not signed by a CA this host trusts (${code}); set ${b}.tls.ca to the PEM file of the CA that signed it`,
    };
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return {
      code: 'EH_BRIDGE_TLS',
      kind: code,
      message: `the broker's certificate is not valid now (${code}); renew it on the broker, or check this host's clock`,
    };
  }
  if (typeof code === 'string' && code.startsWith('ERR_OSSL_')) {
    return {
      code: 'EH_BRIDGE_TLS',
      kind: code,
      message: `the TLS files could not be used (${reason}); check that ${b}.tls.cert, key and ca are PEM files that belong together`,
    };
  }
  if ((typeof code === 'string' && code.startsWith('ERR_SSL_')) || code === 'EPROTO') {
    return {
      code: 'EH_BRIDGE_TLS',
      kind: String(code),
      message: `the TLS handshake with ${where} failed (${reason}); check that the port is a TLS listener, or use mqtt:// or ws:// for a plain one`,
    };
  }
  if (reason === 'connack timeout') {
    return {
      code: 'EH_BRIDGE_UNREACHABLE',
      kind: 'connack-timeout',
      message: `${where} took the connection but did not answer CONNECT in time; check that ${b}.url names an MQTT listener${ctx.secure ? '' : ' (a TLS listener needs mqtts:// or wss://)'}`,
    };
  }
  const hint = ctx.secure
    ? 'check that the port is a TLS listener (use mqtt:// or ws:// for a plain one)'
    : 'check the port (a TLS listener needs mqtts:// or wss://)';
  if (code === 'ECONNRESET' || code === 'EPIPE' || error === undefined) {
    return { code: 'EH_BRIDGE_UNREACHABLE', kind: String(code ?? 'closed'), message: `${where} closed the connection before answering CONNECT; ${hint}` };
  }
  return {
    code: 'EH_BRIDGE_UNREACHABLE',
    kind: String(code ?? reason),
    message: `cannot connect to ${where} (${code ?? ''}${code ? ': ' : ''}${reason}); ${hint}`,
  };
}
