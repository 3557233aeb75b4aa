// Path confinement: every path a guest names is resolved against the
// directory descriptor it names it from, and must stay inside that
// descriptor's mount. Refusals use the WASI error codes a guest can handle.
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** A WASI filesystem error code, thrown as is (jco lowers a thrown string into the `err` of a result). */
export type FsErrorCode = string;

export interface MountRoot {
  /** Real path of the host directory (symlinks resolved once, when the module starts). */
  root: string;
  mode: 'ro' | 'rw';
}

/** Whether `path` (absolute, real) is `root` or inside it. */
export function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

/**
 * The host path for `path` named from directory `dir` (a host path inside
 * `mount.root`). Refused with `not-permitted`: absolute paths, `..` that
 * leaves the mount, and symlinks (in any component) whose target is outside
 * it. With `followLast` false, a symlink as the last component is the link
 * itself (its target is not checked, nor opened).
 */
export function confine(mount: MountRoot, dir: string, path: string, followLast: boolean): string {
  if (path.startsWith('/')) throw 'not-permitted';
  if (path.includes('\0')) throw 'invalid';
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  let current = dir;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const last = i === parts.length - 1;
    const next = part === '..' ? dirname(current) : join(current, part);
    if (!within(mount.root, next)) throw 'not-permitted';
    if (part !== '..' && (!last || followLast)) current = followLinks(mount, next);
    else current = next;
  }
  return current;
}

/** `path` with every symlink resolved, if it exists; refused when the result leaves the mount. */
function followLinks(mount: MountRoot, path: string): string {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(path);
  } catch {
    // Does not exist (yet): it will be created here, inside the mount.
    return path;
  }
  if (!stat.isSymbolicLink()) return path;
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    // A dangling link: where it points decides.
    real = resolve(dirname(path), readlinkSync(path));
  }
  if (!within(mount.root, real)) throw 'not-permitted';
  return real;
}

/** Node's errno codes as WASI filesystem error codes. */
export function fsErrorCode(e: unknown): FsErrorCode {
  if (typeof e === 'string') return e;
  switch ((e as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no-entry';
    case 'EEXIST':
      return 'exist';
    case 'ENOTDIR':
      return 'not-directory';
    case 'EISDIR':
      return 'is-directory';
    case 'ENOTEMPTY':
      return 'not-empty';
    case 'EACCES':
      return 'access';
    case 'EPERM':
      return 'not-permitted';
    case 'ELOOP':
      return 'loop';
    case 'ENAMETOOLONG':
      return 'name-too-long';
    case 'ENOSPC':
      return 'insufficient-space';
    case 'EDQUOT':
      return 'quota';
    case 'EBADF':
      return 'bad-descriptor';
    case 'EINVAL':
      return 'invalid';
    case 'EXDEV':
      return 'cross-device';
    case 'EBUSY':
      return 'busy';
    case 'EFBIG':
      return 'file-too-large';
    case 'EMFILE':
    case 'ENFILE':
      return 'insufficient-memory';
    default:
      return 'io';
  }
}
