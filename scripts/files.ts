// File helpers the build scripts share: content hashes, directory listings and
// writes that readers (a test running meanwhile, another build) never see half done.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** sha256 of the parts, each ended by a NUL so that ("ab", "c") and ("a", "bc") differ. */
export const sha256 = (...parts: (string | Uint8Array)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};

/** Every file under `dir`, relative to `base`, sorted; none when `dir` does not exist. */
export function listFiles(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p, base));
    else if (e.isFile()) out.push(relative(base, p));
  }
  return out.sort();
}

/** A temporary name next to `path`, unique to this process (two builds may run at once). */
export const tmpName = (path: string, ext = '') => `${path}.${process.pid}.tmp${ext}`;

/** Write via a temporary file and rename, so readers never see a partial file. */
export function writeAtomic(path: string, bytes: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tmpName(path);
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
