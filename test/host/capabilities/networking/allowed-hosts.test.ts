import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AllowedHost,
  AllowedHostError,
  allowEntryFor,
  isAllowed,
  parseAllowedHost,
  parseAllowedHosts,
} from '../../../../host/capabilities/networking/allowed-hosts.ts';

const parsed: [string, Omit<AllowedHost, 'source'>][] = [
  ['example.com', { scheme: undefined, host: 'example.com', wildcard: false, port: undefined }],
  ['Example.COM', { scheme: undefined, host: 'example.com', wildcard: false, port: undefined }],
  ['example.com.', { scheme: undefined, host: 'example.com', wildcard: false, port: undefined }],
  ['example.com:8080', { scheme: undefined, host: 'example.com', wildcard: false, port: 8080 }],
  ['https://api.example.com', { scheme: 'https', host: 'api.example.com', wildcard: false, port: undefined }],
  ['HTTP://example.com:1', { scheme: 'http', host: 'example.com', wildcard: false, port: 1 }],
  ['https://example.com:65535', { scheme: 'https', host: 'example.com', wildcard: false, port: 65535 }],
  ['https://example.com/', { scheme: 'https', host: 'example.com', wildcard: false, port: undefined }],
  ['*.example.com', { scheme: undefined, host: '.example.com', wildcard: true, port: undefined }],
  ['https://*.Example.com:8443', { scheme: 'https', host: '.example.com', wildcard: true, port: 8443 }],
  ['127.0.0.1', { scheme: undefined, host: '127.0.0.1', wildcard: false, port: undefined }],
  ['127.0.0.1:9999', { scheme: undefined, host: '127.0.0.1', wildcard: false, port: 9999 }],
  ['127.1', { scheme: undefined, host: '127.0.0.1', wildcard: false, port: undefined }], // as a URL would read it
  ['[::1]', { scheme: undefined, host: '[::1]', wildcard: false, port: undefined }],
  ['[::1]:8080', { scheme: undefined, host: '[::1]', wildcard: false, port: 8080 }],
  ['http://[0:0:0:0:0:0:0:1]:8080', { scheme: 'http', host: '[::1]', wildcard: false, port: 8080 }],
  ['[2001:DB8::1]', { scheme: undefined, host: '[2001:db8::1]', wildcard: false, port: undefined }],
  ['localhost', { scheme: undefined, host: 'localhost', wildcard: false, port: undefined }],
  ['my_service:8080', { scheme: undefined, host: 'my_service', wildcard: false, port: 8080 }],
  ['bücher.de', { scheme: undefined, host: 'xn--bcher-kva.de', wildcard: false, port: undefined }],
];

test('parseAllowedHost: accepted forms', () => {
  for (const [entry, want] of parsed) {
    assert.deepEqual(parseAllowedHost(entry), { ...want, source: entry }, entry);
  }
});

