/**
 * Bounded handling of untrusted JSON (safetensors headers, shard indexes, config.json,
 * tokenizer.json, architecture description files, and config dicts saved inside checkpoints).
 *
 * V8's JSON.parse copes with deep nesting, but every recursive walk of the result (ours, and
 * JSON.stringify used to quote a value in a message) overflows the stack on a value nested some
 * thousands deep. So:
 *   - `scanJson` measures the text's nesting depth and its top-level entry count with one
 *     iterative pass before it is parsed, and `parseJsonBounded` refuses text nested deeper than
 *     MAX_JSON_DEPTH with an InputError naming the file and the limit ("nesting deeper than 64");
 *   - parsed objects become null-prototype objects (`__proto__`, `constructor` are plain keys);
 *   - bad values are quoted only through `previewJson`, which never recurses, stops at
 *     PREVIEW_MAX_DEPTH levels and cuts the text to a few hundred characters (cycles included:
 *     values from a pickle may be cyclic).
 *
 * Limits:
 *   MAX_JSON_DEPTH = 64: the deepest nesting read. tokenizer.json, config.json, safetensors
 *     headers and description files nest at most about 6 levels; 64 leaves room for any real file
 *     while keeping every (recursive) consumer far from the stack limit.
 *   PREVIEW_MAX_CHARS = 200: the longest quoted value in a message.
 *   PREVIEW_MAX_DEPTH = 4: nesting shown in a preview; deeper values print as [...] / {...}.
 */
import { InputError } from './errors';

export const MAX_JSON_DEPTH = 64;
export const PREVIEW_MAX_CHARS = 200;
export const PREVIEW_MAX_DEPTH = 4;

export interface JsonScan {
  /** The deepest nesting of arrays and objects (0 for a scalar). */
  depth: number;
  /** Entries of the top-level object or array (0 for a scalar or an empty container). */
  topLevelEntries: number;
}

/**
 * One iterative pass over JSON text: its nesting depth and top-level entry count. Stops as soon
 * as the depth passes `maxDepth` (returns depth maxDepth + 1). The text need not be valid JSON:
 * JSON.parse decides that afterwards.
 */
export function scanJson(text: string, maxDepth = MAX_JSON_DEPTH): JsonScan {
  let depth = 0;
  let maxSeen = 0;
  let entries = 0;
  let topLevelHasValue = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string (escapes included).
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      if (depth === 1) topLevelHasValue = true;
      continue;
    }
    if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (depth === 1) topLevelHasValue = true;
      depth++;
      if (depth > maxSeen) {
        maxSeen = depth;
        if (maxSeen > maxDepth) return { depth: maxSeen, topLevelEntries: entries };
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (depth === 1 && topLevelHasValue) entries++;
      if (depth === 1) topLevelHasValue = false;
      if (depth > 0) depth--;
    } else if (c === 0x2c /* , */) {
      if (depth === 1) {
        entries++;
        topLevelHasValue = false;
      }
    } else if (depth === 1 && c > 0x20) {
      topLevelHasValue = true;
    }
  }
  return { depth: maxSeen, topLevelEntries: entries };
}

/**
 * Parses untrusted JSON text: refused (InputError naming `file`) when nested deeper than
 * `maxDepth`; objects come back with a null prototype. `what` names the text in messages
 * ("the safetensors header", "the shard index", ...).
 */
