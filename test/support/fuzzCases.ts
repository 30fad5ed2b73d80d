/**
 * The fuzz cases of issue 13 (scripts/fuzz.ts runs them; test/unit/fuzz.test.ts runs a fixed,
 * seeded set of them in `npm test`). A case is a reader and the bytes of one or more files:
 *  - mutations of the fixtures (test/fixtures/tiny-grassmann, implementations, bad-inputs): bytes
 *    of safetensors headers, of the pickle inside a torch zip (the zip rebuilt around it, CRCs
 *    right) and of the zip structures, of legacy-format files, and structural mutations of
 *    config.json, tokenizer.json and shard indexes;
 *  - generators for the three failure classes: deep nesting, amplification, unusual-but-valid.
 * Everything is drawn from fast-check with a seed, so a case is reproduced by (seed, index).
 */
import fc from 'fast-check';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export const ROOT = join(__dirname, '..', '..');
const FIX = join(ROOT, 'test/fixtures');

export type ReaderName = 'safetensors' | 'torch-zip' | 'torch-legacy' | 'index' | 'config' | 'tokenizer';
export const READERS: readonly ReaderName[] = ['safetensors', 'torch-zip', 'torch-legacy', 'index', 'config', 'tokenizer'];

/** One file of a case: a name inside the case's folder and its bytes. */
export interface CaseFile {
  name: string;
  bytes: Uint8Array;
}

export interface FuzzCase {
  reader: ReaderName;
  /** How it was made: "mutate <fixture>: <mutations>" or "gen <class>/<kind>". */
  origin: string;
  /** The files; the first is the one opened (the config case opens the folder's model). */
  files: CaseFile[];
  /** The mutations applied, smallest first when minimised (for the report). */
  mutations?: Mutation[];
  /** The file must be refused (an InputError): opening it would be a security bug. */
  mustRefuse?: boolean;
  /** Rebuilds the case from a subset of its mutations (minimisation). */
  rebuild?: (mutations: Mutation[]) => FuzzCase;
}

// ---------------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------------

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

interface Seeds {
  safetensors: string[];
  zip: string[];
  legacy: string[];
  config: string[];
  tokenizer: string[];
  /** WordPiece vocab.txt files (the tokenizer reader's other format). */
  vocab: string[];
  index: string[];
}

let seedsCache: Seeds | undefined;
const bytesCache = new Map<string, Uint8Array>();

export function fixtureBytes(path: string): Uint8Array {
  let b = bytesCache.get(path);
  if (!b) bytesCache.set(path, (b = new Uint8Array(readFileSync(path))));
  return b;
}

/** The fixtures, by reader (files over 4 MB left out: a case is written to disk each time). */
export function seeds(): Seeds {
  if (seedsCache) return seedsCache;
  const all = [...listFiles(join(FIX, 'tiny-grassmann')), ...listFiles(join(FIX, 'implementations')), ...listFiles(join(FIX, 'bad-inputs'))]
    .filter((p) => statSync(p).size <= 4 << 20).sort();
  const head = (p: string): Uint8Array => fixtureBytes(p).subarray(0, 16);
  const s: Seeds = { safetensors: [], zip: [], legacy: [], config: [], tokenizer: [], vocab: [], index: [] };
  for (const p of all) {
    const h = head(p);
    if (p.endsWith('.safetensors') && statSync(p).size > 0) s.safetensors.push(p);
    else if (h[0] === 0x50 && h[1] === 0x4b && h[2] === 0x03 && h[3] === 0x04) s.zip.push(p);
    else if (h[0] === 0x80 && h[1] >= 2 && h[1] <= 5) s.legacy.push(p);
    else if (p.endsWith('.index.json')) s.index.push(p);
    else if (/config[^/]*\.json$/.test(p) && !p.endsWith('tokenizer_config.json')) s.config.push(p);
    else if (/tokenizer[^/]*\.json$/.test(p) && !p.endsWith('tokenizer_config.json')) s.tokenizer.push(p);
    else if (p.endsWith('/vocab.txt')) s.vocab.push(p);
  }
  seedsCache = s;
  return s;
}

/** The reference model every config case is read with (its folder's config.json is mutated). */
export const TINY_MODEL = join(FIX, 'tiny-grassmann/model.safetensors');

// ---------------------------------------------------------------------------------------------
// Byte mutations
// ---------------------------------------------------------------------------------------------

export type Mutation =
  | { op: 'set'; at: number; byte: number }
  | { op: 'flip'; at: number; bit: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; count: number }
  | { op: 'dup'; at: number; count: number; times: number }
  | { op: 'u32'; at: number; value: number }
  | { op: 'truncate'; at: number };

const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** Mutations whose positions are fractions of the region they apply to (resolved per input). */
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.oneof(fc.nat(255), fc.constantFrom(0, 0x22, 0x2c, 0x5b, 0x5d, 0x7b, 0x7d, 0x28, 0x2e, 0x65, 0x80, 0xff)) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('dup' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 32 }), times: fc.integer({ min: 1, max: 2000 }) }),
  fc.record({ op: fc.constant('u32' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...INTERESTING_U32), fc.nat()) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);
