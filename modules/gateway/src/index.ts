// Gateway: subscribes to `filter` and POSTs each delivered batch to `url` as one JSON array of
// the published objects, in order. A payload that is not JSON goes in as a JSON string.
// 2xx acknowledges the batch; anything else fails it and the host redelivers it with backoff.

import { send } from 'edgehost:platform/outbound-http@0.1.0';
import { type Message, subscribe } from 'edgehost:platform/pubsub@0.1.0';
import { ConfigError, describeError, installConsole, readConfig } from '../../shared/guest.ts';
import { decodeUtf8, encodeUtf8 } from '../../shared/utf8.ts';
import moduleJson from '../module.json' with { type: 'json' };
import { joinJsonArray } from './json-array.ts';

installConsole();

let url = '';
let timeoutMs = 5000;

export const lifecycle = {
  init(): void {
    const cfg = readConfig(moduleJson.config);
    url = cfg.string('url');
    if (!/^https?:\/\/[^/]/.test(url)) {
      throw new ConfigError('url', `config "url": expected an absolute http:// or https:// URL, found ${JSON.stringify(url)}`);
    }
    const filter = cfg.string('filter');
    timeoutMs = cfg.number('timeout-ms', { integer: true, min: 1, max: 0xffffffff });
    try {
      subscribe(filter);
    } catch (e) {
      throw new Error(`subscribe to ${JSON.stringify(filter)} failed: ${describeError(e)}`);
    }
    console.info(`gateway: forwarding ${filter} to ${url}`);
  },
};

/** The bytes as a string of char codes 0..255 (native, fast; the text itself when all ASCII). */
function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of ASCII, control characters included, on purpose.
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Strict UTF-8 decoding using the engine's own decoder (`decodeURIComponent` throws URIError on
 * malformed UTF-8, overlongs and surrogates alike): in QuickJS this is several times faster than
 * the interpreted decoder in shared/utf8.ts. Pure ASCII skips decoding altogether.
 */
function decodeStrictFast(bytes: Uint8Array): string {
  const s = latin1(bytes);
  return NON_ASCII.test(s) ? decodeURIComponent(escape(s)) : s;
}

/**
 * The JSON text of one payload as bytes: the payload itself when it is UTF-8 JSON (no
 * re-serialising), else the payload decoded as text (invalid UTF-8 -> U+FFFD) as a JSON string.
 */
function jsonBytes(payload: Uint8Array): Uint8Array {
  try {
    JSON.parse(decodeStrictFast(payload));
    return payload;
  } catch {
    return encodeUtf8(JSON.stringify(decodeUtf8(payload)));
  }
}

export const messageHandler = {
  handle(messages: Message[]): void {
    if (messages.length === 0) return;
    let status: number;
    try {
      status = send({
        method: 'post',
        url,
        headers: [['content-type', 'application/json']],
        body: joinJsonArray(messages.map((m) => jsonBytes(m.payload))),
        timeoutMs,
      }).status;
    } catch (e) {
      throw new Error(`POST ${url} failed: ${describeError(e)}`);
    }
    if (status < 200 || status > 299) throw new Error(`sink answered ${status} for ${messages.length} messages`);
  },
};

export const timerHandler = {
  // The gateway sets no timers.
  onTick(_id: number): void {},
};
