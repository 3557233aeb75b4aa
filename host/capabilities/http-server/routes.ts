// Which module answers a request on a shared address: each module claims
// routes, a host pattern and a path prefix, and the most specific route that
// matches wins. Pure (no I/O): the config check (`checkAll`) and the listeners
// use the same rules, so a conflict refused at config load is the one a
// listener would refuse at run time.
//
// A route is written `[host][/path]`:
//   "api.example.com/v1"   host api.example.com, paths /v1, /v1/..., /v1?...
//   "*.example.com"        any subdomain of example.com (not example.com itself), any path
//   "/metrics"             any host, paths under /metrics
//   "example.com"          that host, any path
// Host names are compared lowercase without a trailing dot, and a request's
// Host header without its port (the listener already chose the port). Paths
// are compared byte for byte, and a prefix ends at a segment boundary: "/api"
// matches "/api", "/api/x" and "/api?q", not "/apix".
//
// Specificity: an exact host beats a wildcard, a longer wildcard suffix beats
// a shorter one, any wildcard beats "any host"; between routes of equal host
// rank, the longer path prefix wins. Hosts first, as virtual hosts come before
// locations in a web server.

export interface Route {
  /** Lowercase host name; for a wildcard, the suffix with its dot (".example.com"); undefined: any host. */
  host: string | undefined;
  wildcard: boolean;
  /** Starts with "/", no trailing "/" except the root itself. */
  path: string;
  /** As written, for messages. */
  source: string;
}

export class RouteError extends Error {
  name = 'RouteError';
}

const HOST = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const PATH_CHARS = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

/** Parses one route; throws a RouteError naming the route and the reason. */
export function parseRoute(text: string): Route {
  const fail = (reason: string): never => {
    throw new RouteError(`route "${text}": ${reason}`);
  };
  if (text === '') fail('is empty: use "/" for every path of every host');
  if (/\s/.test(text)) fail('contains whitespace');
  if (text.includes('://')) fail('has a scheme: write the host and path only, as in "example.com/api"');
  const slash = text.indexOf('/');
  const hostText = (slash === -1 ? text : text.slice(0, slash)).toLowerCase().replace(/\.$/, '');
  let path = slash === -1 ? '/' : text.slice(slash);
  if (/[?#]/.test(path)) fail('must not contain a query or fragment: a route is a path prefix');
  if (!PATH_CHARS.test(path)) fail(`path "${path}" has characters a request path cannot have unescaped`);
  if (path.split('/').some((s) => s === '.' || s === '..')) fail('path must not contain "." or ".." segments');
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  if (hostText === '' || hostText === '*') return { host: undefined, wildcard: false, path, source: text };
  if (hostText.includes(':')) fail('must not name a port: the listen address decides the port');
  if (!HOST.test(hostText)) fail(`"${hostText}" is not a host name (letters, digits, dashes and dots, or "*." then a domain)`);
  const wildcard = hostText.startsWith('*.');
  return { host: wildcard ? hostText.slice(1) : hostText, wildcard, path, source: text };
}

/** The key two routes conflict on: the same host pattern and the same path. */
export function routeKey(r: Route): string {
  return `${r.host === undefined ? '*' : r.wildcard ? `*${r.host}` : r.host}${r.path}`;
}

/** How specific a route's host is: higher wins. */
function hostRank(r: Route): number {
  if (r.host === undefined) return 0;
  // Wildcards rank by suffix length, always below an exact host.
  return r.wildcard ? 1 + r.host.length : 1_000_000;
}

/** Lowercase, without the port and a trailing dot: how a Host header is compared. */
export function requestHost(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) host = host.slice(0, host.indexOf(']') + 1);
  else if (host.includes(':')) host = host.slice(0, host.indexOf(':'));
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function hostMatches(r: Route, host: string): boolean {
  if (r.host === undefined) return true;
  return r.wildcard ? host.length > r.host.length && host.endsWith(r.host) : host === r.host;
}

function pathMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  const next = path.charAt(prefix.length);
  return next === '' || next === '/' || next === '?';
}

/** Routes of several owners (modules) on one address: finds the owner of a request, refuses a second owner of a route. */
export class RouteTable<Owner> {
  readonly #routes: { route: Route; owner: Owner; label: string }[] = [];

  /**
   * Adds an owner's routes; throws a RouteError naming both owners when
   * another owner already has one of them. `label` names a route in messages.
   */
  add(owner: Owner, routes: Route[], label: (route: Route, index: number) => string): void {
    const taken = new Map(this.#routes.map((e) => [routeKey(e.route), e]));
    routes.forEach((route, i) => {
      const other = taken.get(routeKey(route));
      if (other && other.owner !== owner) {
        throw new RouteError(`${other.label} and ${label(route, i)} claim the same route: give one of them another host or path`);
      }
    });
    routes.forEach((route, i) => {
      if (!taken.has(routeKey(route))) this.#routes.push({ route, owner, label: label(route, i) });
    });
    // Most specific first, so that the first match is the one that wins.
    this.#routes.sort((a, b) => hostRank(b.route) - hostRank(a.route) || b.route.path.length - a.route.path.length);
  }

  /** A copy without `owner`'s routes: to check what a new set of its routes would conflict with. */
  without(owner: Owner): RouteTable<Owner> {
    const copy = new RouteTable<Owner>();
    for (const e of this.#routes) if (e.owner !== owner) copy.#routes.push(e);
    return copy;
  }

  remove(owner: Owner): void {
    for (let i = this.#routes.length - 1; i >= 0; i--) if (this.#routes[i].owner === owner) this.#routes.splice(i, 1);
  }

  get size(): number {
    return this.#routes.length;
  }

  /** The owner of the most specific route matching the request, if any. */
  match(hostHeader: string | undefined, pathWithQuery: string): { owner: Owner; route: Route } | undefined {
    const host = requestHost(hostHeader);
    for (const e of this.#routes) if (hostMatches(e.route, host) && pathMatches(e.route.path, pathWithQuery)) return { owner: e.owner, route: e.route };
    return undefined;
  }
}