const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 4 });

/** Applies `mutations` to `bytes[start, end)` (positions taken modulo the region). */
export function mutate(bytes: Uint8Array, mutations: readonly Mutation[], start = 0, end = bytes.length): Uint8Array {
  let b = bytes;
  // Copy on the first write: `bytes` (and any view of it, after a truncate) is a cached fixture.
  let owned = false;
  const own = (): Uint8Array => {
    if (!owned) {
      b = b.slice();
      owned = true;
    }
    return b;
  };
  let lo = start;
  let hi = Math.max(start + 1, Math.min(end, b.length));
  for (const m of mutations) {
    const span = Math.max(1, hi - lo);
    const at = Math.min(b.length, lo + (m.at % span));
    switch (m.op) {
      case 'set':
        if (at < b.length) own()[at] = m.byte;
        break;
      case 'flip':
        if (at < b.length) own()[at] ^= 1 << m.bit;
        break;
      case 'insert':
        b = concat(b.subarray(0, at), Uint8Array.from(m.bytes), b.subarray(at));
        owned = true;
        hi += m.bytes.length;
        break;
      case 'delete':
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + m.count)));
        owned = true;
        hi = Math.max(lo + 1, hi - m.count);
        break;
      case 'dup': {
        const piece = b.subarray(at, Math.min(b.length, at + m.count));
        const parts: Uint8Array[] = [b.subarray(0, at)];
        for (let i = 0; i < m.times; i++) parts.push(piece);
        parts.push(b.subarray(at));
        b = concat(...parts);
        owned = true;
        hi += piece.length * m.times;
        break;
      }
      case 'u32':
        if (at + 4 <= b.length) {
          own();
          new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, m.value >>> 0, true);
        }
        break;
      case 'truncate':
        b = b.subarray(0, at);
        hi = Math.min(hi, at);
        break;
    }
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const leU32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
const leU64 = (n: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};

// ---------------------------------------------------------------------------------------------
// Zips (stored entries: what torch.save writes)
// ---------------------------------------------------------------------------------------------

export interface ZipEntryBytes {
  name: string;
  data: Uint8Array;
}

