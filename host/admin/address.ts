// The admin API's listen address: `ip:port`, `[ipv6]:port` or `off`. Port 0
// picks a free port (the host logs and records the one it got). Names are not
// accepted, for the same reason as module listeners: what is reachable must
// not depend on DNS.
import { isIP } from 'node:net';

export interface AdminAddress {
  /** IP literal without brackets. */
  host: string;
  port: number;
  /** Canonical text: "127.0.0.1:9090" or "[::1]:9090". */
  text: string;
}

/** Parses an admin address; undefined for "off". Throws an Error whose message says what is wrong. */
export function parseAdminAddress(s: string): AdminAddress | undefined {
  if (s === 'off') return undefined;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`"${s}" is not an address: expected ip:port (e.g. 127.0.0.1:9090), [ipv6]:port, or off`);
  const [, host, portText] = m;
  const family = isIP(host);
  if (family === 0) throw new Error(`"${s}": "${host}" is not an IP address (names are not accepted; use e.g. 127.0.0.1)`);
  if (family === 6 && !s.startsWith('[')) throw new Error(`"${s}": write IPv6 addresses in brackets, e.g. [::1]:9090`);
  const port = Number(portText);
  if (!Number.isInteger(port) || port > 65535) throw new Error(`"${s}": port must be 0-65535`);
  return { host, port, text: format(host, port) };
}

export function format(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Whether only this machine can reach the address: 127.0.0.0/8, ::1, or ::ffff:127.x.y.z. */
export function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.');
  const h = host.toLowerCase();
  return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
}
