// Two modules claiming the same route on one address: the host refuses the config before it
// loads any component, and says which modules and routes collide.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { httpGuest } from '../support/modules.ts';

test('a route conflict between two modules is refused at config load, naming both', async () => {
  const address = '127.0.0.1:9';
  const config = writeConfig({
    modules: {
      shop: httpGuest(address, { routes: ['example.com/api'] }),
      api: httpGuest(address, { routes: ['/health', 'example.com/api/'] }),
    },
  });
  const host = new HostProcess(['--config', config]);
  const { code } = await host.exited;
  assert.equal(code, 1, host.stderr);
  assert.match(host.stderr, /EH_CONFIG_INVALID/);
  assert.match(
    host.stderr,
    /modules\.shop\.grants\.http\.routes\[0\] "example\.com\/api" and modules\.api\.grants\.http\.routes\[1\] "example\.com\/api\/" claim the same route: give one of them another host or path \(both on 127\.0\.0\.1:9\)/,
  );
  assert.ok(!host.lines.some((l) => typeof l.cache === 'string'), 'no component was loaded');
});