/** The entries of a well-formed stored zip (the fixtures), or null. */
export function parseStoredZip(b: Uint8Array): ZipEntryBytes[] | null {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return null;
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  const out: ZipEntryBytes[] = [];
  for (let k = 0; k < count; k++) {
    if (p + 46 > b.length || dv.getUint32(p, true) !== 0x02014b50) return null;
    const size = dv.getUint32(p + 20, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    const local = dv.getUint32(p + 42, true);
    const name = new TextDecoder().decode(b.subarray(p + 46, p + 46 + nameLen));
    if (local + 30 > b.length) return null;
    const lName = dv.getUint16(local + 26, true);
    const lExtra = dv.getUint16(local + 28, true);
    const start = local + 30 + lName + lExtra;
    if (size === 0xffffffff || start + size > b.length) return null;
    out.push({ name, data: b.subarray(start, start + size) });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** A stored zip of `entries` (no zip64; data 64-byte aligned like torch's). */
export function buildStoredZip(entries: readonly ZipEntryBytes[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let pos = 0;
  for (const e of entries) {
    const name = utf8(e.name);
    const headerLen = 30 + name.length;
    const pad = (64 - ((pos + headerLen + 4) % 64)) % 64;
    const extra = new Uint8Array(4 + pad);
    new DataView(extra.buffer).setUint16(0, 0x4246, true);
    new DataView(extra.buffer).setUint16(2, pad, true);
    const crc = crc32(e.data) >>> 0;
    const local = new Uint8Array(30);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true);
    l.setUint32(14, crc, true);
    l.setUint32(18, e.data.length, true);
    l.setUint32(22, e.data.length, true);
    l.setUint16(26, name.length, true);
    l.setUint16(28, extra.length, true);
    const c = new Uint8Array(46);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, e.data.length, true);
    cv.setUint32(24, e.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, pos, true);
    central.push(c, name);
    parts.push(local, name, extra, e.data);
    pos += local.length + name.length + extra.length + e.data.length;
  }
  const cd = concat(...central);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cd.length, true);
  ev.setUint32(16, pos, true);
  return concat(...parts, cd, eocd);
}

// ---------------------------------------------------------------------------------------------
// Pickles (protocol 2 opcodes)
// ---------------------------------------------------------------------------------------------

const P = {
  PROTO2: [0x80, 0x02], EMPTY_LIST: 0x5d, EMPTY_DICT: 0x7d, MARK: 0x28, APPEND: 0x61, APPENDS: 0x65, SETITEM: 0x73,
  SETITEMS: 0x75, LIST: 0x6c, TUPLE: 0x74, STOP: 0x2e, BININT1: 0x4b, BINUNICODE: 0x58, LONG_BINPUT: 0x72, LONG_BINGET: 0x6a,
  DUP: 0x32, POP: 0x30, GLOBAL: 0x63, REDUCE: 0x52, BUILD: 0x62, EMPTY_SET: 0x8f, ADDITEMS: 0x90, FROZENSET: 0x91, TUPLE1: 0x85,
};

class PickleBytes {
  private readonly chunks: number[][] = [];
  private cur: number[] = [];
  op(...bytes: number[]): this {
    for (const x of bytes) this.cur.push(x);
    if (this.cur.length > 65536) this.flush();
    return this;
  }
  str(s: string): this {
    const b = utf8(s);
    this.op(P.BINUNICODE, ...leU32(b.length));
    for (const x of b) this.cur.push(x);
    return this;
  }
  put(i: number): this {
    return this.op(P.LONG_BINPUT, ...leU32(i));
  }
  get(i: number): this {
    return this.op(P.LONG_BINGET, ...leU32(i));
  }
  global(module: string, name: string): this {
    return this.op(P.GLOBAL, ...utf8(`${module}\n${name}\n`));
  }
  private flush(): void {
    this.chunks.push(this.cur);
    this.cur = [];
  }
  bytes(): Uint8Array {
    this.flush();
    return concat(...this.chunks.map((c) => Uint8Array.from(c)));
  }
}

/** A torch zip around `pickle` (the tensors' storages of a fixture kept, if given). */
function torchZip(pickle: Uint8Array, base?: ZipEntryBytes[]): Uint8Array {
  const prefix = base?.find((e) => e.name.endsWith('/data.pkl'))?.name.replace(/data\.pkl$/, '') ?? 'archive/';
  const rest = (base ?? []).filter((e) => !e.name.endsWith('/data.pkl'));
  const entries = [{ name: `${prefix}data.pkl`, data: pickle }, ...rest];
  if (!base) entries.push({ name: 'archive/version', data: utf8('3\n') }, { name: 'archive/byteorder', data: utf8('little') });
  return buildStoredZip(entries);
}

// ---------------------------------------------------------------------------------------------
// JSON (structural mutations, deep and amplified values)
// ---------------------------------------------------------------------------------------------

/** JSON text nested `depth` deep around `inner` (arrays or objects), built without recursion. */
export function deepJson(depth: number, kind: 'array' | 'object', inner = '1'): string {
  return kind === 'array' ? '['.repeat(depth) + inner + ']'.repeat(depth) : '{"a":'.repeat(depth) + inner + '}'.repeat(depth);
}

type JsonReplacement =
  | { kind: 'deep'; depth: number; shape: 'array' | 'object' }
  | { kind: 'big-array'; length: number }
  | { kind: 'number'; value: string }
  | { kind: 'string'; value: string }
  | { kind: 'proto-key'; key: string }
  | { kind: 'literal'; value: string };

const hostileStrings = ['\u001b[31mred\u001b[0m', 'a\nb\r\nc', '\u202eevil', '`command:x`', '[x](command:workbench.action.quit)', '<img src=x onerror=alert(1)>', '\u0000', '\ud800', 'x'.repeat(300_000)];

const jsonReplacementArb: fc.Arbitrary<JsonReplacement> = fc.oneof(
  fc.record({ kind: fc.constant('deep' as const), depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constantFrom(1000, 10_000, 100_000)), shape: fc.constantFrom('array' as const, 'object' as const) }),
  fc.record({ kind: fc.constant('big-array' as const), length: fc.constantFrom(0, 1, 1000, 100_000, 1_000_000) }),
  fc.record({ kind: fc.constant('number' as const), value: fc.constantFrom('0', '-1', '1e308', '-1e308', '1e400', '0.5', '9007199254740993', '4294967296', '1e9', '65536', 'NaN') }),
  fc.record({ kind: fc.constant('string' as const), value: fc.constantFrom(...hostileStrings) }),
  fc.record({ kind: fc.constant('proto-key' as const), key: fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString') }),
  fc.record({ kind: fc.constant('literal' as const), value: fc.constantFrom('null', 'true', '{}', '[]', '""', '[null]', '{"type":"Sequence"}') }),
);

function replacementText(r: JsonReplacement): string {
  switch (r.kind) {
    case 'deep':
      return deepJson(r.depth, r.shape);
    case 'big-array':
      return r.length === 0 ? '[]' : `[${'1,'.repeat(r.length - 1)}1]`;
    case 'number':
      return r.value;
    case 'string':
      return JSON.stringify(r.value);
    case 'proto-key':
      return `{${JSON.stringify(r.key)}:{"polluted":1},"x":1}`;
    case 'literal':
      return r.value;
  }
}

/** The JSON paths of `value` (at most `max`, breadth first), each a list of keys/indices. */
function jsonPaths(value: unknown, max = 5000): (string | number)[][] {
  const out: (string | number)[][] = [];
  const queue: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  while (queue.length && out.length < max) {
    const { v, path } = queue.shift()!;
    out.push(path);
    if (Array.isArray(v)) v.slice(0, 50).forEach((x, i) => queue.push({ v: x, path: [...path, i] }));
    else if (v && typeof v === 'object') for (const k of Object.keys(v).slice(0, 200)) queue.push({ v: (v as Record<string, unknown>)[k], path: [...path, k] });
  }
  return out;
}

const MARKER = '"__GL_FUZZ_MARKER__"';

/** `text` with the value at the `pick`-th path replaced by `r` (or a key injected there). */
function mutateJson(text: string, pick: number, r: JsonReplacement, asKey: boolean): Uint8Array {
  try {
    return mutateJsonValue(text, pick, r, asKey);
  } catch {
    // A seed too deep for JSON.stringify (the bad-inputs' deep files): mutated as bytes only.
    return utf8(text);
  }
}

function mutateJsonValue(text: string, pick: number, r: JsonReplacement, asKey: boolean): Uint8Array {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return utf8(text);
  }
  const paths = jsonPaths(value);
  const path = paths[pick % paths.length];
  if (path.length === 0) return utf8(replacementText(r));
  let parent = value as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (asKey && !Array.isArray(parent) && r.kind === 'proto-key') {
    parent[last] = '__GL_FUZZ_MARKER__';
    return utf8(JSON.stringify(value).replace(`${JSON.stringify(String(last))}:${MARKER}`, `${JSON.stringify(String(last))}:1,${JSON.stringify(r.key)}:{"x":1}`));
  }
  parent[last] = '__GL_FUZZ_MARKER__';
  return utf8(JSON.stringify(value).replace(MARKER, replacementText(r)));
}

// ---------------------------------------------------------------------------------------------
// Safetensors
// ---------------------------------------------------------------------------------------------

function safetensorsOf(header: string, dataBytes = 0): Uint8Array {
  const h = utf8(header);
  return concat(leU64(h.length), h, new Uint8Array(dataBytes));
}

function headerLength(b: Uint8Array): number {
  if (b.length < 8) return 0;
  const n = Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true));
  return Math.min(n, b.length - 8);
}

