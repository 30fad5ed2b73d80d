import { promises as fs } from 'node:fs';
import { InputError } from '../util/errors';
import type { ByteSource } from './types';

/** Opens a file for positional reads; nothing is read until asked. */
export async function openFileSource(path: string): Promise<ByteSource> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(path, code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? String(e)})`);
  }
  const stat = await handle.stat();
  if (stat.isDirectory()) {
    await handle.close();
    throw new InputError(path, 'is a folder, expected a file');
  }
  const size = stat.size;
  return {
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
        if (bytesRead === 0) throw new InputError(path, `unexpected end of file at offset ${offset + done}`);
        done += bytesRead;
      }
      return buf;
    },
    async close() {
      await handle.close();
    },
  };
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
