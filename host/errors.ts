// One catalogue of the host's errors. Every code is stable and documented in
// docs/errors.md (a test fails if one is missing there), so users can search for it.

export const errorCodes = {
  EH_CONFIG_FILE: 'the config file cannot be read or is not valid JSON',
  EH_CONFIG_INVALID: 'a config key has a bad value; the message names the file, the key and the reason',
  EH_CLI_USAGE: 'a command-line flag is unknown or has a bad value',
  EH_COMPONENT_NOT_FOUND: "a module's component file does not exist",
  EH_COMPONENT_INVALID: 'a component file is not a WebAssembly component jco can transpile',
  EH_WORLD_MISMATCH: "a component's imports/exports do not match the world configured for it",
  EH_MODULE_INIT: "a module's lifecycle.init returned an error",
  EH_MODULE_TRAP: 'a module trapped (its instance is discarded and restarted)',
  EH_MODULE_EXIT: 'a module called wasi:cli/exit (only that module ends; it is restarted)',
  EH_MODULE_MEMORY: "a module's linear memory grew past limits.maxMemoryMb; it was restarted",
  EH_COMMIT_FAILED:
    'what a module wrote during a call (key-value) could not be committed to disk; nothing the call produced left the host, and the module was restarted',
  EH_LIMIT: 'a module hit a rate limit (publish or outbound HTTP); the call was refused with `limited`',
  EH_DEAD_LETTER: 'a message failed delivery too often (or too long) and was moved to the dead-letter topic',
  EH_MODULE_DEADLINE: "a call into a module ran past its deadline; the module's isolate was terminated",
  EH_MODULE_FAILED: 'a module crashed too often and is no longer restarted',
  EH_DENIED: 'a module called a host function outside its grants',
  EH_GUEST_TYPE: 'a guest passed or returned a value that does not fit the WIT type (or lacks an export); the message names the function and what was expected',
  EH_DEPLOY_FAILED: 'a replacement component did not start; the previous component was started again',
  EH_MODULE_EXISTS: 'a module with that name is already running',
  EH_MODULE_NOT_FOUND: 'no module with that name is running',
  EH_MODULE_BUSY: 'the module is being added, replaced or removed by another request',
  EH_HOST_STOPPING: 'the host is shutting down and takes no changes',
} as const;

export type ErrorCode = keyof typeof errorCodes;

/** An error the host reports to a user: a stable code plus a message that says what to do. */
export class HostError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HostError';
    this.code = code;
  }
}