const rejected: [string, string][] = [
  ['', 'is empty'],
  [' example.com', 'contains whitespace'],
  ['example.com/api', 'must not contain a path ("/api"): an entry allows every path on its host'],
  ['https://example.com/api/v1', 'must not contain a path ("/api/v1"): an entry allows every path on its host'],
  ['example.com//', 'must not contain a path ("//"): an entry allows every path on its host'],
  ['example.com?x=1', 'must not contain a query or fragment'],
  ['example.com#top', 'must not contain a query or fragment'],
  ['user@example.com', 'must not contain user info ("user@"): send credentials in request headers'],
  ['https://user:pw@example.com', 'must not contain user info ("user@"): send credentials in request headers'],
  ['*', '"*" alone would allow every host: list the hosts, or use "*.example.com" for the subdomains of one domain'],
  ['https://*:443', '"*" alone would allow every host: list the hosts, or use "*.example.com" for the subdomains of one domain'],
  ['*example.com', 'a wildcard is only allowed as the whole first label, as in "*.example.com"'],
  ['api.*.example.com', 'a wildcard is only allowed as the whole first label, as in "*.example.com"'],
  ['*.*.example.com', 'a wildcard is only allowed as the whole first label, as in "*.example.com"'],
  ['example.*', 'a wildcard is only allowed as the whole first label, as in "*.example.com"'],
  ['*.', 'has no domain after "*."'],
  ['*.0.0.1', 'a wildcard needs a domain name after "*.", not an IP address'],
  ['example.com:0', 'port 0 is out of range 1-65535'],
  ['example.com:65536', 'port 65536 is out of range 1-65535'],
  ['example.com:http', 'port "http" is not a number'],
  ['example.com:-1', 'port "-1" is not a number'],
  ['example.com:', 'has an empty port after ":"'],
  ['ftp://example.com', 'scheme "ftp" is not supported: use http://, https://, or no scheme to allow both'],
  ['*://example.com', 'scheme "*" is not supported: use http://, https://, or no scheme to allow both'],
  ['ws://example.com', 'scheme "ws" is not supported: use http://, https://, or no scheme to allow both'],
  ['://example.com', 'has "://" without a scheme before it'],
  ['https://', 'has no host'],
  [':8080', 'has no host'],
  ['::1', 'IPv6 addresses must be in brackets, as in [::1]:8080'],
  ['[::1', 'has an unclosed "[": write IPv6 addresses as [::1] or [::1]:8080'],
  ['[::1]x', 'has "x" after the IPv6 address'],
  ['[::g]', '"[::g]" is not a valid IPv6 address'],
  ['[1:2:3:4:5:6:7:8:9]', '"[1:2:3:4:5:6:7:8:9]" is not a valid IPv6 address'],
  ['exa%6dple.com', '"exa%6dple.com" is not a valid host name'],
  ['example.com\\evil', '"example.com\\evil" is not a valid host name'],
  ['a..example.com', '"a..example.com" has an empty label'],
  ['.example.com', '".example.com" has an empty label'],
  ['1.2.3.256', '"1.2.3.256" is not a valid host name or IP address'],
];

test('parseAllowedHost: rejected entries name the entry and the reason', () => {
  for (const [entry, reason] of rejected) {
    assert.throws(() => parseAllowedHost(entry), { name: 'AllowedHostError', message: `allowed host "${entry}": ${reason}` }, entry);
  }
});

test('parseAllowedHosts: the error names the index', () => {
  assert.deepEqual(parseAllowedHosts([]), []);
  assert.equal(parseAllowedHosts(['a.com', 'b.com:1']).length, 2);
  assert.throws(
    () => parseAllowedHosts(['example.com', 'example.com/api']),
    (e: unknown) => {
      assert.ok(e instanceof AllowedHostError);
      assert.equal(e.message, 'allowedHosts[1]: allowed host "example.com/api": must not contain a path ("/api"): an entry allows every path on its host');
      return true;
    },
  );
});

