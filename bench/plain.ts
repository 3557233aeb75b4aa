// The guests' work in plain JS, shared by the baselines (bench/pipeline-baseline.ts and
// bench/guest-call.ts): what modules/telemetry and modules/gateway do per message, without
// WebAssembly.

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

const OPEN = 0x5b; // [
const COMMA = 0x2c; // ,
const CLOSE = 0x5d; // ]
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

/** As the gateway: `[p1,p2,...]` as one buffer. */
export function batchBody(payloads: Uint8Array[]): Buffer {
  const parts = payloads.map(jsonBytes);
  let size = 2 + Math.max(parts.length - 1, 0);
  for (const p of parts) size += p.length;
  const body = Buffer.allocUnsafe(size);
  let at = 0;
  body[at++] = OPEN;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) body[at++] = COMMA;
    body.set(parts[i], at);
    at += parts[i].length;
  }
  body[at] = CLOSE;
  return body;
}
