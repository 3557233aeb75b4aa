// The guests' work in plain JS, shared by the baselines (bench/pipeline-baseline.ts and
// bench/guest-call.ts): what modules/telemetry and modules/gateway do per message, without
// WebAssembly.

import { joinJsonArray } from '../modules/gateway/src/json-array.ts';

/** As modules/telemetry: readings as UTF-8 JSON bytes, one device's seq counting from 1. */
export function device(id: string) {
  const head = `{"deviceId":${JSON.stringify(id)},"temperature":`;
  let seq = 0;
  return {
    id,
    topic: `telemetry/${id}`,
    /** `timestampPart` is `,"timestamp":<ms>`, the same for every reading of a tick. */
    reading(timestampPart: string): Uint8Array {
      seq++;
      return Buffer.from(`${head}${sample(15, 30)},"pressure":${sample(980, 1040)}${timestampPart},"seq":${seq}}`);
    },
  };
}

const sample = (min: number, max: number) => Math.round((min + Math.random() * (max - min)) * 100) / 100;

const strict = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder();

/** As the gateway: the payload itself when it is JSON, else the text as a JSON string. */
function jsonBytes(payload: Uint8Array): Uint8Array {
  try {
    JSON.parse(strict.decode(payload));
    return payload;
  } catch {
    return Buffer.from(JSON.stringify(lenient.decode(payload)));
  }
}

/** As the gateway, with its own code: `[p1,p2,...]` as one buffer. */
export function batchBody(payloads: Uint8Array[]): Buffer {
  const body = joinJsonArray(payloads.map(jsonBytes));
  return Buffer.from(body.buffer, body.byteOffset, body.length);
}
