// Turns a guest failure the module author cannot read (a Rust panic from
// inside the QuickJS runtime, then "unreachable") into one that names the WIT
// function, what it got and what it expected.

export interface GuestFailure {
  /** EH_GUEST_TYPE for a value that does not fit its WIT type; EH_MODULE_TRAP for an exception the guest let escape. */
  code: 'EH_GUEST_TYPE' | 'EH_MODULE_TRAP';
  message: string;
  /** The runtime's own words, for the debug log. */
  detail: string;
}

// componentize-qjs's runtime panics with, e.g.:
//   panicked at crates/runtime/src/call.rs:80:43: expected number: FromJs { from: "big_int", to: "i32" }
const FROM_JS = /FromJs \{ from: "([^"]+)", to: "([^"]+)"/;
const PANIC = /panicked at ([^\n]+)/;
//   Failed to call 'onTick': Exception(Exception { message: Some("boom"), stack: Some("    at onTick (/x.js:1:2)\n") })
const EXCEPTION = /Exception \{ message: Some\("((?:[^"\\]|\\.)*)"\)(?:, stack: Some\("\s*((?:[^"\\]|\\.)*?)(?:\\n)*"\))?/;

const JS_NAMES: Record<string, string> = {
  big_int: 'a BigInt',
  int: 'a number',
  float: 'a number',
  string: 'a string',
  bool: 'a boolean',
  object: 'an object',
  array: 'an array',
  undefined: 'undefined',
  null: 'null',
};

/** A diagnosis when `stderr` (the guest's recent stderr lines) shows a conversion panic; undefined otherwise. */
export function diagnoseGuestFailure(_error: unknown, during: string, stderr: string[]): GuestFailure | undefined {
  const text = stderr.join('\n').trim();
  const panic = PANIC.exec(text);
  if (!panic) return undefined;
  const [iface, fn] = during.split('#');
  const witName = `${iface.replace(/^.*\//, '')}.${fn}`;
  const conversion = FROM_JS.exec(text);
  if (conversion) {
    const [, from, to] = conversion;
    return {
      code: 'EH_GUEST_TYPE',
      message: `a value crossing the WIT boundary during ${witName} does not fit its type: got ${JS_NAMES[from] ?? from}, expected ${witType(to)}. Check the arguments passed to imports and the value returned from ${witName} against the WIT (see docs/writing-a-module.md, "Types").`,
      detail: panic[1],
    };
  }
  const exception = EXCEPTION.exec(text);
  if (exception) {
    const [, message, stack] = exception;
    return {
      code: 'EH_MODULE_TRAP',
      message: `${witName} threw: ${unescapeDebug(message)}${stack ? ` (${unescapeDebug(stack).trim()})` : ''}`,
      detail: text,
    };
  }
  return { code: 'EH_MODULE_TRAP', message: `the guest's runtime panicked during ${witName}: ${text}`, detail: text };
}

/** Rust's Debug escapes, back to text. */
function unescapeDebug(s: string): string {
  return s.replace(/\\n/g, ' ').replace(/\\(["\\])/g, '$1');
}

/** The runtime names core types; say which WIT types those are. */
function witType(core: string): string {
  switch (core) {
    case 'i32':
      return 'a number (WIT u8/u16/u32/s8/s16/s32)';
    case 'i64':
      return 'a BigInt (WIT u64/s64)';
    case 'f32':
    case 'f64':
      return 'a number (WIT f32/f64)';
    default:
      return core;
  }
}
