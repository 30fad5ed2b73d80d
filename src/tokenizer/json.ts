/**
 * Checked access to parsed tokenizer JSON: every malformed field becomes an InputError that names
 * the file and the JSON path of the field, so a user can find and fix it.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../util/errors';

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

/** Reads a UTF-8 text file; a missing or unreadable file is an InputError naming it. */
export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(path, 'no such file');
    if (code === 'EISDIR') throw new InputError(path, 'is a folder, expected a file');
    throw new InputError(path, `cannot read (${code ?? String(e)})`);
  }
}

/** Reads and parses a JSON file; the parse error's message is kept (it says where the JSON breaks). */
export function readJsonFile(path: string): unknown {
  const text = readTextFile(path);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new InputError(path, `not valid JSON (${(e as Error).message})`);
  }
}
