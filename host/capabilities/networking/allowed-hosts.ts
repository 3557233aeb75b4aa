// Which HTTP targets a module may reach, modelled on Spin's allowed_outbound_hosts
// (crates/factor-outbound-networking/src/config.rs). One checker for every
// capability that sends requests (edgehost:platform/outbound-http and
// wasi:http/outgoing-handler), as Spin's outbound factors share the networking
// factor's: the same entries mean the same targets in both. An entry names a scheme
// (optional), a host and a port (optional), and a request must match all three
// of one entry. Anything ambiguous is refused with a reason rather than guessed at.
//
// Hosts are compared as strings after the WHATWG URL parser has canonicalised
// both sides (lowercase, punycode, IPv4 "127.1" -> "127.0.0.1", IPv6
// compressed): there is no DNS, so "localhost" and "127.0.0.1" are different targets.

export interface AllowedHost {
  /** undefined: either http or https. */
  scheme: 'http' | 'https' | undefined;
  /**
   * Canonical and lowercase, without a trailing dot; IPv6 in brackets ("[::1]");
   * for a wildcard the suffix with its leading dot (".example.com").
   */
  host: string;
  wildcard: boolean;
  /** undefined: the default port of the request's scheme (80 or 443). */
  port: number | undefined;
  /** The entry as written, for messages. */
  source: string;
}

export class AllowedHostError extends Error {
  name = 'AllowedHostError';
}

const DEFAULT_PORTS = { http: 80, https: 443 } as const;

/** Characters a host name may contain before canonicalisation; the rest (e.g. "\", "%", "<") has URL-parser meaning. */
const HOST_NAME_CHARS = /^[a-z0-9._\-\u0080-\uffff]+$/i;
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

function stripTrailingDot(host: string): string {
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** Parses one entry; throws AllowedHostError naming the entry and the reason. */
export function parseAllowedHost(entry: string): AllowedHost {
  const fail = (reason: string): never => {
    throw new AllowedHostError(`allowed host "${entry}": ${reason}`);
  };
  if (entry === '') fail('is empty');
  if (/\s/.test(entry)) fail('contains whitespace');

  let scheme: AllowedHost['scheme'];
  let rest = entry;
  const sep = entry.indexOf('://');
  // Text before "://" that contains a "/" is a path, reported as such below.
  if (sep !== -1 && !entry.slice(0, sep).includes('/')) {
    const s = entry.slice(0, sep).toLowerCase();
    if (s === '') fail('has "://" without a scheme before it');
    if (s !== 'http' && s !== 'https') {
      fail(`scheme "${s}" is not supported: use http://, https://, or no scheme to allow both`);
    }
    scheme = s as 'http' | 'https';
    rest = entry.slice(sep + 3);
  }

  const at = rest.indexOf('@');
  if (at !== -1) fail('must not contain user info ("user@"): send credentials in request headers');
  // A lone trailing slash, as in a copied "https://example.com/", names no path.
  if (rest.endsWith('/') && rest.indexOf('/') === rest.length - 1) rest = rest.slice(0, -1);
  const pathAt = rest.search(/[/?#]/);
  if (pathAt !== -1) {
    if (rest[pathAt] === '/') fail(`must not contain a path ("${rest.slice(pathAt)}"): an entry allows every path on its host`);
    fail('must not contain a query or fragment');
  }

  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) fail('has an unclosed "[": write IPv6 addresses as [::1] or [::1]:8080');
    host = rest.slice(0, close + 1);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) fail(`has "${after}" after the IPv6 address`);
    if (after !== '') portText = after.slice(1);
  } else {
    const colons = rest.split(':').length - 1;
    if (colons > 1) fail('IPv6 addresses must be in brackets, as in [::1]:8080');
    const colon = rest.indexOf(':');
    host = colon === -1 ? rest : rest.slice(0, colon);
    if (colon !== -1) portText = rest.slice(colon + 1);
  }

  let port: number | undefined;
  if (portText !== undefined) {
    if (portText === '') fail('has an empty port after ":"');
    if (!/^\d+$/.test(portText)) fail(`port "${portText}" is not a number`);
    port = Number(portText);
    if (port < 1 || port > 65535) fail(`port ${portText} is out of range 1-65535`);
  }

  if (host === '') fail('has no host');
  if (host === '*') fail('"*" alone would allow every host: list the hosts, or use "*.example.com" for the subdomains of one domain');
  const wildcard = host.startsWith('*.');
  const name = wildcard ? host.slice(2) : host;
  if (name.includes('*')) fail('a wildcard is only allowed as the whole first label, as in "*.example.com"');
  if (name === '') fail('has no domain after "*."');

  let canonical: string;
  if (name.startsWith('[')) {
    if (!/^\[[0-9a-f:.]+\]$/i.test(name)) fail(`"${name}" is not a valid IPv6 address`);
    canonical = canonicalHost(name) ?? fail(`"${name}" is not a valid IPv6 address`);
  } else {
    if (!HOST_NAME_CHARS.test(name)) fail(`"${name}" is not a valid host name`);
    const bare = stripTrailingDot(name);
    if (bare.split('.').includes('')) fail(`"${name}" has an empty label`);
    canonical = canonicalHost(bare) ?? fail(`"${name}" is not a valid host name or IP address`);
    // IPv4 addresses have no subdomains; "*.0.1" would also canonicalise to the address 0.0.0.1.
    if (wildcard && IPV4.test(canonical)) fail('a wildcard needs a domain name after "*.", not an IP address');
  }
  return { scheme, host: wildcard ? `.${canonical}` : canonical, wildcard, port, source: entry };
}

/** The host as a request URL to it would carry it, or undefined when the URL parser refuses it. */
function canonicalHost(host: string): string | undefined {
  try {
    const url = new URL(`http://${host}/`);
    return stripTrailingDot(url.hostname);
  } catch {
    return undefined;
  }
}

/** Parses every entry; the error names the index of the first bad one. */
export function parseAllowedHosts(entries: string[]): AllowedHost[] {
  return entries.map((entry, i) => {
    try {
      return parseAllowedHost(entry);
    } catch (e) {
      throw new AllowedHostError(`allowedHosts[${i}]: ${(e as Error).message}`);
    }
  });
}

function urlScheme(url: URL): 'http' | 'https' | undefined {
  return url.protocol === 'http:' ? 'http' : url.protocol === 'https:' ? 'https' : undefined;
}

/** Whether one entry matches the URL's scheme, host and port. An empty list allows nothing. */
export function isAllowed(allowed: AllowedHost[], url: URL): boolean {
  const scheme = urlScheme(url);
  if (!scheme) return false;
  const host = stripTrailingDot(url.hostname);
  // The URL parser drops a port equal to the scheme's default.
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
  return allowed.some((a) => {
    if (a.scheme !== undefined && a.scheme !== scheme) return false;
    if ((a.port ?? DEFAULT_PORTS[scheme]) !== port) return false;
    return a.wildcard ? host.length > a.host.length && host.endsWith(a.host) : host === a.host;
  });
}

/**
 * The narrowest simple entry that allows `url`: "host:port" for an explicit
 * port (either scheme), else "scheme://host" (that scheme on its default port).
 */
export function allowEntryFor(url: URL): string {
  const host = stripTrailingDot(url.hostname);
  if (url.port !== '') return `${host}:${url.port}`;
  const scheme = urlScheme(url);
  return scheme ? `${scheme}://${host}` : host;
}