// ---------------------------------------------------------------------------------------------
// Case arbitraries
// ---------------------------------------------------------------------------------------------

const fileName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

function pickSeed(list: readonly string[], i: number): string {
  return list[i % list.length];
}

function mutationCase(reader: ReaderName, seedPath: string, region: 'all' | 'header' | 'pickle' | 'zip-structure' | 'prefix', ms: Mutation[]): FuzzCase {
  const make = (muts: Mutation[]): FuzzCase => {
    const original = fixtureBytes(seedPath);
    let bytes: Uint8Array;
    if (region === 'pickle') {
      const entries = parseStoredZip(original);
      const pkl = entries?.find((e) => e.name.endsWith('data.pkl'));
      bytes = entries && pkl ? torchZip(mutate(pkl.data, muts), entries) : mutate(original, muts);
    } else if (region === 'header') {
      bytes = mutate(original, muts, 0, 8 + headerLength(original));
    } else if (region === 'zip-structure') {
      // The central directory and end records: the last bytes after the data.
      bytes = mutate(original, muts, Math.max(0, original.length - 4096), original.length);
    } else if (region === 'prefix') {
      bytes = mutate(original, muts, 0, Math.min(original.length, 4096));
    } else {
      bytes = mutate(original, muts);
    }
    const name = reader === 'torch-zip' || reader === 'torch-legacy' ? fileName(seedPath).replace(/\.[^.]*$/, '') + '.pt' : fileName(seedPath);
    return { reader, origin: `mutate ${seedPath.slice(ROOT.length + 1)} (${region})`, files: [{ name, bytes }], mutations: muts, rebuild: make };
  };
  return make(ms);
}

function jsonMutationCase(reader: 'config' | 'tokenizer' | 'index', seedPath: string, pick: number, r: JsonReplacement, asKey: boolean, byteMuts: Mutation[]): FuzzCase {
  const text = new TextDecoder().decode(fixtureBytes(seedPath));
  const make = (muts: Mutation[]): FuzzCase => {
    const bytes = mutate(mutateJson(text, pick, r, asKey), muts);
    const what = `${r.kind}${'depth' in r ? ` ${r.depth}` : ''}${'length' in r ? ` ${r.length}` : ''}${'value' in r ? ` ${JSON.stringify(r.value).slice(0, 30)}` : ''}${'key' in r ? ` ${r.key}` : ''}`;
    const origin = `mutate ${seedPath.slice(ROOT.length + 1)} (json path #${pick} := ${what}${asKey ? ' as key' : ''})`;
    if (reader === 'index') return { reader, origin, files: indexFiles(seedPath, bytes), mutations: muts, rebuild: make };
    return { reader, origin, files: [{ name: reader === 'config' ? 'config.json' : 'tokenizer.json', bytes }], mutations: muts, rebuild: make };
  };
  return make(byteMuts);
}

/** An index and the shards beside its fixture. */
function indexFiles(indexPath: string, indexBytes: Uint8Array): CaseFile[] {
  const dir = indexPath.slice(0, indexPath.lastIndexOf('/'));
  const shards = readdirSync(dir).filter((n) => n.endsWith('.safetensors')).map((n) => ({ name: n, bytes: fixtureBytes(join(dir, n)) }));
  return [{ name: 'model.safetensors.index.json', bytes: indexBytes }, ...shards];
}

