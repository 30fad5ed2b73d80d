/**
 * Writes state dicts in torch.save's zip format, loadable by `torch.load(path, weights_only=True)`
 * and by ./torch.ts.
 *
 * What torch.save produces, and so what this writes: an uncompressed (STORED) zip whose entries
 * all live in one folder (`archive/`): `data.pkl` (a protocol-2 pickle of the object, tensors as
 * `torch._utils._rebuild_tensor_v2` calls whose storages are persistent ids), `byteorder`, one
 * `data/<key>` entry per storage with its data aligned to 64 bytes (torch pads the local header's
 * extra field for this, so storages can be memory-mapped), and `version` ("3\n").
 * Entries are streamed to disk in order; tensor data is written straight from the caller's typed
 * arrays without copies, so memory stays at one tensor's worth plus headers.
 */
import { promises as fs } from 'node:fs';
import { endianness } from 'node:os';
import { crc32 } from 'node:zlib';
import { DTYPE_SIZE, contiguousStrides, elementCount, type DType, type TypedArray } from './types';

export type { TensorToWrite } from './safetensorsWriter';
import type { TensorToWrite } from './safetensorsWriter';

/** The torch storage class that torch.save names for each dtype. */
const STORAGE_CLASS: Readonly<Record<DType, string>> = {
  F64: 'DoubleStorage', F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage',
  I64: 'LongStorage', I32: 'IntStorage', I16: 'ShortStorage', I8: 'CharStorage',
  U8: 'ByteStorage', BOOL: 'BoolStorage',
};

/** The typed array that holds each dtype's elements (F16/BF16 as raw 16-bit patterns). */
const ARRAY_TYPE: Readonly<Record<DType, abstract new (...args: never[]) => TypedArray>> = {
  F64: Float64Array, F32: Float32Array, F16: Uint16Array, BF16: Uint16Array,
  I64: BigInt64Array, I32: Int32Array, I16: Int16Array, I8: Int8Array,
  U8: Uint8Array, BOOL: Uint8Array,
};

/** Folder name inside the zip; torch uses the file's base name, any name loads. */
const ARCHIVE = 'archive';

/**
 * A value written beside the state dict (a saved config, training bookkeeping): the JSON-like
 * values torch.save pickles as plain Python objects. A dict (a plain object, string keys, in
 * insertion order) becomes a dict, an array a list, a string a str, a boolean a bool, null None,
 * a safe integer (or a bigint) an int and any other number a float. Anything else (undefined,
 * functions, Maps, typed arrays, class instances) is refused, so the pickle holds no object
 * that unpickling would construct.
 */
export type PickleData = null | boolean | number | bigint | string | readonly PickleData[] | { readonly [key: string]: PickleData };

/** Nesting depth and values in all that a PickleData value may have (cycles end at the depth). */
export const MAX_PICKLE_DATA_DEPTH = 32;
export const MAX_PICKLE_DATA_VALUES = 1_000_000;

export interface TorchCheckpointOptions {
  /**
   * The keys the state dict sits under, outermost first (Checkpoint.stateDictLayout.stateKeys):
   * ['model_state_dict'] writes {...extra, model_state_dict: state_dict}; ['state_dict', 'model']
   * writes {...extra, state_dict: {model: state_dict}}; [] writes the bare state dict (then
   * `extra` must be empty). Default: ['model_state_dict'] with `extra`, [] without.
   */
  stateKeys?: readonly string[];
}

/**
 * Writes `tensors` as a state dict (an OrderedDict, in the given order). Without `extra` and
 * stateKeys the file holds the bare state dict, like `torch.save(model.state_dict())`; with
 * `extra` it holds a dict of those entries (in order) and then the state dict under the wrapper
 * keys (options.stateKeys, default 'model_state_dict'), like a training checkpoint. Numbers are
 * written as Python ints when they are safe integers (-0 excepted), else as floats (BINFLOAT,
 * which the weights_only loader of PyTorch < 2.0 does not accept; ints, strings, bools, None,
 * lists and dicts load everywhere). The same input gives the same bytes.
 * The file is written next to `path` and renamed into place, so a failed write leaves no
 * half-written checkpoint behind.
 */
