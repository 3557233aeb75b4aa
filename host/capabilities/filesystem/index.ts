import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { defineCapability, section } from '../capability.ts';
import { type FilesystemGrant, filesystemGrant } from './grant.ts';

export { type FilesystemGrant, filesystemGrant, type Mount } from './grant.ts';

/**
 * Host directories as standard wasi:filesystem preopens, each read-only or
 * read-write, confined: no absolute paths, no `..` out of a mount, no symlink
 * that leads out, no hard links, and a per-module quota on what it stores.
 */
export const filesystem = defineCapability<FilesystemGrant>({
  name: 'filesystem',
  interfaces: ['wasi:filesystem/preopens', 'wasi:filesystem/types'],
  grantKey: 'filesystem',
  grant: filesystemGrant,
  limits: {
    /** Bytes the module's files in read-write mounts may hold in all; a write past it fails with `quota`. */
    filesystemQuotaMb: z.number().int().positive().default(100),
  },
  flags: [
    {
      suffix: 'dir',
      value: '<host:guest[:ro|rw]>',
      example: './data/files:/data:rw',
      multiple: true,
      help: 'Mounts a host directory (relative to the working directory) at a guest path, read-only unless :rw; repeatable. Replaces modules.<module>.grants.filesystem.mounts.',
      apply(module, values) {
        section(section(module, 'grants'), 'filesystem').mounts = values.map((v) => {
          const [host, guest, mode, ...rest] = v.split(':');
          // Left to the grant schema to reject, with the flag named.
          if (rest.length > 0 || !host || !guest) return { host: v, guest: '', mode: 'ro' };
          return { host: resolve(host), guest, mode: mode ?? 'ro' };
        });
        return ['grants.filesystem.mounts'];
      },
    },
  ],
  resolveGrant: (grant, base) => ({ ...grant, mounts: grant.mounts.map((m) => ({ ...m, host: isAbsolute(m.host) ? m.host : resolve(base, m.host) })) }),
  worker: new URL('./worker.ts', import.meta.url).href,
});