// [entries, url, allowed]
const decisions: [string[], string, boolean][] = [
  [[], 'http://example.com/', false],
  // The default port follows the request's scheme.
  [['example.com'], 'http://example.com/', true],
  [['example.com'], 'https://example.com/', true],
  [['example.com'], 'http://example.com:80/x?y#z', true],
  [['example.com'], 'https://example.com:443/', true],
  [['example.com'], 'http://example.com:8080/', false],
  [['example.com'], 'http://example.com:443/', false],
  [['example.com'], 'https://example.com:80/', false],
  [['example.com'], 'http://api.example.com/', false],
  [['example.com'], 'http://example.com.evil.net/', false],
  [['example.com'], 'http://EXAMPLE.com./', true],
  [['example.com.'], 'http://example.com/', true],
  // Explicit ports allow both schemes on that port.
  [['127.0.0.1:8080'], 'http://127.0.0.1:8080/', true],
  [['127.0.0.1:8080'], 'https://127.0.0.1:8080/', true],
  [['127.0.0.1:8080'], 'http://127.0.0.1/', false],
  [['127.0.0.1:8080'], 'http://127.0.0.1:8081/', false],
  [['example.com:443'], 'https://example.com/', true],
  [['example.com:443'], 'http://example.com:443/', true],
  // A scheme restricts.
  [['https://api.example.com'], 'https://api.example.com/v1', true],
  [['https://api.example.com'], 'http://api.example.com/', false],
  [['https://api.example.com'], 'http://api.example.com:443/', false],
  [['https://api.example.com'], 'https://api.example.com:8443/', false],
  [['http://example.com:8080'], 'http://example.com:8080/', true],
  [['http://example.com:8080'], 'https://example.com:8080/', false],
  // No DNS: names and addresses are different targets.
  [['localhost:9999'], 'http://127.0.0.1:9999/', false],
  [['127.0.0.1:9999'], 'http://localhost:9999/', false],
  [['localhost:9999'], 'http://localhost:9999/', true],
  [['127.0.0.1'], 'http://[::1]/', false],
  [['[::1]:8080'], 'http://[::1]:8080/', true],
  [['[::1]:8080'], 'http://[0::1]:8080/', true],
  [['[::1]:8080'], 'http://127.0.0.1:8080/', false],
  [['127.0.0.1'], 'http://127.1/', true], // the URL parser reads 127.1 as 127.0.0.1 too
  [['127.0.0.1'], 'http://0x7f.0.0.1/', true],
  // Wildcards match any depth of subdomain, never the domain itself.
  [['*.example.com'], 'https://a.example.com/', true],
  [['*.example.com'], 'https://a.b.example.com/', true],
  [['*.example.com'], 'https://example.com/', false],
  [['*.example.com'], 'https://.example.com/', false], // the URL parser accepts an empty first label
  [['*.example.com'], 'https://badexample.com/', false],
  [['*.example.com'], 'https://a.example.com.evil.net/', false],
  [['*.example.com'], 'https://a.example.com:8443/', false],
  [['https://*.example.com:8443'], 'https://a.example.com:8443/', true],
  [['https://*.example.com:8443'], 'http://a.example.com:8443/', false],
  // Several entries: any one may match, each as a whole.
  [['http://a.com', 'b.com:81'], 'http://b.com:81/', true],
  [['http://a.com', 'b.com:81'], 'https://a.com/', false],
  [['http://a.com', 'b.com:81'], 'http://a.com:81/', false],
  // Only http(s) requests can be allowed.
  [['example.com'], 'ftp://example.com/', false],
  [['example.com:21'], 'ftp://example.com/', false],
  // Internationalised names compare in their canonical (punycode) form.
  [['bücher.de'], 'https://BÜCHER.de/', true],
  [['*.bücher.de'], 'https://shop.xn--bcher-kva.de/', true],
];

test('isAllowed: scheme, host and port must all match one entry', () => {
  const wrong = decisions.filter(([entries, url, want]) => isAllowed(parseAllowedHosts(entries), new URL(url)) !== want);
  assert.deepEqual(wrong, []);
});

const suggestions: [string, string][] = [
  ['http://127.0.0.1:9999/x', '127.0.0.1:9999'],
  ['https://api.example.com/v1?q', 'https://api.example.com'],
  ['http://example.com/', 'http://example.com'],
  ['https://example.com:443/', 'https://example.com'],
  ['http://Example.com.:8080/', 'example.com:8080'],
  ['http://[::1]:8080/', '[::1]:8080'],
  ['https://xn--bcher-kva.de/', 'https://xn--bcher-kva.de'],
];

test('allowEntryFor suggests an entry that allows the URL and parses', () => {
  for (const [url, want] of suggestions) {
    const entry = allowEntryFor(new URL(url));
    assert.equal(entry, want, url);
    assert.equal(isAllowed([parseAllowedHost(entry)], new URL(url)), true, `${entry} allows ${url}`);
  }
  // The suggestion is narrow: the other scheme on a default port stays denied.
  assert.equal(isAllowed([parseAllowedHost(allowEntryFor(new URL('https://a.com/')))], new URL('http://a.com/')), false);
});
