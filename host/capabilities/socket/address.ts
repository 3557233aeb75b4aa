import { isIP } from 'node:net';

export interface ListenAddress {
  /** IP literal without brackets. */
  host: string;
  port: number;
  /** Canonical text: "127.0.0.1:8080" or "[::1]:8080". */
  text: string;
}

/**
 * Parses `ip:port` or `[ipv6]:port`. Only IP literals: a name would make the
 * grant depend on DNS, and binding to every interface must be said explicitly
 * (`0.0.0.0:port`).
 */
export function parseListenAddress(s: string): ListenAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`"${s}" is not an address: expected ip:port, e.g. 127.0.0.1:8080 or [::1]:8080`);
  const [, host, portText] = m;
  const family = isIP(host);
  if (family === 0) throw new Error(`"${s}": "${host}" is not an IP address (names are not accepted; use e.g. 127.0.0.1)`);
  if (family === 6 && !s.startsWith('[')) throw new Error(`"${s}": write IPv6 addresses in brackets, e.g. [::1]:8080`);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${s}": port must be 1-65535`);
  return { host, port, text: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}
