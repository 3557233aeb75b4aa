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
  EH_HOST_STARTING: 'the host is still starting its modules; the admin API answers once they have started',
  EH_IMPORT_NOT_GRANTED: 'a deployed component imports a capability its entry grants nothing of (the link-time gate)',
  EH_ADMIN_UNAUTHORIZED: 'an admin API request had no bearer token, or a wrong one',
  EH_ADMIN_REQUEST: 'an admin API request is malformed (format, missing part, unknown endpoint)',
  EH_ADMIN_TOO_LARGE: 'an admin API request body is larger than its limit',
  EH_ADMIN_INTERNAL: 'the admin API failed unexpectedly; the host log has the details',
  EH_ADMIN_BUSY: 'the admin API has as many event streams (dashboards) open as it keeps; retry after the time given',
  EH_ADMIN_SLOW_CLIENT: 'an event stream client (a dashboard) read too slowly; the host cut its stream rather than buffer for it',
  EH_ADMIN_UNREACHABLE: 'the edgehost CLI cannot reach the admin API',
  EH_STATE_INVALID: '<data-dir>/deployments.json cannot be read, or a deployment in it no longer validates',
  EH_RUN_BUSY: 'run-once: the concurrency limit and the queue are full; retry after the time given',
  EH_RUN_INVALID: 'run-once: the request or the component cannot be run (not a command and no world given, bad limits)',
  EH_HTTP_DEADLINE:
    'an HTTP request ran past its deadline (limits.httpRequestTimeoutMs or limits.callDeadlineMs); it got 504 and a handler still running was ended',
  EH_HTTP_OVERLOADED: 'a module had limits.httpMaxConcurrentRequests requests in hand; more got 503 with Retry-After',
  EH_BRIDGE_AUTH: "a bridge's broker refused its credentials, or its password or client certificate could not be read",
  EH_BRIDGE_UNREACHABLE: 'a bridge cannot reach its broker (connection refused, unknown host, no route, no MQTT answer)',
  EH_BRIDGE_TLS: "a bridge's TLS connection failed: the broker's certificate does not name the host, is not trusted, or expired",
  EH_BRIDGE_REFUSED: 'a broker refused a bridge for another reason (client id, protocol version, busy, banned)',
  EH_BRIDGE_DISCONNECTED: 'a bridge lost its connection to the broker; it reconnects with backoff',
  EH_BRIDGE_PUBLISH_REFUSED: "a broker answered a bridge's publish with an error (MQTT 5 PUBACK reason code); the message is retried",
  EH_BRIDGE_SUBSCRIBE_REFUSED: "a broker refused one of a bridge's in subscriptions",
  EH_BRIDGE_IN_DROPPED: 'a message from the broker matched no in rule (a subscription left from an earlier config) or has no valid local topic; it was dropped',
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