/** A shard index over the tiny model (the fixtures' own indexes are hostile ones). */
function tinyIndex(): { text: string; shard: Uint8Array } {
  const shard = fixtureBytes(TINY_MODEL);
  const header = JSON.parse(new TextDecoder().decode(shard.subarray(8, 8 + headerLength(shard)))) as Record<string, unknown>;
  const weightMap: Record<string, string> = {};
  for (const k of Object.keys(header)) if (k !== '__metadata__') weightMap[k] = 'model-00001-of-00001.safetensors';
  return { text: JSON.stringify({ metadata: { total_size: shard.length }, weight_map: weightMap }), shard };
}

const byteMutationsArb = fc.oneof({ weight: 3, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 1, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 2 }) });

/** Mutations of the fixtures, for each reader. */
function mutationArbs(): Record<ReaderName, fc.Arbitrary<FuzzCase>> {
  const s = seeds();
  const zipSeeds = s.zip;
  const tiny = tinyIndex();
  return {
    safetensors: fc.tuple(fc.nat(), fc.constantFrom('header' as const, 'header' as const, 'all' as const), mutationsArb)
      .map(([i, region, ms]) => mutationCase('safetensors', pickSeed(s.safetensors, i), region, ms)),
    'torch-zip': fc.tuple(fc.nat(), fc.constantFrom('pickle' as const, 'pickle' as const, 'zip-structure' as const, 'all' as const), mutationsArb)
      .map(([i, region, ms]) => mutationCase('torch-zip', pickSeed(zipSeeds, i), region, ms)),
    'torch-legacy': fc.tuple(fc.nat(), fc.constantFrom('prefix' as const, 'all' as const), mutationsArb)
      .map(([i, region, ms]) => mutationCase('torch-legacy', pickSeed(s.legacy, i), region, ms)),
    config: fc.tuple(fc.nat(), fc.nat(), jsonReplacementArb, fc.boolean(), byteMutationsArb)
      .map(([i, pick, r, asKey, ms]) => jsonMutationCase('config', pickSeed(s.config, i), pick, r, asKey, ms)),
    tokenizer: fc.oneof(
      { weight: 4, arbitrary: fc.tuple(fc.nat(), fc.nat(), jsonReplacementArb, fc.boolean(), byteMutationsArb)
        .map(([i, pick, r, asKey, ms]) => jsonMutationCase('tokenizer', pickSeed(s.tokenizer, i), pick, r, asKey, ms)) },
      { weight: 1, arbitrary: fc.tuple(fc.nat(), mutationsArb).map(([i, ms]) => mutationCase('tokenizer', pickSeed(s.vocab, i), 'all', ms)) },
    ),
    index: fc.tuple(fc.nat(), fc.nat(), jsonReplacementArb, fc.boolean(), byteMutationsArb, fc.boolean()).map(([i, pick, r, asKey, ms, own]) => {
      if (own || s.index.length === 0) {
        const make = (muts: Mutation[]): FuzzCase => {
          const v = JSON.parse(tiny.text);
          const paths = jsonPaths(v);
          const bytes = mutate(mutateJson(tiny.text, pick % paths.length, r, asKey), muts);
          return {
            reader: 'index', origin: `mutate a shard index of the tiny model (json path #${pick % paths.length} := ${r.kind})`,
            files: [{ name: 'model.safetensors.index.json', bytes }, { name: 'model-00001-of-00001.safetensors', bytes: tiny.shard }], mutations: muts, rebuild: make,
          };
        };
        return make(ms);
      }
      return jsonMutationCase('index', pickSeed(s.index, i), pick, r, asKey, ms);
    }),
  };
}

// --- generators of the three classes -----------------------------------------------------------

function gen(reader: ReaderName, origin: string, files: CaseFile[]): FuzzCase {
  return { reader, origin, files };
}

const depthArb = fc.constantFrom(100, 1000, 10_000, 100_000, 300_000);

