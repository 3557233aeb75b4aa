// How the CLI's client commands reach the admin API: the address and the
// token come from flags, then environment variables, then the data dir of the
// host (which records its address there, and keeps a generated token there),
// then the host config file, then the defaults, the same sources and the same
// defaults as the host itself.
//
//   address: --admin-address, EDGEHOST_ADMIN_ADDRESS, <data-dir>/admin-address, admin.address, 127.0.0.1:9090
//   token:   EDGEHOST_ADMIN_TOKEN, or the file from --admin-token-file,
//            EDGEHOST_ADMIN_TOKEN_FILE, admin.tokenFile, <data-dir>/admin-token
//   data dir: --data-dir, EDGEHOST_DATA_DIR, dataDir of --config (default config/edgehost.json), data
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HostError } from '../errors.ts';

export interface ClientFlags {
  'admin-address'?: string;
  'admin-token-file'?: string;
  'data-dir'?: string;
  config?: string;
}

/** The flags every client command takes, for node:util parseArgs. */
export const clientOptions = {
  'admin-address': { type: 'string' },
  'admin-token-file': { type: 'string' },
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const clientHelp = `Finding the host (client commands):
  --admin-address <ip:port>   Admin API address (or EDGEHOST_ADMIN_ADDRESS; default: what the host
                              recorded in <data-dir>/admin-address, else 127.0.0.1:9090)
  --admin-token-file <file>   Bearer token file (or EDGEHOST_ADMIN_TOKEN with the token itself,
                              EDGEHOST_ADMIN_TOKEN_FILE; default: <data-dir>/admin-token)
  --data-dir <dir>            The host's data dir (or EDGEHOST_DATA_DIR; default: the config's, else data)
  --config <file>             Host config to read admin.* and dataDir from (default: config/edgehost.json)
  --json                      Print the API's JSON answer instead of text`;

export interface Admin {
  /** http://ip:port */
  base: string;
  token: string;
  /** Where the address came from, for error messages. */
  addressFrom: string;
}

interface ConfigHints {
  dataDir?: string;
  address?: string;
  tokenFile?: string;
}

function configHints(file: string): ConfigHints {
  if (!existsSync(file)) return {};
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { dataDir?: unknown; admin?: { address?: unknown; tokenFile?: unknown } };
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return { dataDir: str(raw.dataDir), address: str(raw.admin?.address), tokenFile: str(raw.admin?.tokenFile) };
  } catch {
    return {};
  }
}

function readTrimmed(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Finds the admin API's address and token. */
export function findAdmin(flags: ClientFlags, env: NodeJS.ProcessEnv = process.env): Admin {
  const hints = configHints(resolve(flags.config ?? 'config/edgehost.json'));
  const dataDir = resolve(flags['data-dir'] ?? env.EDGEHOST_DATA_DIR ?? hints.dataDir ?? 'data');
  const recorded = readTrimmed(join(dataDir, 'admin-address'));
  const [address, addressFrom] = flags['admin-address']
    ? [flags['admin-address'], '--admin-address']
    : env.EDGEHOST_ADMIN_ADDRESS
      ? [env.EDGEHOST_ADMIN_ADDRESS, 'EDGEHOST_ADMIN_ADDRESS']
      : recorded
        ? [recorded, join(dataDir, 'admin-address')]
        : hints.address
          ? [hints.address, 'admin.address of the config']
          : ['127.0.0.1:9090', 'the default'];
  if (address === 'off') throw new HostError('EH_ADMIN_UNREACHABLE', `the admin API is off (admin address "off", from ${addressFrom})`);
  let token = env.EDGEHOST_ADMIN_TOKEN;
  if (!token) {
    const file = resolve(flags['admin-token-file'] ?? env.EDGEHOST_ADMIN_TOKEN_FILE ?? hints.tokenFile ?? join(dataDir, 'admin-token'));
    token = readTrimmed(file);
    if (!token) {
      throw new HostError(
        'EH_ADMIN_UNAUTHORIZED',
        `no admin token: cannot read ${file}. Pass --admin-token-file, set EDGEHOST_ADMIN_TOKEN, or --data-dir of the running host (it keeps its token there)`,
      );
    }
  }
  return { base: `http://${address}`, token, addressFrom };
}

/** Calls the admin API; resolves with the JSON answer, or throws a HostError with the API's code and message. */
export async function call(admin: Admin, method: string, path: string, body?: FormData): Promise<{ status: number; json: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(`${admin.base}${path}`, { method, headers: { authorization: `Bearer ${admin.token}` }, body });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new HostError(
      'EH_ADMIN_UNREACHABLE',
      `cannot reach the admin API at ${admin.base} (address from ${admin.addressFrom}): ${cause?.code ?? cause?.message ?? (e as Error).message}. Is the host running?`,
    );
  }
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HostError('EH_ADMIN_UNREACHABLE', `${admin.base} answered ${res.status} with something that is not the admin API's JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const code = typeof json.code === 'string' ? json.code : 'EH_ADMIN_REQUEST';
    const error = new HostError(code as HostError['code'], String(json.message ?? `HTTP ${res.status}`));
    Object.assign(error, { status: res.status, retryAfter: res.headers.get('retry-after') });
    throw error;
  }
  return { status: res.status, json };
}

/** A file's bytes as a form part, named like the file. */
export function filePart(path: string, what: string): Blob {
  try {
    return new Blob([readFileSync(path)]);
  } catch (e) {
    throw new HostError('EH_CLI_USAGE', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
