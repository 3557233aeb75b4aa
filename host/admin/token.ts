// The admin API's bearer token: read from the file the operator named, or
// generated once into <data-dir>/admin-token (mode 0600) and reused after, so
// clients on this machine keep working across restarts. Only a digest of it
// is kept in memory for comparison.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HostError } from '../errors.ts';

/** Shortest token accepted from a file: guessing must stay out of reach. */
export const MIN_TOKEN_LENGTH = 16;

export interface AdminToken {
  /** SHA-256 of the token: what requests are compared against. */
  digest: Buffer;
  /** Where the token is (absolute). */
  file: string;
  /** Whether this start generated it. */
  generated: boolean;
  /** Set when the file can be read by other users (a warning for the log). */
  looseMode?: string;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** The token file's path when none is given: `<dataDir>/admin-token`. */
export const defaultTokenFile = (dataDir: string) => join(resolve(dataDir), 'admin-token');

/** Reads the given token file, or reads or generates `<dataDir>/admin-token`. */
export function loadAdminToken(opts: { tokenFile?: string; dataDir: string }): AdminToken {
  if (opts.tokenFile) {
    const file = resolve(opts.tokenFile);
    const token = readToken(file, '--admin-token-file (admin.tokenFile)');
    const mode = statSync(file).mode & 0o077;
    return { digest: sha256(token), file, generated: false, ...(mode ? { looseMode: (statSync(file).mode & 0o777).toString(8) } : {}) };
  }
  const file = defaultTokenFile(opts.dataDir);
  if (existsSync(file)) {
    // Ours: keep it private even if something loosened it.
    chmodSync(file, 0o600);
    return { digest: sha256(readToken(file, 'the generated token file')), file, generated: false };
  }
  const token = randomBytes(32).toString('base64url');
  // 'wx': never overwrite a token another process wrote meanwhile; the mode applies at creation.
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, `${token}\n`);
  } finally {
    closeSync(fd);
  }
  return { digest: sha256(token), file, generated: true };
}

function readToken(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new HostError('EH_CONFIG_INVALID', `${what}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new HostError(
      'EH_CONFIG_INVALID',
      `${what}: ${file} must hold one token of at least ${MIN_TOKEN_LENGTH} characters with no spaces (e.g. from "openssl rand -base64 32")`,
    );
  }
  return token;
}

/**
 * Whether an Authorization header carries the token. Both sides are hashed
 * first, so the comparison is constant-time over equal lengths whatever the
 * length of what was sent, and does not reveal the token's length.
 */
export function authorized(header: string | undefined, token: Pick<AdminToken, 'digest'>): boolean {
  const m = header === undefined ? null : /^Bearer ([^\s]+)\s*$/i.exec(header);
  const presented = sha256(m ? m[1] : '');
  // Always compare, even without a header: the time taken says nothing about why it failed.
  return timingSafeEqual(presented, token.digest) && m !== null;
}
