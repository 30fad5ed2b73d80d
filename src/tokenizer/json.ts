/**
 * Checked access to parsed tokenizer JSON: every malformed field becomes an InputError that names
 * the file and the JSON path of the field, so a user can find and fix it.
 *
 * Tokenizer files are untrusted (../util/jsonLimits.ts). Limits, each an InputError naming the
 * file and the limit:
 *   MAX_TOKENIZER_FILE_BYTES = 64 MiB: tokenizer.json, vocab.txt, tokenizer_config.json (the
 *     largest real tokenizer.json files, with 256k-entry vocabularies, are about 35 MB);
 *   MAX_JSON_DEPTH = 64: nesting of the JSON (real files nest about 6 deep);
 *   MAX_COMPONENT_DEPTH = 16: Sequences nested in Sequences (normalizer, pre_tokenizer,
 *     post_processor; real files nest one or two).
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { InputError } from '../util/errors';
import { parseJsonBounded } from '../util/jsonLimits';

export const MAX_TOKENIZER_FILE_BYTES = 64 << 20;
export const MAX_COMPONENT_DEPTH = 16;

/** Throws when a Sequence at `depth` (1: the top-level component) nests past MAX_COMPONENT_DEPTH. */
export function checkComponentDepth(depth: number, file: string, where: string): void {
  if (depth > MAX_COMPONENT_DEPTH) {
    throw new InputError(file, `${where.slice(0, 120)}${where.length > 120 ? '...' : ''}: Sequences nested deeper than ${MAX_COMPONENT_DEPTH} levels (the limit)`);
  }
}

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v` must be an object; `where` is its JSON path, used in the error. */
export function requireObject(v: unknown, file: string, where: string): JsonObject {
  if (!isObject(v)) throw new InputError(file, `${where} must be an object, found ${describe(v)}`);
  return v;
}

/** `v` must be an object with a string `type` (every tokenizer.json component has one). */
export function requireType(v: unknown, file: string, where: string): JsonObject & { type: string } {
  const obj = requireObject(v, file, where);
  if (typeof obj.type !== 'string') throw new InputError(file, `${where}.type must be a string, found ${describe(obj.type)}`);
  return obj as JsonObject & { type: string };
}

export function optionalBool(obj: JsonObject, key: string, fallback: boolean, file: string, where: string): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new InputError(file, `${where}.${key} must be true or false, found ${describe(v)}`);
  return v;
}

export function optionalString(obj: JsonObject, key: string, file: string, where: string): string | null {
  const v = obj[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new InputError(file, `${where}.${key} must be a string, found ${describe(v)}`);
  return v;
}

export function optionalInt(obj: JsonObject, key: string, fallback: number, file: string, where: string): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new InputError(file, `${where}.${key} must be a non-negative integer, found ${describe(v)}`);
  }
  return v as number;
}

export function isTokenId(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/** A short description of a JSON value for error messages ("a string", "null", "42"). */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return v.length <= 40 ? JSON.stringify(v) : 'a string';
  return String(v);
}

/**
 * Reads a UTF-8 text file of at most `maxBytes` (default MAX_TOKENIZER_FILE_BYTES; only regular
 * files); a missing, unreadable or oversized file is an InputError naming it.
 */
export function readTextFile(path: string, maxBytes = MAX_TOKENIZER_FILE_BYTES): string {
  // stat before open: opening a FIFO would block.
  const checkStat = (stat: { isDirectory(): boolean; isFile(): boolean; size: number }): void => {
    if (stat.isDirectory()) throw new InputError(path, 'is a folder, expected a file');
    if (!stat.isFile()) throw new InputError(path, 'not a regular file');
    if (stat.size > maxBytes) throw new InputError(path, `is ${stat.size} bytes, more than the limit of ${maxBytes} for a tokenizer file`);
  };
  let fd: number;
  try {
    checkStat(statSync(path));
    fd = openSync(path, 'r');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw readError(path, e);
  }
  try {
    const stat = fstatSync(fd);
    checkStat(stat);
    // Read at most one byte past the bound, whatever the file has grown to since.
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, stat.size + 1));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw new InputError(path, `is more than the limit of ${maxBytes} bytes for a tokenizer file`);
        break; // grew since the stat: read what it had
      }
      const n = readSync(fd, buffer, length, buffer.length - length, length);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) throw new InputError(path, `is more than the limit of ${maxBytes} bytes for a tokenizer file`);
    }
    return buffer.subarray(0, length).toString('utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw readError(path, e);
  } finally {
    closeSync(fd);
  }
}

function readError(path: string, e: unknown): InputError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new InputError(path, 'no such file');
  if (code === 'EISDIR') return new InputError(path, 'is a folder, expected a file');
  return new InputError(path, `cannot read (${code ?? String(e)})`);
}

/** Reads and parses a JSON file (bounded: see the limits above); a parse error's message is kept (it says where the JSON breaks). */
export function readJsonFile(path: string): unknown {
  return parseJsonBounded(readTextFile(path), path, 'the JSON');
}
