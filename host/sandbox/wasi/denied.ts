// The WASI capabilities edgehost never grants. Each refuses the way the WASI
// interface itself defines refusal (an error code the guest can handle), so a
// guest sees "access denied", not a crash. Anything not listed here traps.

type Denied = (capability: string, target: string, allowWith: string) => string;

const err = <E>(val: E) => ({ tag: 'err' as const, val });

export function createDeniedWasi(denied: Denied) {
  // No preopened directories: wasi:filesystem has nothing to open, so no descriptor can exist.
  class Descriptor {}
  class DirectoryEntryStream {}
  const filesystem = {
    'wasi:filesystem/preopens': { getDirectories: () => [] },
    'wasi:filesystem/types': { Descriptor, DirectoryEntryStream, filesystemErrorCode: () => undefined },
  };

  const socketsHint = 'no grant: modules get network access only through edgehost:platform/outbound-http and edgehost:platform/socket';
  class Network {}
  class TcpSocket {}
  class UdpSocket {}
  class IncomingDatagramStream {}
  class OutgoingDatagramStream {}
  class ResolveAddressStream {}
  const network = new Network();
  const sockets = {
    'wasi:sockets/network': { Network, networkErrorCode: () => undefined },
    'wasi:sockets/instance-network': { instanceNetwork: () => network },
    'wasi:sockets/tcp-create-socket': {
      createTcpSocket(family: string) {
        denied('wasi:sockets', `tcp socket (${family})`, socketsHint);
        return err('access-denied');
      },
    },
    'wasi:sockets/udp-create-socket': {
      createUdpSocket(family: string) {
        denied('wasi:sockets', `udp socket (${family})`, socketsHint);
        return err('access-denied');
      },
    },
    'wasi:sockets/tcp': { TcpSocket },
    'wasi:sockets/udp': { UdpSocket, IncomingDatagramStream, OutgoingDatagramStream },
    'wasi:sockets/ip-name-lookup': {
      ResolveAddressStream,
      resolveAddresses(_network: Network, name: string) {
        denied('wasi:sockets', `name lookup of ${name}`, socketsHint);
        return err('access-denied');
      },
    },
  };

  // Enough of wasi:http/types to build a request, so the refusal happens where
  // WASI defines it: outgoing-handler.handle answers HTTP-request-denied.
  class Fields {
    #entries: [string, Uint8Array][] = [];
    static fromList(entries: [string, Uint8Array][]) {
      const f = new Fields();
      f.#entries = [...entries];
      return f;
    }
    get(name: string) {
      return this.#entries.filter(([n]) => n === name.toLowerCase()).map(([, v]) => v);
    }
    has(name: string) {
      return this.#entries.some(([n]) => n === name.toLowerCase());
    }
    set(name: string, values: Uint8Array[]) {
      this.delete(name);
      for (const v of values) this.#entries.push([name.toLowerCase(), v]);
    }
    delete(name: string) {
      this.#entries = this.#entries.filter(([n]) => n !== name.toLowerCase());
    }
    append(name: string, value: Uint8Array) {
      this.#entries.push([name.toLowerCase(), value]);
    }
    entries() {
      return [...this.#entries];
    }
    clone() {
      return Fields.fromList(this.#entries);
    }
  }
  class OutgoingRequest {
    #headers: Fields;
    method: unknown = { tag: 'get' };
    scheme: unknown = undefined;
    authority: string | undefined = undefined;
    path: string | undefined = undefined;
    constructor(headers: Fields) {
      this.#headers = headers;
    }
    headers() {
      return this.#headers;
    }
    body() {
      return err(undefined);
    }
    setMethod(m: unknown) {
      this.method = m;
    }
    getMethod() {
      return this.method;
    }
    setScheme(s: unknown) {
      this.scheme = s;
    }
    getScheme() {
      return this.scheme;
    }
    setAuthority(a?: string) {
      this.authority = a;
    }
    getAuthority() {
      return this.authority;
    }
    setPathWithQuery(p?: string) {
      this.path = p;
    }
    getPathWithQuery() {
      return this.path;
    }
  }
  class RequestOptions {
    setConnectTimeout() {}
    setFirstByteTimeout() {}
    setBetweenBytesTimeout() {}
    connectTimeout() {
      return undefined;
    }
    firstByteTimeout() {
      return undefined;
    }
    betweenBytesTimeout() {
      return undefined;
    }
  }
  const httpTypes: Record<string, unknown> = {
    Fields,
    OutgoingRequest,
    RequestOptions,
    httpErrorCode: () => undefined,
  };
  for (const name of [
    'IncomingRequest',
    'OutgoingResponse',
    'OutgoingBody',
    'IncomingResponse',
    'IncomingBody',
    'FutureIncomingResponse',
    'FutureTrailers',
    'ResponseOutparam',
  ]) {
    httpTypes[name] = class {};
  }
  const http = {
    'wasi:http/types': httpTypes,
    'wasi:http/outgoing-handler': {
      handle(req: OutgoingRequest) {
        denied(
          'wasi:http',
          `request to ${req.authority ?? '(no authority)'}`,
          'no grant: a module whose world imports wasi:http/outgoing-handler (wasi:http/proxy, http-service) may send to grants.http.allowedHosts; others use edgehost:platform/outbound-http',
        );
        return err({ tag: 'HTTP-request-denied' });
      },
    },
  };
  return { ...filesystem, ...sockets, ...http };
}