export function parseJsonBounded(text: string, file: string, what: string, maxDepth = MAX_JSON_DEPTH): unknown {
  const scan = scanJson(text, maxDepth);
  if (scan.depth > maxDepth) {
    throw new InputError(file, `${what} has nesting deeper than ${maxDepth} levels (the limit for JSON read by Grassmann Lens)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new InputError(file, `${what} is not valid JSON (${oneLine((e as Error).message)})`);
  }
  return nullPrototype(value);
}

/** The first line of a message, at most 200 characters. */
function oneLine(message: string): string {
  const line = message.split('\n')[0] ?? '';
  return line.length > PREVIEW_MAX_CHARS ? `${line.slice(0, PREVIEW_MAX_CHARS)}...` : line;
}

/**
 * Replaces every plain object of a parsed JSON value by a null-prototype copy, iteratively (no
 * recursion, whatever the depth).
 */
export function nullPrototype<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  const convert = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) {
      stack.push(v);
      return v;
    }
    const copy = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v)) copy[k] = (v as Record<string, unknown>)[k];
    stack.push(copy);
    return copy;
  };
  const stack: unknown[] = [];
  const root = convert(value);
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) node[i] = convert(node[i]);
    } else {
      const o = node as Record<string, unknown>;
      for (const k of Object.keys(o)) o[k] = convert(o[k]);
    }
  }
  return root as T;
}

/** JSON.stringify of a primitive (never recurses); undefined for objects and functions. */
export function primitiveJson(v: unknown): string | undefined {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString();
  return undefined;
}

/**
 * A bounded, non-recursive JSON-like rendering of any value for an error message: at most
 * `maxChars` characters (then "..."), nesting past `maxDepth` shown as [...] / {...}, at most
 * `maxChars` entries looked at per container, cycles harmless. Strings are quoted as JSON does.
 */
export function previewJson(value: unknown, maxChars = PREVIEW_MAX_CHARS, maxDepth = PREVIEW_MAX_DEPTH): string {
  let out = '';
  // A work list of pieces: either literal text to emit or a value to render at a depth.
  type Item = { text: string } | { value: unknown; depth: number };
  const work: Item[] = [{ value, depth: 0 }];
  const limit = maxChars + 1;
  while (work.length > 0 && out.length < limit) {
    const item = work.pop()!;
    if ('text' in item) {
      out += item.text;
      continue;
    }
    const v = item.value;
    const prim = primitiveJson(v);
    if (prim !== undefined) {
      out += prim.length > limit ? prim.slice(0, limit) : prim;
      continue;
    }
    if (v === undefined) {
      out += 'undefined';
      continue;
    }
    if (typeof v !== 'object') {
      out += `<${typeof v}>`;
      continue;
    }
    const isArray = Array.isArray(v);
    if (item.depth >= maxDepth) {
      out += isArray ? '[...]' : '{...}';
      continue;
    }
    // Pieces are pushed in reverse so they pop in order.
    const pieces: Item[] = [];
    if (isArray) {
      const a = v as unknown[];
      const n = Math.min(a.length, maxChars);
      pieces.push({ text: '[' });
      for (let i = 0; i < n; i++) {
        if (i > 0) pieces.push({ text: ',' });
        pieces.push({ value: a[i], depth: item.depth + 1 });
      }
      pieces.push({ text: a.length > n ? ',...]' : ']' });
    } else if (v instanceof Map) {
      pieces.push({ text: `Map(${v.size})` });
    } else {
      const keys: string[] = [];
      for (const k in v as object) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        keys.push(k);
        if (keys.length > maxChars) break;
      }
      const n = Math.min(keys.length, maxChars);
      pieces.push({ text: '{' });
      for (let i = 0; i < n; i++) {
        pieces.push({ text: `${i > 0 ? ',' : ''}${JSON.stringify(keys[i]!.length > limit ? keys[i]!.slice(0, limit) : keys[i])}:` });
        pieces.push({ value: (v as Record<string, unknown>)[keys[i]!], depth: item.depth + 1 });
      }
      pieces.push({ text: keys.length > n ? ',...}' : '}' });
    }
    for (let i = pieces.length - 1; i >= 0; i--) work.push(pieces[i]!);
  }
  return out.length > maxChars ? `${out.slice(0, maxChars)}...` : out;
}

/** The deepest nesting of an in-memory value (iterative, stops past `maxDepth`: a cycle is deeper than any limit; at most 1e6 containers looked at). */
export function valueDepth(value: unknown, maxDepth = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: Array<{ v: unknown; d: number }> = [{ v: value, d: 0 }];
  let visited = 0;
  while (stack.length > 0) {
    const { v, d } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d + 1 > deepest) deepest = d + 1;
    if (deepest > maxDepth) return deepest;
    if (++visited > 1_000_000) return maxDepth + 1;
    const children = Array.isArray(v) ? v : v instanceof Map ? [...v.values()] : Object.values(v);
    for (const c of children) if (typeof c === 'object' && c !== null) stack.push({ v: c, d: d + 1 });
  }
  return deepest;
}
