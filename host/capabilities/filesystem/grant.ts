import { z } from 'zod';

const guestPath = z
  .string()
  .regex(/^\/[^\0]*$/, 'an absolute path in the guest, such as /data')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');

export const mount = z
  .object({
    /** Host directory; relative paths are relative to the config file. */
    host: z.string().min(1),
    /** Where the guest sees it (a preopened directory of that name). */
    guest: guestPath,
    /** `ro`: the guest can only read; `rw`: it can also create, write, rename and delete, within the module's quota. */
    mode: z.enum(['ro', 'rw']).default('ro'),
  })
  .strict();
export type Mount = z.infer<typeof mount>;

export const filesystemGrant = z
  .object({
    /** Host directories the module sees through wasi:filesystem; empty: no preopened directory at all. */
    mounts: z
      .array(mount)
      .default([])
      .refine((ms) => new Set(ms.map((m) => m.guest)).size === ms.length, 'two mounts have the same guest path'),
  })
  .strict();
export type FilesystemGrant = z.infer<typeof filesystemGrant>;
