// The web module's store of the latest reading per device (modules/web/src/latest.ts), in Node:
// which device a message is for, what /latest and the status page show, and the cap on devices.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHtml, Latest } from '../../../modules/web/src/latest.ts';

test('a reading is kept per device: the payload deviceId, else the topic level after the prefix; a newer one replaces it', () => {
  const l = new Latest('telemetry/', 10);
  assert.equal(l.update('telemetry/d1', '{"deviceId":"d1","temperature":20}', 1000), 'd1');
  assert.equal(l.update('telemetry/from-topic', '{"temperature":21}', 1001), 'from-topic');
  assert.equal(l.update('telemetry/x', 'not json', 1002), 'x');
  assert.equal(l.update('other/y', '{"temperature":1}', 1003), undefined, 'no deviceId and not under the prefix');
  assert.equal(l.update('telemetry/a/b', '{}', 1004), undefined, 'a topic level with a slash is no device id');
  l.update('telemetry/d1', '{"deviceId":"d1","temperature":22}', 2000);
  assert.deepEqual(JSON.parse(l.json()), {
    d1: { topic: 'telemetry/d1', publishedAt: 2000, reading: { deviceId: 'd1', temperature: 22 } },
    'from-topic': { topic: 'telemetry/from-topic', publishedAt: 1001, reading: { temperature: 21 } },
    x: { topic: 'telemetry/x', publishedAt: 1002, reading: 'not json' },
  });
});

test('past max-devices the device updated longest ago goes', () => {
  const l = new Latest('t/', 2);
  l.update('t/a', '1', 1);
  l.update('t/b', '2', 2);
  l.update('t/a', '3', 3);
  l.update('t/c', '4', 4);
  assert.deepEqual(Object.keys(JSON.parse(l.json())), ['a', 'c']);
});

test('the status page lists each device with its reading and age, escaped', () => {
  const l = new Latest('telemetry/', 10);
  assert.equal(l.update('telemetry/d<1>', '{}', 10_000), undefined, 'not a device id');
  l.update('telemetry/d:1', '{"temperature":20.5,"note":"<b>hot</b>","nested":{"x":1}}', 10_000);
  const page = l.page('My <site>', 13_400);
  assert.match(page, /<title>My &#60;site&#62;<\/title>/);
  assert.match(page, /<tr><td>d:1<\/td><td>temperature: 20.5, note: &#60;b&#62;hot&#60;\/b&#62;<\/td><td>3 s ago<\/td><\/tr>/);
  assert.match(page, /<p>1 device\. JSON: <a href="\/latest">\/latest<\/a><\/p>/);
  assert.equal(escapeHtml(`"'&`), '&#34;&#39;&#38;');
});
