// Which HTTP targets a module may reach, modelled on Spin's allowed_outbound_hosts:
// an entry is parsed into scheme, host and port, each matched on its own;
// anything odd is refused with a reason instead of being guessed at.

export interface AllowedHost {
  /** undefined: either http or https. */
  scheme: 'http' | 'https' | undefined;
  /** Lowercase, no trailing dot; for a wildcard the suffix with its leading dot ('.example.com'). */
  host: string;
  wildcard: boolean;
  /** undefined: the default port of the request's scheme (80 or 443). */
  port: number | undefined;
  /** The entry as written, for messages. */
  source: string;
}

export class AllowedHostError extends Error {}

const defaultPorts: Record<string, number> = { 'http:': 80, 'https:': 443 };
const label = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

export function parseAllowedHost(entry: string): AllowedHost {
  const fail = (reason: string): never => {
    throw new AllowedHostError(`allowed host "${entry}": ${reason}`);
  };
  const text = entry.trim();
  if (text === '') fail('is empty');
  let scheme: AllowedHost['scheme'];
  let rest = text;
  const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text);
  if (schemeMatch) {
    const s = schemeMatch[1].toLowerCase();
    if (s !== 'http' && s !== 'https') fail(`scheme "${s}" is not supported (only http and https)`);
    scheme = s as 'http' | 'https';
    rest = text.slice(schemeMatch[0].length);
  } else if (text.includes('://')) {
    fail('has a malformed scheme');
  }
  if (rest.includes('@')) fail('must not contain user info (user@host)');
  if (/[/?#]/.test(rest)) fail('must not contain a path, query or fragment; give only [scheme://]host[:port]');
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) fail('has an unclosed "[" in an IPv6 address');
    host = rest.slice(0, close + 1);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) fail('has text after the IPv6 address');
    portText = after === '' ? undefined : after.slice(1);
    if (!/^\[[0-9a-fA-F:.]+\]$/.test(host)) fail('has an invalid IPv6 address');
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon !== -1) {
      host = rest.slice(0, colon);
      portText = rest.slice(colon + 1);
    } else {
      host = rest;
    }
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText)) fail(`port "${portText}" is not a number`);
    port = Number(portText);
    if (port < 1 || port > 65535) fail(`port ${port} is out of range (1-65535)`);
  }
  if (host === '') fail('has no host');
  if (host === '*') fail('allowing every host is not supported; list the hosts (a subdomain wildcard is "*.example.com")');
  let wildcard = false;
  if (host.startsWith('*.')) {
    wildcard = true;
    host = host.slice(1); // keep the dot: '.example.com'
  }
  if (host.includes('*')) fail('a wildcard is only allowed as the whole first label ("*.example.com")');
  host = normalizeHost(host);
  if (!host.startsWith('[')) {
    const labels = (wildcard ? host.slice(1) : host).split('.');
    if (labels.some((l) => !label.test(l))) fail(`"${host}" is not a valid host name or IP address`);
  }
  return { scheme, host, wildcard, port, source: entry };
}

export function parseAllowedHosts(entries: string[]): AllowedHost[] {
  return entries.map((e, i) => {
    try {
      return parseAllowedHost(e);
    } catch (err) {
      throw new AllowedHostError(`allowedHosts[${i}]: ${(err as Error).message}`);
    }
  });
}

/** No DNS: a name and the address it resolves to are different targets. */
export function isAllowed(allowed: AllowedHost[], url: URL): boolean {
  const scheme = url.protocol === 'http:' ? 'http' : url.protocol === 'https:' ? 'https' : undefined;
  if (!scheme) return false;
  const host = normalizeHost(url.hostname);
  const port = url.port === '' ? defaultPorts[url.protocol] : Number(url.port);
  return allowed.some((a) => {
    if (a.scheme !== undefined && a.scheme !== scheme) return false;
    if ((a.port ?? defaultPorts[url.protocol]) !== port) return false;
    return a.wildcard ? host.endsWith(a.host) && host.length > a.host.length : host === a.host;
  });
}

/** The entry a user would add to allow `url`: "127.0.0.1:9999", or "https://api.example.com". */
export function allowEntryFor(url: URL): string {
  const host = url.hostname;
  if (url.port !== '') return `${host}:${url.port}`;
  return url.protocol === 'https:' ? `https://${host}` : host;
}
