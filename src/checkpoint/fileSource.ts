import { constants, promises as fs, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { InputError } from '../util/errors';
import type { ByteSource } from './types';

/**
 * Only regular files are opened. A FIFO would block open(2) (and then every read) until some
 * writer came along, and a device can be endless or have side effects on open, so the kind of the
 * file is checked before it is opened, again on the open descriptor (the path could be swapped
 * in between), and the open itself is non-blocking so that even a FIFO slipped in between the two
 * checks returns at once instead of hanging.
 */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/** Notes about how a source was opened (a symbolic link resolved), for the checkpoint's warnings. */
const notes = new WeakMap<ByteSource, string[]>();

/** What the user should be told about how `source` was opened (e.g. the real path of a symlink). */
export function fileSourceWarnings(source: ByteSource): string[] {
  return notes.get(source) ?? [];
}

/** What a stat says the path is, in words, for a refusal. */
export function fileKind(stat: Stats): string {
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  if (stat.isDirectory()) return 'a folder';
  return 'not a regular file';
}

export interface RegularFile {
  /** The path with every symbolic link resolved. */
  realPath: string;
  /** Set when the path was (or went through) a symbolic link. */
  symlinkWarning?: string;
  stat: Stats;
}

/**
 * Checks, without opening it, that `path` is a regular file (following symbolic links), and
 * resolves its real path. Refuses folders, FIFOs, devices and sockets with an InputError.
 */
export async function requireRegularFile(path: string): Promise<RegularFile> {
  let stat: Stats;
  let realPath: string;
  try {
    stat = await fs.stat(path);
    realPath = await fs.realpath(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(path, code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? String(e)})`);
  }
  if (stat.isDirectory()) throw new InputError(path, 'is a folder, expected a file');
  if (!stat.isFile()) throw new InputError(path, `is ${fileKind(stat)}, not a regular file: only regular files are opened`);
  // realpath also makes a relative path absolute and folds '..': only a difference that
  // remains after that comes from a symbolic link (the file itself or a folder on the way).
  const symlinkWarning = realPath !== resolve(path) ? `${path} is a symbolic link: read ${realPath}` : undefined;
  return { realPath, symlinkWarning, stat };
}

/**
 * Opens a regular file for positional reads; nothing is read until asked. FIFOs, devices,
 * sockets and folders are refused at once (never blocks); a symbolic link is followed and its
 * real path is noted (fileSourceWarnings).
 */
export async function openFileSource(path: string): Promise<ByteSource> {
  const checked = await requireRegularFile(path);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(path, code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? String(e)})`);
  }
  let stat: Stats;
  try {
    stat = await handle.stat();
  } catch (e) {
    await handle.close().catch(() => {});
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(path, `cannot open (${code ?? String(e)})`);
  }
  if (!stat.isFile()) {
    await handle.close();
    throw new InputError(path, stat.isDirectory() ? 'is a folder, expected a file' : `is ${fileKind(stat)}, not a regular file: only regular files are opened`);
  }
  const size = stat.size;
  const source: ByteSource = {
    path,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new InputError(path, `read of ${length} bytes at offset ${offset} is outside the file (${size} bytes): the file is truncated or corrupt`);
      }
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) throw new InputError(path, `unexpected end of file at offset ${offset + done} (the file shrank while it was read)`);
        done += bytesRead;
      }
      return buf;
    },
    async close() {
      await handle.close();
    },
  };
  if (checked.symlinkWarning) notes.set(source, [checked.symlinkWarning]);
  return source;
}

/** A ByteSource over bytes already in memory (tests, in-memory writers, zip entries). */
export function memorySource(path: string, bytes: Uint8Array): ByteSource {
  return {
    path,
    size: bytes.length,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new InputError(path, `read of ${length} bytes at offset ${offset} is outside the data (${bytes.length} bytes)`);
      }
      return bytes.subarray(offset, offset + length);
    },
    async close() {},
  };
}