export async function writeTorchCheckpoint(
  path: string,
  tensors: readonly TensorToWrite[],
  extra?: Readonly<Record<string, PickleData>>,
  options: TorchCheckpointOptions = {},
): Promise<void> {
  if (endianness() !== 'LE') throw new Error('writeTorchCheckpoint: big-endian hosts are not supported');
  const stateKeys = [...(options.stateKeys ?? (extra ? ['model_state_dict'] : []))];
  validate(tensors, extra, stateKeys);

  // One storage per distinct data array; a repeated array (tied weights) reuses its storage.
  const storageKeys = new Map<TypedArray, string>();
  const storages: { key: string; data: TypedArray }[] = [];
  const keyOf = (t: TensorToWrite): string => {
    let key = storageKeys.get(t.data);
    if (key === undefined) {
      key = String(storages.length);
      storageKeys.set(t.data, key);
      storages.push({ key, data: t.data });
    }
    return key;
  };

  const p = new PickleWriter();
  p.proto(2);
  // {...extra, k0: {k1: ... state_dict}}: the outer dict's items go in one SETITEMS, each inner
  // wrapper holds one item (SETITEM once the state dict is built).
  if (stateKeys.length > 0) {
    p.emptyDict();
    p.mark();
    for (const [k, v] of Object.entries(extra ?? {})) {
      p.unicode(k);
      p.data(v);
    }
    p.unicode(stateKeys[0]);
    for (const key of stateKeys.slice(1)) p.emptyDict().unicode(key);
  }
  p.global('collections', 'OrderedDict');
  p.emptyTuple();
  p.reduce();
  if (tensors.length > 0) {
    p.mark();
    for (const t of tensors) {
      p.unicode(t.name);
      writeTensor(p, t, keyOf(t));
    }
    p.setItems();
  }
  for (let k = 1; k < stateKeys.length; k++) p.setItem();
  if (stateKeys.length > 0) p.setItems();
  p.stop();

  const entries: ZipEntryToWrite[] = [
    { name: `${ARCHIVE}/data.pkl`, data: p.bytes() },
    { name: `${ARCHIVE}/byteorder`, data: new TextEncoder().encode('little') },
    ...storages.map((s) => ({ name: `${ARCHIVE}/data/${s.key}`, data: new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength) })),
    { name: `${ARCHIVE}/version`, data: new TextEncoder().encode('3\n') },
  ];
  await writeStoredZip(path, entries);
}

/** torch.save's pickling of one tensor: _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict()). */
function writeTensor(p: PickleWriter, t: TensorToWrite, key: string): void {
  p.global('torch._utils', '_rebuild_tensor_v2');
  p.mark();
  // The persistent id ('storage', storage_type, key, location, numel).
  p.mark();
  p.unicode('storage');
  p.global('torch', STORAGE_CLASS[t.dtype]);
  p.unicode(key);
  p.unicode('cpu');
  p.int(t.data.length);
  p.tuple();
  p.binPersId();
  p.int(0);
  p.intTuple(t.shape);
  p.intTuple(contiguousStrides(t.shape));
  p.bool(false);
  p.global('collections', 'OrderedDict');
  p.emptyTuple();
  p.reduce();
  p.tuple();
  p.reduce();
}