/** Class 1: deep nesting in every reader. */
const deepArbs: fc.Arbitrary<FuzzCase>[] = [
  fc.tuple(depthArb, fc.constantFrom('shape', 'dtype', 'data_offsets', '__metadata__', 'tensor'), fc.constantFrom('array' as const, 'object' as const)).map(([d, field, shape]) => {
    const deep = deepJson(d, shape);
    const header = field === '__metadata__' ? `{"__metadata__":{"k":${deep}},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
      : field === 'tensor' ? `{"w":${deep}}`
      : `{"w":{"dtype":${field === 'dtype' ? deep : '"F32"'},"shape":${field === 'shape' ? deep : '[1]'},"data_offsets":${field === 'data_offsets' ? deep : '[0,4]'}}}`;
    return gen('safetensors', `gen deep/safetensors ${field} ${shape} ${d}`, [{ name: 'deep.safetensors', bytes: safetensorsOf(header, 4) }]);
  }),
  fc.tuple(depthArb, fc.constantFrom('list-append', 'dict-setitem', 'tuple', 'mark-list', 'set')).map(([d, kind]) => {
    const p = new PickleBytes().op(...P.PROTO2);
    if (kind === 'list-append') {
      for (let i = 0; i < d; i++) p.op(P.EMPTY_LIST);
      for (let i = 1; i < d; i++) p.op(P.APPEND);
    } else if (kind === 'dict-setitem') {
      p.op(P.EMPTY_DICT);
      for (let i = 1; i < d; i++) p.str('k').op(P.EMPTY_DICT);
      for (let i = 1; i < d; i++) p.op(P.SETITEM);
    } else if (kind === 'tuple') {
      p.op(P.BININT1, 1);
      for (let i = 0; i < d; i++) p.op(P.TUPLE1);
    } else if (kind === 'mark-list') {
      for (let i = 0; i < d; i++) p.op(P.MARK);
      for (let i = 0; i < d; i++) p.op(P.LIST);
    } else {
      p.op(P.EMPTY_LIST);
      for (let i = 0; i < d; i++) p.op(P.TUPLE1);
      p.op(P.EMPTY_SET, P.MARK).op(P.BININT1, 1).op(P.ADDITEMS);
    }
    p.op(P.STOP);
    return gen('torch-zip', `gen deep/pickle ${kind} ${d}`, [{ name: 'deep.pt', bytes: torchZip(p.bytes()) }]);
  }),
  fc.tuple(depthArb, fc.constantFrom('window_sizes', 'vocab_size', 'num_layers', 'architecture', 'model_dim'), fc.constantFrom('array' as const, 'object' as const)).map(([d, field, shape]) => {
    const config = JSON.parse(new TextDecoder().decode(fixtureBytes(join(FIX, 'tiny-grassmann/config.json')))) as Record<string, unknown>;
    config[field] = '__GL_FUZZ_MARKER__';
    return gen('config', `gen deep/config ${field} ${shape} ${d}`, [{ name: 'config.json', bytes: utf8(JSON.stringify(config).replace(MARKER, deepJson(d, shape))) }]);
  }),
  fc.tuple(depthArb, fc.constantFrom('normalizer', 'pre_tokenizer', 'decoder', 'post_processor', 'model')).map(([d, field]) => {
    const tok = JSON.parse(new TextDecoder().decode(fixtureBytes(join(FIX, 'tiny-grassmann/tokenizer.json')))) as Record<string, unknown>;
    const seq = field === 'normalizer' || field === 'pre_tokenizer'
      ? `${`{"type":"Sequence","${field === 'normalizer' ? 'normalizers' : 'pretokenizers'}":[`.repeat(d)}{"type":"${field === 'normalizer' ? 'Lowercase' : 'Whitespace'}"}${']}'.repeat(d)}`
      : deepJson(d, 'object');
    tok[field] = '__GL_FUZZ_MARKER__';
    return gen('tokenizer', `gen deep/tokenizer ${field} ${d}`, [{ name: 'tokenizer.json', bytes: utf8(JSON.stringify(tok).replace(MARKER, seq)) }]);
  }),
  fc.tuple(depthArb).map(([d]) => {
    const { shard } = tinyIndex();
    return gen('index', `gen deep/index weight_map ${d}`, [
      { name: 'model.safetensors.index.json', bytes: utf8(`{"metadata":{"total_size":1},"weight_map":{"w":${deepJson(d, 'array', '"model-00001-of-00001.safetensors"')}}}`) },
      { name: 'model-00001-of-00001.safetensors', bytes: shard },
    ]);
  }),
];

/** Class 2: small files that ask for a lot. */
const amplificationArbs: fc.Arbitrary<FuzzCase>[] = [
  // "Billion laughs": each level a list of k references to the level below (shared, not copied).
  fc.tuple(fc.integer({ min: 5, max: 40 }), fc.integer({ min: 2, max: 16 }), fc.constantFrom('config', 'top', 'state_dict', 'set', 'tuple')).map(([levels, k, where]) => {
    const p = new PickleBytes().op(...P.PROTO2);
    p.op(P.EMPTY_DICT).put(0).str(where === 'top' ? 'x' : where === 'state_dict' ? 'state_dict' : 'config');
    p.op(P.MARK).op(P.BININT1, 1).op(P.LIST).put(1);
    for (let l = 1; l <= levels; l++) {
      p.op(P.MARK);
      for (let i = 0; i < k; i++) p.get(l);
      p.op(where === 'tuple' ? P.TUPLE : P.LIST).put(l + 1);
      if (where === 'set') p.op(P.FROZENSET);
    }
    p.op(P.SETITEM, P.STOP);
    return gen('torch-zip', `gen amplification/pickle laughs ${levels}x${k} in ${where}`, [{ name: 'laughs.pt', bytes: torchZip(p.bytes()) }]);
  }),
  // Quadratic patterns: DUP + APPENDS of a growing list, many MARKs left open, big memo indices.
  fc.tuple(fc.integer({ min: 1000, max: 200_000 }), fc.constantFrom('dup-appends', 'open-marks', 'memo-far', 'setitems-many', 'long-string')).map(([n, kind]) => {
    const p = new PickleBytes().op(...P.PROTO2);
    if (kind === 'dup-appends') {
      p.op(P.EMPTY_LIST);
      for (let i = 0; i < n; i++) p.op(P.MARK, P.BININT1, 1, P.BININT1, 2, P.APPENDS, P.DUP);
      for (let i = 0; i < n; i++) p.op(P.POP);
    } else if (kind === 'open-marks') {
      for (let i = 0; i < n; i++) p.op(P.MARK, P.BININT1, 1);
      p.op(P.LIST);
    } else if (kind === 'memo-far') {
      p.op(P.EMPTY_LIST).op(P.LONG_BINPUT, 0xff, 0xff, 0xff, 0x7f).op(P.LONG_BINGET, 0xff, 0xff, 0xff, 0x7f).op(P.APPEND);
    } else if (kind === 'setitems-many') {
      p.op(P.EMPTY_DICT, P.MARK);
      for (let i = 0; i < n; i++) p.str(`k${i}`).op(P.BININT1, i & 0xff);
      p.op(P.SETITEMS);
    } else {
      p.op(P.BINUNICODE, ...leU32(0x7ffffff0));
    }
    p.op(P.STOP);
    return gen('torch-zip', `gen amplification/pickle ${kind} ${n}`, [{ name: 'amp.pt', bytes: torchZip(p.bytes()) }]);
  }),
  // A safetensors header with very many tensors / a big declared header / huge shapes.
  fc.tuple(fc.constantFrom(1000, 30_000, 130_000), fc.constantFrom('many-tensors', 'huge-shape', 'header-len', 'many-metadata')).map(([n, kind]) => {
    let bytes: Uint8Array;
    if (kind === 'many-tensors') {
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(`"t${i}":{"dtype":"F32","shape":[1],"data_offsets":[${i * 4},${i * 4 + 4}]}`);
      bytes = safetensorsOf(`{${parts.join(',')}}`, n * 4);
    } else if (kind === 'huge-shape') {
      bytes = safetensorsOf(`{"w":{"dtype":"F32","shape":[${n},${n},${n},${n}],"data_offsets":[0,4]}}`, 4);
    } else if (kind === 'header-len') {
      const h = utf8('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
      bytes = concat(leU64(Number.MAX_SAFE_INTEGER), h, new Uint8Array(4));
    } else {
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(`"m${i}":"${'v'.repeat(16)}"`);
      bytes = safetensorsOf(`{"__metadata__":{${parts.join(',')}},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4);
    }
    return gen('safetensors', `gen amplification/safetensors ${kind} ${n}`, [{ name: 'amp.safetensors', bytes }]);
  }),
  fc.constantFrom(10_000, 100_000, 1_000_000).map((n) => {
    const config = JSON.parse(new TextDecoder().decode(fixtureBytes(join(FIX, 'tiny-grassmann/config.json')))) as Record<string, unknown>;
    config.window_sizes = Array.from({ length: n }, (_, i) => (i % 16) + 1);
    return gen('config', `gen amplification/config window_sizes ${n}`, [{ name: 'config.json', bytes: utf8(JSON.stringify(config)) }]);
  }),
  fc.tuple(fc.constantFrom(10_000, 100_000, 1_000_000), fc.constantFrom('vocab-merges', 'max-chars')).map(([n, kind]) => {
    const tok = JSON.parse(new TextDecoder().decode(fixtureBytes(join(FIX, 'tiny-grassmann/tokenizer.json')))) as { model: Record<string, unknown> };
    if (kind === 'max-chars') tok.model.max_input_chars_per_word = n * 1000;
    else if (Array.isArray(tok.model.merges)) tok.model.merges = Array.from({ length: Math.min(n, 200_000) }, () => 'a b');
    else tok.model.vocab = Object.fromEntries(Array.from({ length: Math.min(n, 200_000) }, (_, i) => [`w${i}`, i]));
    return gen('tokenizer', `gen amplification/tokenizer ${kind} ${n}`, [{ name: 'tokenizer.json', bytes: utf8(JSON.stringify(tok)) }]);
  }),
];

const nameArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('\u001b[2J\u001b[31mred', 'a\nb', 'wte\u0000', '\u202etxt.exe', '__proto__', 'constructor', 'x'.repeat(100_000), '', ' ', '`[x](command:workbench.action.quit)`', '<script>alert(1)</script>', 'ñ日本語🙂'),
);

/** Class 3: unusual but valid files (they must open, or be refused with an InputError). */
const validArbs: fc.Arbitrary<FuzzCase>[] = [
  fc.tuple(fc.array(fc.tuple(nameArb, fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I8', 'U8', 'BOOL', 'I16'), fc.array(fc.nat(5), { maxLength: 4 })), { minLength: 1, maxLength: 20 }), fc.dictionary(nameArb, nameArb, { maxKeys: 5 })).map(([tensors, meta]) => {
    const size: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
    const header: Record<string, unknown> = {};
    let off = 0;
    const seen = new Set<string>();
    for (const [name, dtype, shape] of tensors) {
      if (seen.has(name) || name === '__metadata__') continue;
      seen.add(name);
      const n = shape.reduce((a, b) => a * b, 1) * size[dtype];
      Object.defineProperty(header, name, { value: { dtype, shape, data_offsets: [off, off + n] }, enumerable: true, configurable: true, writable: true });
      off += n;
    }
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta)) Object.defineProperty(metadata, k, { value: v, enumerable: true, configurable: true, writable: true });
    const text = JSON.stringify(Object.keys(metadata).length ? { __metadata__: metadata, ...header } : header);
    return gen('safetensors', `gen valid/safetensors ${seen.size} tensors`, [{ name: 'valid.safetensors', bytes: safetensorsOf(text, off) }]);
  }),
  fc.tuple(nameArb, nameArb).map(([module, name]) => {
    // A global with a hostile name: refused by name, the name escaped where it is shown.
    const p = new PickleBytes().op(...P.PROTO2).op(P.GLOBAL, ...utf8(`${module.replace(/\n/g, '')}\n${name.replace(/\n/g, '')}\n`)).op(P.EMPTY_LIST, P.TUPLE1, P.REDUCE, P.STOP);
    return gen('torch-zip', 'gen valid/pickle global with a hostile name', [{ name: 'global.pt', bytes: torchZip(p.bytes()) }]);
  }),
  fc.tuple(nameArb).map(([entry]) => {
    // Zip entry names that are odd (escapes, newlines, long), around the tiny checkpoint.
    const base = parseStoredZip(fixtureBytes(join(FIX, 'tiny-grassmann/checkpoints/best.pt')))!;
    return gen('torch-zip', 'gen valid/zip extra entry with an odd name', [{ name: 'odd-entry.pt', bytes: buildStoredZip([...base, { name: `archive/${entry}`, data: utf8('x') }]) }]);
  }),
];

