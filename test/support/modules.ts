// Host-config entries for the modules integration tests run: built from source by `npm test`'s pretest.
import { httpGuestWasm, moduleWasm, testGuestWasm, testWit } from './paths.ts';

export function telemetry(config: Record<string, unknown> = {}) {
  return {
    component: moduleWasm('telemetry'),
    world: 'telemetry',
    grants: { pubsub: { publish: ['telemetry/#'] } },
    config: { 'interval-ms': 100, devices: ['d1', 'd2'], ...config },
  };
}

/** A gateway posting what matches `filter` to `url`, allowed to reach only that URL's host:port. */
export function gateway(url: string, filter = 'telemetry/#', extra: { delivery?: object; allowedHosts?: string[] } = {}) {
  const { host } = new URL(url);
  return {
    component: moduleWasm('gateway'),
    world: 'gateway',
    grants: { pubsub: { subscribe: [filter] }, outboundHttp: { allowedHosts: extra.allowedHosts ?? [host] } },
    subscriptions: [filter],
    config: { url, filter },
    // Like the shipped gateway: an uplink retries rather than dead-lettering.
    delivery: { maxBatch: 50, lingerMs: 50, retryInitialMs: 50, retryMaxMs: 500, maxAttempts: 0, ...extra.delivery },
  };
}

/**
 * The MQTT server module on `address`, bridged to the bus (its own publishes are not
 * echoed back), keeping persistent sessions and retained messages in its key-value
 * store as the shipped config does.
 */
export function server(address: string, config: Record<string, unknown> = {}) {
  return {
    component: moduleWasm('server'),
    world: 'server',
    // Like the shipped server: it reports its MQTT figures (edgehost:platform/metrics).
    grants: {
      pubsub: { publish: ['#'], subscribe: ['#'] },
      socket: { listen: [address] },
      keyValue: { buckets: ['sessions', 'retained'] },
      metrics: { maxSeries: 50 },
    },
    config: { listen: [address], ...config },
    delivery: { noLocal: true },
  };
}

/** Publishes `messages` (each `at-ms` after it starts) onto the bus. */
export function driver(topics: string[], messages: { topic: string; payload: string; 'at-ms': number }[]) {
  return {
    component: testGuestWasm('driver'),
    world: 'telemetry',
    grants: { pubsub: { publish: topics } },
    config: { messages },
  };
}

export function testGuest(name: string, world: string, extra: Record<string, unknown> = {}) {
  return {
    component: testGuestWasm(name),
    world,
    // Worlds other than the platform's are test worlds (test/fixtures/wit).
    ...(['telemetry', 'gateway', 'server'].includes(world) ? {} : { wit: testWit }),
    ...extra,
  };
}

/** A standard wasi:http/proxy component (test/fixtures/http-guests, `hello.sm` by default) served on `address`. */
export function httpGuest(address: string, extra: { build?: string; routes?: string[]; allowedHosts?: string[]; limits?: Record<string, number> } = {}) {
  return {
    component: httpGuestWasm(extra.build ?? 'hello.sm'),
    world: 'wasi:http/proxy',
    grants: { http: { listen: [address], routes: extra.routes ?? [], allowedHosts: extra.allowedHosts ?? [] } },
    limits: extra.limits ?? {},
  };
}

/** The web module on `address`, showing what is published under telemetry/ (and publishing posted readings there). */
export function web(address: string, extra: { routes?: string[]; limits?: Record<string, number>; config?: Record<string, unknown> } = {}) {
  return {
    component: moduleWasm('web'),
    world: 'http-service',
    grants: { pubsub: { subscribe: ['telemetry/#'], publish: ['telemetry/#'] }, http: { listen: [address], routes: extra.routes ?? [] } },
    subscriptions: ['telemetry/#'],
    config: extra.config ?? {},
    limits: extra.limits ?? {},
  };
}
