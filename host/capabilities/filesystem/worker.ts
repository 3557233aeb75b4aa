// wasi:filesystem over the module's mounts, in its worker: standard
// preopens, each descriptor confined to its mount (confine.ts), read-only
// mounts refusing every change, and the module's quota charged before any
// write that grows its files. Synchronous node:fs is fine here: it blocks only
// this module's own thread.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  rmdirSync,
  type Stats,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { WorkerHalf } from '../capability.ts';
import { confine, fsErrorCode, type MountRoot, within } from './confine.ts';
import type { FilesystemGrant } from './grant.ts';
import { Quota } from './quota.ts';

type Datetime = { seconds: bigint; nanoseconds: number };
type NewTimestamp = { tag: 'no-change' } | { tag: 'now' } | { tag: 'timestamp'; val: Datetime };

const MAX_READ = 1024 * 1024;

export const create: WorkerHalf<FilesystemGrant>['create'] = (ctx, grant) => {
  const io = ctx.io;
  const quota = new Quota(ctx.limits.filesystemQuotaMb * 1024 * 1024);
  const open = new Set<number>();
  ctx.onClose(() => {
    for (const fd of open) closeSync(fd);
    open.clear();
  });

  const mounts = grant.mounts.map((m) => {
    const host = resolve(m.host);
    try {
      if (m.mode === 'rw') mkdirSync(host, { recursive: true });
      if (!statSync(host).isDirectory()) throw new Error('not a directory');
    } catch (e) {
      throw new Error(`filesystem: the host directory ${host} for ${m.guest} cannot be used: ${(e as Error).message}`);
    }
    const root: MountRoot = { root: realpathSync(host), mode: m.mode };
    if (m.mode === 'rw') quota.addRoot(root.root);
    return { guest: m.guest, root };
  });

  /** Runs `fn`, turning Node's errors into WASI error codes (thrown, as jco expects). */
  const wasi = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw fsErrorCode(e);
    }
  };

  const typeOf = (s: Stats) =>
    s.isDirectory()
      ? 'directory'
      : s.isFile()
        ? 'regular-file'
        : s.isSymbolicLink()
          ? 'symbolic-link'
          : s.isFIFO()
            ? 'fifo'
            : s.isSocket()
              ? 'socket'
              : s.isCharacterDevice()
                ? 'character-device'
                : s.isBlockDevice()
                  ? 'block-device'
                  : 'unknown';
  const datetime = (ms: number, ns: bigint): Datetime => ({ seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: Number(ns % 1_000_000_000n) });
  const statOf = (s: Stats) => {
    const big = s as unknown as { atimeNs?: bigint; mtimeNs?: bigint; ctimeNs?: bigint };
    const ns = (ms: number, exact?: bigint) => exact ?? BigInt(Math.round(ms * 1e6));
    return {
      type: typeOf(s),
      linkCount: BigInt(s.nlink),
      size: BigInt(s.size),
      dataAccessTimestamp: datetime(s.atimeMs, ns(s.atimeMs, big.atimeNs)),
      dataModificationTimestamp: datetime(s.mtimeMs, ns(s.mtimeMs, big.mtimeNs)),
      statusChangeTimestamp: datetime(s.ctimeMs, ns(s.ctimeMs, big.ctimeNs)),
    };
  };
  const toDate = (t: NewTimestamp, current: number): number | Date =>
    t.tag === 'now' ? new Date() : t.tag === 'timestamp' ? Number(t.val.seconds) + t.val.nanoseconds / 1e9 : current / 1000;

  class DirectoryEntryStream {
    readonly #entries: { type: string; name: string }[];
    constructor(entries: { type: string; name: string }[]) {
      this.#entries = entries;
    }
    readDirectoryEntry() {
      return this.#entries.shift();
    }
  }

  class Descriptor {
    readonly #mount: MountRoot;
    readonly #path: string;
    readonly #fd: number | undefined;
    readonly #write: boolean;

    constructor(mount: MountRoot, path: string, fd?: number, write = false) {
      this.#mount = mount;
      this.#path = path;
      this.#fd = fd;
      this.#write = write;
      if (fd !== undefined) open.add(fd);
    }

    #dir(): string {
      if (this.#fd !== undefined) throw 'not-directory';
      return this.#path;
    }
    #file(): number {
      if (this.#fd === undefined) throw 'is-directory';
      return this.#fd;
    }
    #writable() {
      if (this.#mount.mode !== 'rw') throw 'read-only';
    }
    #at(path: string, follow: boolean): string {
      return confine(this.#mount, this.#dir(), path, follow);
    }

    readViaStream(offset: bigint) {
      const fd = this.#file();
      let position = Number(offset);
      return new io.InputStream({
        read: (max) => {
          const buf = Buffer.alloc(Math.min(max, MAX_READ));
          const n = wasi(() => readSync(fd, buf, 0, buf.length, position));
          if (n === 0) return undefined;
          position += n;
          return new Uint8Array(buf.buffer, buf.byteOffset, n);
        },
      });
    }
    writeViaStream(offset: bigint) {
      this.#writable();
      const fd = this.#file();
      let position = Number(offset);
      return new io.OutputStream((bytes) => {
        position += this.#writeAt(fd, bytes, position);
      });
    }
    appendViaStream() {
      this.#writable();
      const fd = this.#file();
      return new io.OutputStream((bytes) => {
        this.#writeAt(fd, bytes, fstatSync(fd).size);
      });
    }
    #writeAt(fd: number, bytes: Uint8Array, position: number): number {
      const size = fstatSync(fd).size;
      const growth = Math.max(0, position + bytes.length - size);
      if (!quota.charge(growth)) throw new io.IoError(`the module's files would exceed its quota (limits.filesystemQuotaMb)`, 'quota');
      try {
        return writeSync(fd, bytes, 0, bytes.length, position);
      } catch (e) {
        quota.release(growth);
        throw new io.IoError((e as Error).message, fsErrorCode(e));
      }
    }
    advise() {}
    syncData() {
      if (this.#fd !== undefined) wasi(() => fsyncSync(this.#fd!));
    }
    sync() {
      this.syncData();
    }
    getFlags() {
      const dir = this.#fd === undefined;
      return { read: true, write: this.#write, mutateDirectory: dir && this.#mount.mode === 'rw' };
    }
    getType() {
      return this.#fd === undefined ? 'directory' : 'regular-file';
    }
    setSize(size: bigint) {
      this.#writable();
      const fd = this.#file();
      const current = fstatSync(fd).size;
      const growth = Number(size) - current;
      if (growth > 0 && !quota.charge(growth)) throw 'quota';
      wasi(() => ftruncateSync(fd, Number(size)));
      if (growth < 0) quota.release(-growth);
    }
    setTimes(atime: NewTimestamp, mtime: NewTimestamp) {
      this.#writable();
      const s = this.stat();
      if (this.#fd !== undefined)
        wasi(() =>
          futimesSync(
            this.#fd!,
            toDate(atime, Number(s.dataAccessTimestamp.seconds) * 1000),
            toDate(mtime, Number(s.dataModificationTimestamp.seconds) * 1000),
          ),
        );
      else wasi(() => utimesSync(this.#path, toDate(atime, Date.now()), toDate(mtime, Date.now())));
    }
    read(length: bigint, offset: bigint): [Uint8Array, boolean] {
      const fd = this.#file();
      // The guest chooses the length: the host allocates at most MAX_READ for one call.
      const buf = Buffer.alloc(Math.min(Number(length), MAX_READ));
      const n = wasi(() => readSync(fd, buf, 0, buf.length, Number(offset)));
      return [new Uint8Array(buf.buffer, buf.byteOffset, n), n < buf.length];
    }
    write(buffer: Uint8Array, offset: bigint): bigint {
      this.#writable();
      const fd = this.#file();
      const size = fstatSync(fd).size;
      const growth = Math.max(0, Number(offset) + buffer.length - size);
      if (!quota.charge(growth)) throw 'quota';
      try {
        return BigInt(writeSync(fd, buffer, 0, buffer.length, Number(offset)));
      } catch (e) {
        quota.release(growth);
        throw fsErrorCode(e);
      }
    }
    readDirectory() {
      const dir = this.#dir();
      const entries = wasi(() => readdirSync(dir, { withFileTypes: true })).map((d) => ({
        type: d.isDirectory() ? 'directory' : d.isFile() ? 'regular-file' : d.isSymbolicLink() ? 'symbolic-link' : 'unknown',
        name: d.name,
      }));
      return new DirectoryEntryStream(entries);
    }
    createDirectoryAt(path: string) {
      this.#writable();
      const target = this.#at(path, false);
      wasi(() => mkdirSync(target));
    }
    stat() {
      return statOf(wasi(() => (this.#fd !== undefined ? fstatSync(this.#fd) : statSync(this.#path))));
    }
    statAt(pathFlags: { symlinkFollow?: boolean }, path: string) {
      const target = this.#at(path, !!pathFlags.symlinkFollow);
      return statOf(wasi(() => (pathFlags.symlinkFollow ? statSync(target) : lstatSync(target))));
    }
    setTimesAt(pathFlags: { symlinkFollow?: boolean }, path: string, atime: NewTimestamp, mtime: NewTimestamp) {
      this.#writable();
      const target = this.#at(path, !!pathFlags.symlinkFollow);
      wasi(() => utimesSync(target, toDate(atime, Date.now()), toDate(mtime, Date.now())));
    }
    linkAt() {
      // A hard link would let two paths, possibly in different mounts, share one file.
      throw 'not-permitted';
    }
    openAt(
      pathFlags: { symlinkFollow?: boolean },
      path: string,
      openFlags: { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean },
      flags: { write?: boolean; mutateDirectory?: boolean },
    ) {
      const target = this.#at(path, !!pathFlags.symlinkFollow);
      const changes = !!(flags.write || openFlags.create || openFlags.truncate || flags.mutateDirectory);
      let existing: Stats | undefined;
      try {
        existing = lstatSync(target);
      } catch {
        existing = undefined;
      }
      if (changes && this.#mount.mode !== 'rw' && !(existing?.isDirectory() && !flags.write && !openFlags.truncate && !openFlags.create)) throw 'read-only';
      if (existing?.isSymbolicLink()) throw 'loop';
      if (openFlags.directory || existing?.isDirectory()) {
        if (!existing) throw 'no-entry';
        if (!existing.isDirectory()) throw 'not-directory';
        if (flags.write) throw 'is-directory';
        return new Descriptor(this.#mount, target);
      }
      if (existing && existing.nlink > 1) throw 'not-permitted';
      if (existing && openFlags.create && openFlags.exclusive) throw 'exist';
      if (!existing && !openFlags.create) throw 'no-entry';
      let mode = flags.write ? constants.O_RDWR : constants.O_RDONLY;
      if (openFlags.create) mode |= constants.O_CREAT;
      if (openFlags.exclusive) mode |= constants.O_EXCL;
      if (openFlags.truncate) mode |= constants.O_TRUNC;
      mode |= constants.O_NOFOLLOW;
      const fd = wasi(() => openSync(target, mode));
      if (openFlags.truncate && existing) quota.release(existing.size);
      return new Descriptor(this.#mount, target, fd, !!flags.write);
    }
    readlinkAt(path: string) {
      const target = this.#at(path, false);
      const text = wasi(() => readlinkSync(target));
      // Only a link that stays in the mount is described: its text could name host paths otherwise.
      if (!within(this.#mount.root, resolve(dirname(target), text))) throw 'not-permitted';
      return text;
    }
    removeDirectoryAt(path: string) {
      this.#writable();
      const target = this.#at(path, false);
      if (target === this.#mount.root) throw 'not-permitted';
      wasi(() => rmdirSync(target));
    }
    renameAt(oldPath: string, newDescriptor: Descriptor, newPath: string) {
      this.#writable();
      const from = this.#at(oldPath, false);
      const to = newDescriptor.#at(newPath, false);
      newDescriptor.#writable();
      if (from === this.#mount.root) throw 'not-permitted';
      wasi(() => renameSync(from, to));
    }
    symlinkAt() {
      // A link the guest makes could later be followed out of the mount by host tools.
      throw 'not-permitted';
    }
    unlinkFileAt(path: string) {
      this.#writable();
      const target = this.#at(path, false);
      const s = wasi(() => lstatSync(target));
      if (s.isDirectory()) throw 'is-directory';
      wasi(() => unlinkSync(target));
      if (s.isFile() && s.nlink === 1) quota.release(s.size);
    }
    isSameObject(other: Descriptor) {
      const a = this.stat();
      const b = other.stat();
      return a.type === b.type && this.metadataHash().lower === other.metadataHash().lower && this.metadataHash().upper === other.metadataHash().upper;
    }
    metadataHash() {
      const s = wasi(() => (this.#fd !== undefined ? fstatSync(this.#fd) : statSync(this.#path)));
      return { lower: BigInt(s.ino), upper: BigInt(s.dev) };
    }
    metadataHashAt(pathFlags: { symlinkFollow?: boolean }, path: string) {
      const target = this.#at(path, !!pathFlags.symlinkFollow);
      const s = wasi(() => (pathFlags.symlinkFollow ? statSync(target) : lstatSync(target)));
      return { lower: BigInt(s.ino), upper: BigInt(s.dev) };
    }
    [Symbol.dispose]() {
      if (this.#fd !== undefined && open.delete(this.#fd)) closeSync(this.#fd);
    }
  }

  return {
    'wasi:filesystem/preopens': {
      getDirectories: () => mounts.map((m) => [new Descriptor(m.root, m.root.root), m.guest]),
    },
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: (e: InstanceType<typeof io.IoError>) => e?.fsCode,
    },
  };
};