function validate(tensors: readonly TensorToWrite[], extra: Readonly<Record<string, PickleData>> | undefined, stateKeys: readonly string[]): void {
  const names = new Set<string>();
  for (const t of tensors) {
    if (!t.name) throw new Error('writeTorchCheckpoint: a tensor has an empty name');
    if (names.has(t.name)) throw new Error(`writeTorchCheckpoint: duplicate tensor name '${t.name}'`);
    names.add(t.name);
    if (!(t.dtype in STORAGE_CLASS)) throw new Error(`writeTorchCheckpoint: tensor '${t.name}' has unknown dtype '${t.dtype}'`);
    if (!(t.data instanceof ARRAY_TYPE[t.dtype])) {
      throw new Error(`writeTorchCheckpoint: tensor '${t.name}' is ${t.dtype} but its data is a ${t.data.constructor.name}, expected a ${ARRAY_TYPE[t.dtype].name}`);
    }
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`writeTorchCheckpoint: tensor '${t.name}' has an invalid shape [${t.shape.join(', ')}]`);
    }
    if (elementCount(t.shape) !== t.data.length || t.data.byteLength !== t.data.length * DTYPE_SIZE[t.dtype]) {
      throw new Error(`writeTorchCheckpoint: tensor '${t.name}' has shape [${t.shape.join(', ')}] (${elementCount(t.shape)} elements) but ${t.data.length} data elements`);
    }
  }
  if (!stateKeys.every((k) => typeof k === 'string' && k.length > 0)) {
    throw new Error(`writeTorchCheckpoint: the state dict's wrapper keys must be non-empty strings, got ${JSON.stringify(stateKeys)}`);
  }
  if (extra !== undefined) {
    if (!isPlainObject(extra)) throw new Error('writeTorchCheckpoint: extra must be a plain object of entries');
    if (stateKeys.length === 0 && Object.keys(extra).length > 0) {
      throw new Error('writeTorchCheckpoint: a bare state dict (no wrapper keys) has no room for extra entries');
    }
    if (stateKeys.length > 0 && Object.prototype.hasOwnProperty.call(extra, stateKeys[0])) {
      throw new Error(`writeTorchCheckpoint: '${stateKeys[0]}' is reserved for the state dict and cannot be an extra entry`);
    }
    checkPickleData(extra, 'extra', 0, { values: MAX_PICKLE_DATA_VALUES });
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Throws for anything PickleData does not allow, naming where (extra.config.lags[2]). */
function checkPickleData(v: unknown, where: string, depth: number, budget: { values: number }): void {
  if (--budget.values < 0) throw new Error(`writeTorchCheckpoint: extra has more than ${MAX_PICKLE_DATA_VALUES} values`);
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string') return;
  const container = Array.isArray(v) || isPlainObject(v);
  if (!container) {
    const what = typeof v === 'object' ? (v as object).constructor?.name ?? 'object' : typeof v;
    throw new Error(`writeTorchCheckpoint: ${where} is a ${what}; only dicts, lists, strings, numbers, booleans and null can be written`);
  }
  if (depth >= MAX_PICKLE_DATA_DEPTH) throw new Error(`writeTorchCheckpoint: ${where} nests deeper than ${MAX_PICKLE_DATA_DEPTH} levels (a cycle?)`);
  if (Array.isArray(v)) v.forEach((x, i) => checkPickleData(x, `${where}[${i}]`, depth + 1, budget));
  else for (const [k, x] of Object.entries(v)) checkPickleData(x, `${where}.${k}`, depth + 1, budget);
}

// ---------------------------------------------------------------------------------------------
// Pickle writer (protocol 2, the opcodes torch.save emits)
// ---------------------------------------------------------------------------------------------

/**
 * Emits pickle opcodes into a growable buffer. Globals and repeated strings are memoized
 * (BINPUT/BINGET), as Python's pickler does, which keeps data.pkl small for big state dicts.
 * Also used by tests to hand-build pickles.
 */
export class PickleWriter {
  private buf = new Uint8Array(4096);
  private len = 0;
  private readonly memo = new Map<string, number>();

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Raw bytes (an opcode and its argument). */
  raw(...bytes: number[]): this {
    this.ensure(bytes.length);
    for (const b of bytes) this.buf[this.len++] = b;
    return this;
  }

  rawBytes(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  private u32(v: number): void {
    this.raw(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  proto(n: number): this { return this.raw(0x80, n); }
  stop(): this { return this.raw(0x2e); }
  mark(): this { return this.raw(0x28); }
  none(): this { return this.raw(0x4e); }
  bool(v: boolean): this { return this.raw(v ? 0x88 : 0x89); }
  emptyTuple(): this { return this.raw(0x29); }
  tuple(): this { return this.raw(0x74); }
  emptyList(): this { return this.raw(0x5d); }
  emptyDict(): this { return this.raw(0x7d); }
  appends(): this { return this.raw(0x65); }
  setItem(): this { return this.raw(0x73); }
  setItems(): this { return this.raw(0x75); }
  reduce(): this { return this.raw(0x52); }
  build(): this { return this.raw(0x62); }
  binPersId(): this { return this.raw(0x51); }

  int(v: number | bigint): this {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new Error(`PickleWriter.int: ${v} is not an integer`);
    const n = BigInt(v);
    if (n >= 0n && n < 0x100n) return this.raw(0x4b, Number(n)); // BININT1
    if (n >= 0n && n < 0x10000n) return this.raw(0x4d, Number(n) & 0xff, Number(n) >> 8); // BININT2
    if (n >= -0x80000000n && n < 0x80000000n) { // BININT (signed 32-bit)
      this.raw(0x4a);
      this.u32(Number(BigInt.asUintN(32, n)));
      return this;
    }
    // LONG1: minimal little-endian two's complement.
    const bytes: number[] = [];
    let x = n;
    for (;;) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
      const signBit = (bytes[bytes.length - 1] & 0x80) !== 0;
      if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
    }
    return this.raw(0x8a, bytes.length, ...bytes);
  }

  float(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false); // BINFLOAT is big-endian
    return this.raw(0x47).rawBytes(b);
  }

  /** A str (BINUNICODE), memoized so repeated keys cost a BINGET. */
  unicode(s: string): this {
    if (this.recall(`s:${s}`)) return this;
    const b = new TextEncoder().encode(s);
    this.raw(0x58);
    this.u32(b.length);
    this.rawBytes(b);
    return this.remember(`s:${s}`);
  }

  /** A GLOBAL reference, memoized. */
  global(module: string, name: string): this {
    if (this.recall(`g:${module}.${name}`)) return this;
    this.raw(0x63).rawBytes(new TextEncoder().encode(`${module}\n${name}\n`));
    return this.remember(`g:${module}.${name}`);
  }

  /**
   * A PickleData value (checked by the caller): dicts as EMPTY_DICT MARK k v ... SETITEMS, lists
   * as EMPTY_LIST MARK ... APPENDS (nothing after the empty container when it has no items).
   */
  data(v: PickleData): this {
    if (v === null) return this.none();
    if (typeof v === 'boolean') return this.bool(v);
    if (typeof v === 'bigint') return this.int(v);
    if (typeof v === 'number') return Number.isSafeInteger(v) && !Object.is(v, -0) ? this.int(v) : this.float(v);
    if (typeof v === 'string') return this.unicode(v);
    if (Array.isArray(v)) {
      this.emptyList();
      if (v.length === 0) return this;
      this.mark();
      for (const x of v as readonly PickleData[]) this.data(x);
      return this.appends();
    }
    const entries = Object.entries(v as { readonly [key: string]: PickleData });
    this.emptyDict();
    if (entries.length === 0) return this;
    this.mark();
    for (const [k, x] of entries) {
      this.unicode(k);
      this.data(x);
    }
    return this.setItems();
  }

  intTuple(values: readonly number[]): this {
    if (values.length === 0) return this.emptyTuple();
    if (values.length <= 3) {
      for (const v of values) this.int(v);
      return this.raw(0x84 + values.length); // TUPLE1..TUPLE3
    }
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }

  private recall(key: string): boolean {
    const slot = this.memo.get(key);
    if (slot === undefined) return false;
    if (slot < 256) this.raw(0x68, slot); // BINGET
    else { this.raw(0x6a); this.u32(slot); } // LONG_BINGET
    return true;
  }

  private remember(key: string): this {
    const slot = this.memo.size;
    this.memo.set(key, slot);
    if (slot < 256) return this.raw(0x71, slot); // BINPUT
    this.raw(0x72); // LONG_BINPUT
    this.u32(slot);
    return this;
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

// ---------------------------------------------------------------------------------------------
// Zip writer (STORED entries, 64-byte aligned data, zip64 when needed)
// ---------------------------------------------------------------------------------------------

export interface ZipEntryToWrite {
  name: string;
  data: Uint8Array;
}

export interface ZipWriteOptions {
  /** Use zip64 records even for a small archive (tests exercise the zip64 reader with it). */
  forceZip64?: boolean;
}

const ALIGNMENT = 64;
const U32_MAX = 0xffffffff;
/** Writes are split so no single write exceeds Node's 2 GiB limit. */
const WRITE_CHUNK = 64 * 1024 * 1024;
/** 1980-01-01 00:00 in MS-DOS format: a fixed timestamp keeps output reproducible. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;

/** Writes a zip of STORED entries to `path` (via a temporary file renamed into place). */
export async function writeStoredZip(path: string, entries: readonly ZipEntryToWrite[], options: ZipWriteOptions = {}): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await fs.open(tmp, 'w');
  let pos = 0;
  const write = async (bytes: Uint8Array): Promise<void> => {
    for (let off = 0; off < bytes.length; off += WRITE_CHUNK) {
      const chunk = bytes.subarray(off, Math.min(bytes.length, off + WRITE_CHUNK));
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, pos + off + done);
        done += bytesWritten;
      }
    }
    pos += bytes.length;
  };
  try {
    const central: Uint8Array[] = [];
    for (const e of entries) {
      const name = new TextEncoder().encode(e.name);
      const size = e.data.length;
      const crc = crcOf(e.data);
      const localOffset = pos;
      const zip64Local = options.forceZip64 === true || size >= U32_MAX;

      // Local header: [30 fixed][name][zip64 extra?][padding extra 'FB' so data is aligned].
      const zip64Extra = zip64Local ? 4 + 16 : 0;
      const beforePad = localOffset + 30 + name.length + zip64Extra + 4;
      const pad = (ALIGNMENT - (beforePad % ALIGNMENT)) % ALIGNMENT;
      const header = new Uint8Array(30 + name.length + zip64Extra + 4 + pad);
      const h = new DataView(header.buffer);
      h.setUint32(0, 0x04034b50, true);
      h.setUint16(4, zip64Local ? 45 : 20, true);
      h.setUint16(6, 0, true); // flags
      h.setUint16(8, 0, true); // STORED
      h.setUint16(10, DOS_TIME, true);
      h.setUint16(12, DOS_DATE, true);
      h.setUint32(14, crc, true);
      h.setUint32(18, zip64Local ? U32_MAX : size, true);
      h.setUint32(22, zip64Local ? U32_MAX : size, true);
      h.setUint16(26, name.length, true);
      h.setUint16(28, zip64Extra + 4 + pad, true);
      header.set(name, 30);
      let q = 30 + name.length;
      if (zip64Local) {
        h.setUint16(q, 0x0001, true);
        h.setUint16(q + 2, 16, true);
        h.setBigUint64(q + 4, BigInt(size), true);
        h.setBigUint64(q + 12, BigInt(size), true);
        q += zip64Extra;
      }
      h.setUint16(q, 0x4246, true); // 'FB': PyTorch's alignment padding block
      h.setUint16(q + 2, pad, true);
      header.fill(0x5a, q + 4); // 'Z', as torch pads
      await write(header);
      await write(e.data);

      central.push(centralHeader(name, crc, size, localOffset, options.forceZip64 === true));
    }

    const cdOffset = pos;
    let cdSize = 0;
    for (const c of central) {
      await write(c);
      cdSize += c.length;
    }
    const zip64 = options.forceZip64 === true || entries.length >= 0xffff || cdOffset >= U32_MAX || cdSize >= U32_MAX;
    if (zip64) {
      const eocd64Offset = pos;
      const rec = new Uint8Array(56 + 20);
      const r = new DataView(rec.buffer);
      r.setUint32(0, 0x06064b50, true);
      r.setBigUint64(4, 44n, true); // size of the rest of this record
      r.setUint16(12, 45, true);
      r.setUint16(14, 45, true);
      r.setUint32(16, 0, true);
      r.setUint32(20, 0, true);
      r.setBigUint64(24, BigInt(entries.length), true);
      r.setBigUint64(32, BigInt(entries.length), true);
      r.setBigUint64(40, BigInt(cdSize), true);
      r.setBigUint64(48, BigInt(cdOffset), true);
      // Locator
      r.setUint32(56, 0x07064b50, true);
      r.setUint32(60, 0, true);
      r.setBigUint64(64, BigInt(eocd64Offset), true);
      r.setUint32(72, 1, true);
      await write(rec);
    }
    const end = new Uint8Array(22);
    const v = new DataView(end.buffer);
    v.setUint32(0, 0x06054b50, true);
    v.setUint16(8, zip64 ? 0xffff : entries.length, true);
    v.setUint16(10, zip64 ? 0xffff : entries.length, true);
    v.setUint32(12, zip64 ? U32_MAX : cdSize, true);
    v.setUint32(16, zip64 ? U32_MAX : cdOffset, true);
    await write(end);
    await handle.close();
    await fs.rename(tmp, path);
  } catch (e) {
    await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

function centralHeader(name: Uint8Array, crc: number, size: number, localOffset: number, force: boolean): Uint8Array {
  const bigSize = force || size >= U32_MAX;
  const bigOffset = force || localOffset >= U32_MAX;
  // zip64 extra: sizes (both or neither, as they are equal) then the offset, when overflowed.
  const extraLen = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
  const out = new Uint8Array(46 + name.length + extraLen);
  const v = new DataView(out.buffer);
  const version = extraLen ? 45 : 20;
  v.setUint32(0, 0x02014b50, true);
  v.setUint16(4, version, true);
  v.setUint16(6, version, true);
  v.setUint16(8, 0, true);
  v.setUint16(10, 0, true);
  v.setUint16(12, DOS_TIME, true);
  v.setUint16(14, DOS_DATE, true);
  v.setUint32(16, crc, true);
  v.setUint32(20, bigSize ? U32_MAX : size, true);
  v.setUint32(24, bigSize ? U32_MAX : size, true);
  v.setUint16(28, name.length, true);
  v.setUint16(30, extraLen, true);
  v.setUint32(42, bigOffset ? U32_MAX : localOffset, true);
  out.set(name, 46);
  if (extraLen) {
    let q = 46 + name.length;
    v.setUint16(q, 0x0001, true);
    v.setUint16(q + 2, extraLen - 4, true);
    q += 4;
    if (bigSize) {
      v.setBigUint64(q, BigInt(size), true);
      v.setBigUint64(q + 8, BigInt(size), true);
      q += 16;
    }
    if (bigOffset) v.setBigUint64(q, BigInt(localOffset), true);
  }
  return out;
}

/** CRC-32 of the entry (zip readers, torch's included, verify it), in chunks for huge entries. */
function crcOf(data: Uint8Array): number {
  let crc = 0;
  for (let off = 0; off < data.length; off += WRITE_CHUNK) {
    crc = crc32(data.subarray(off, Math.min(data.length, off + WRITE_CHUNK)), crc);
  }
  return crc >>> 0;
}
