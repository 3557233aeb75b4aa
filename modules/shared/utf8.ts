// QuickJS guests have no TextEncoder/TextDecoder: this is the whole UTF-8 codec they need.

/** Encode a string as UTF-8. Lone surrogates become U+FFFD, as TextEncoder does. */
export function encodeUtf8(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out[n++] = 0xf0 | (c >> 18);
        out[n++] = 0x80 | ((c >> 12) & 0x3f);
        out[n++] = 0x80 | ((c >> 6) & 0x3f);
        out[n++] = 0x80 | (c & 0x3f);
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return out.subarray(0, n);
}

/** Thrown by `decodeUtf8Strict` for bytes that are not well-formed UTF-8. */
export class Utf8Error extends Error {}

/**
 * Decode UTF-8, rejecting malformed input: overlong forms, surrogates (U+D800..U+DFFF),
 * code points above U+10FFFF and truncated sequences. MQTT requires this [MQTT-1.5.3-1].
 */
export function decodeUtf8Strict(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return decode(bytes, start, end, true);
}

/** Decode UTF-8, replacing malformed sequences with U+FFFD (as TextDecoder does). */
export function decodeUtf8(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return decode(bytes, start, end, false);
}

function decode(bytes: Uint8Array, start: number, end: number, strict: boolean): string {
  let s = '';
  let chunk: number[] = [];
  let i = start;
  while (i < end) {
    const b = bytes[i];
    let cp = -1;
    let need = 0;
    let min = 0;
    if (b < 0x80) {
      cp = b;
      need = 0;
    } else if (b >= 0xc2 && b <= 0xdf) {
      cp = b & 0x1f;
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      cp = b & 0x0f;
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      cp = b & 0x07;
      need = 3;
      min = 0x10000;
    }
    let ok = cp >= 0;
    if (ok && need > 0) {
      for (let k = 1; ok && k <= need; k++) {
        const c = bytes[i + k];
        if (i + k >= end || (c & 0xc0) !== 0x80) ok = false;
        else cp = (cp << 6) | (c & 0x3f);
      }
      if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    }
    if (!ok) {
      if (strict) throw new Utf8Error(`malformed UTF-8 at byte ${i - start}`);
      chunk.push(0xfffd);
      i++;
    } else {
      if (cp >= 0x10000) {
        cp -= 0x10000;
        chunk.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else {
        chunk.push(cp);
      }
      i += need + 1;
    }
    // Flush in chunks: String.fromCharCode with huge argument lists overflows the stack.
    if (chunk.length >= 4096) {
      s += String.fromCharCode.apply(null, chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) s += String.fromCharCode.apply(null, chunk);
  return s;
}