/** Files that must be refused: what PyTorch would run or read differently from what is shown. */
const refuseArbs: fc.Arbitrary<FuzzCase>[] = [
  fc.tuple(fc.constantFrom('dup-first', 'dup-last'), fc.constantFrom(['os', 'system'], ['posix', 'system'], ['builtins', 'eval'], ['subprocess', 'Popen'], ['torch', 'load'])).map(([order, [module, name]]) => {
    const base = parseStoredZip(fixtureBytes(join(FIX, 'tiny-grassmann/checkpoints/best.pt')))!;
    const evil = new PickleBytes().op(...P.PROTO2).global(module, name).str('touch /tmp/grassmann-lens-pwned').op(P.TUPLE1, P.REDUCE, P.STOP).bytes();
    const pkl = base.find((e) => e.name.endsWith('data.pkl'))!;
    const entries = order === 'dup-last' ? [...base, { name: pkl.name, data: evil }] : [{ name: pkl.name, data: evil }, ...base];
    return { ...gen('torch-zip', `gen refuse/zip duplicate ${pkl.name} (${order}) calling ${module}.${name}`, [{ name: 'dup.pt', bytes: buildStoredZip(entries) }]), mustRefuse: true };
  }),
  fc.constantFrom(['os', 'system'], ['posix', 'system'], ['builtins', 'exec'], ['builtins', 'getattr'], ['__builtin__', 'eval'], ['nt', 'system'], ['runpy', '_run_code'], ['webbrowser', 'open']).map(([module, name]) => {
    const evil = new PickleBytes().op(...P.PROTO2).op(P.EMPTY_DICT).str('x').global(module, name).str('id').op(P.TUPLE1, P.REDUCE, P.SETITEM, P.STOP).bytes();
    return { ...gen('torch-zip', `gen refuse/pickle calling ${module}.${name}`, [{ name: 'evil.pt', bytes: torchZip(evil) }]), mustRefuse: true };
  }),
];

/** The reader each generator makes files for (in the order of the lists above). */
const GENERATORS: { reader: ReaderName; arb: fc.Arbitrary<FuzzCase> }[] = [
  ...(['safetensors', 'torch-zip', 'config', 'tokenizer', 'index'] as const).map((reader, i) => ({ reader, arb: deepArbs[i] })),
  ...(['torch-zip', 'torch-zip', 'safetensors', 'config', 'tokenizer'] as const).map((reader, i) => ({ reader, arb: amplificationArbs[i] })),
  ...(['safetensors', 'torch-zip', 'torch-zip'] as const).map((reader, i) => ({ reader, arb: validArbs[i] })),
  ...(['torch-zip', 'torch-zip'] as const).map((reader, i) => ({ reader, arb: refuseArbs[i] })),
];

/** Every case of one reader: mutations of its fixtures and its generators (2 : 1). */
export function caseArb(reader: ReaderName): fc.Arbitrary<FuzzCase> {
  const m = mutationArbs()[reader];
  const own = GENERATORS.filter((g) => g.reader === reader).map((g) => g.arb);
  return own.length ? fc.oneof({ weight: 2, arbitrary: m }, { weight: 1, arbitrary: fc.oneof(...own) }) : m;
}
