/**
 * safetensors reader (https://github.com/huggingface/safetensors format):
 *   [u64 LE header length N][N bytes JSON header][data area]
 * The header is validated completely before any tensor data is touched; errors name the
 * offending field. Opening reads the header only: tensors are byte ranges read on demand.
 */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../util/errors';
import { MAX_JSON_DEPTH, nullPrototype, parseJsonBounded, previewJson, scanJson } from '../util/jsonLimits';
import { openFileSource } from './fileSource';
import { stripPrefixes } from './stateDict';
import {
  contiguousStrides, DTYPE_SIZE, isDType,
  type ByteSource, type Checkpoint, type ScalarValue, type TensorInfo,
} from './types';

/** Headers larger than this are refused (the reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;
/** Most tensors (header entries) in one file. */
export const MAX_TENSORS_PER_FILE = 250_000;
/** Most dimensions of one tensor. */
export const MAX_TENSOR_RANK = 64;
/** Largest shard index read. */
export const MAX_INDEX_BYTES = 64 << 20;
/** Most tensors of a sharded model (all shards). */
export const MAX_TENSORS_PER_MODEL = 250_000;
/** Most shard files of one index. */
export const MAX_SHARDS = 2048;

export interface SafetensorsFile {
  source: ByteSource;
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** Byte offset of the data area in the file. */
  dataStart: number;
}

/** Reads and validates the header of one .safetensors file. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsFile> {
  const source = await openFileSource(path);
  try {
    return await parseHeader(source);
  } catch (e) {
    await closeAll([source]);
    throw e;
  }
}

/** Closes every source; a failure to close one does not stop the others or hide the error being thrown. */
async function closeAll(sources: readonly ByteSource[]): Promise<void> {
  await Promise.allSettled(sources.map((s) => s.close()));
}

async function parseHeader(source: ByteSource): Promise<SafetensorsFile> {
  const path = source.path;
  if (source.size < 8) {
    throw new InputError(path, `not a safetensors file: ${source.size} bytes, shorter than the 8-byte header length field`);
  }
  const lenBytes = await source.read(0, 8);
  const headerLength = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(source.size - 8)) {
    throw new InputError(path, `safetensors header length field says ${headerLength} bytes but the file has only ${source.size - 8} bytes after it (truncated or not a safetensors file)`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new InputError(path, `safetensors header of ${headerLength} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const n = Number(headerLength);
  const headerBytes = await source.read(8, n);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch (e) {
    throw new InputError(path, `safetensors header is not valid UTF-8 JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const scan = scanJson(text, MAX_JSON_DEPTH);
  if (scan.depth > MAX_JSON_DEPTH) {
    throw new InputError(path, `safetensors header has nesting deeper than ${MAX_JSON_DEPTH} levels (the limit; a valid header nests 3 deep)`);
  }
  if (scan.topLevelEntries > MAX_TENSORS_PER_FILE + 1) {
    throw new InputError(path, `safetensors header has ${scan.topLevelEntries} entries, more than the limit of ${MAX_TENSORS_PER_FILE} tensors per file`);
  }
  let header: unknown;
  try {
    header = nullPrototype(JSON.parse(text) as unknown);
  } catch (e) {
    throw new InputError(path, `safetensors header is not valid UTF-8 JSON (${(e as Error).message.split('\n')[0].slice(0, 200)})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new InputError(path, 'safetensors header is not a JSON object');
  }
  const dataStart = 8 + n;
  const dataSize = source.size - dataStart;
  const metadata = Object.create(null) as Record<string, string>;
  const tensors: TensorInfo[] = [];
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  const entries = Object.entries(header as Record<string, unknown>);
  const tensorCount = entries.length - (Object.prototype.hasOwnProperty.call(header, '__metadata__') ? 1 : 0);
  if (tensorCount > MAX_TENSORS_PER_FILE) {
    throw new InputError(path, `safetensors header has ${tensorCount} tensors, more than the limit of ${MAX_TENSORS_PER_FILE} per file`);
  }
  for (const [name, entry] of entries) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new InputError(path, '__metadata__ must be an object of strings');
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new InputError(path, `__metadata__.${k.length > 100 ? `${k.slice(0, 100)}...` : k} must be a string, got ${previewJson(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const info = validateEntry(path, name, entry);
    if (info.end > dataSize) {
      throw new InputError(path, `tensor ${quoteName(name)} data_offsets end at ${info.end} but the data area has only ${dataSize} bytes (file truncated?)`);
    }
    spans.push({ name, begin: info.begin, end: info.end });
    tensors.push({
      name,
      dtype: info.dtype,
      shape: info.shape,
      strides: contiguousStrides(info.shape),
      elementOffset: 0,
      storage: { source, byteOffset: dataStart + info.begin, byteLength: info.end - info.begin, key: name },
    });
  }
  checkTiling(path, spans, dataSize);
  // The file order of tensors is their data order (as written), which is how users think of them.
  tensors.sort((a, b) => a.storage.byteOffset - b.storage.byteOffset);
  return { source, tensors, metadata, dataStart };
}

/**
 * The tensors must tile the data area exactly, as the reference reader (huggingface/safetensors,
 * `Metadata::validate` and `read_metadata`) demands: sorted by (begin, end), the first begins at 0,
 * each next one begins where the previous one ends (else `InvalidOffset`), and the last one ends
 * at the end of the file (else `MetadataIncompleteBuffer`). No gaps, no overlaps, no trailing bytes.
 * Ends past the data area were refused before (as a truncated file).
 */
function checkTiling(path: string, spans: Array<{ name: string; begin: number; end: number }>, dataSize: number): void {
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let prev: { name: string; begin: number; end: number } | undefined;
  for (const span of spans) {
    const expected = prev ? prev.end : 0;
    if (prev && span.begin < expected) {
      throw new InputError(path, `tensors ${quoteName(prev.name)} and ${quoteName(span.name)} overlap in the data area: ${quoteName(prev.name)} has data_offsets [${prev.begin}, ${prev.end}], ${quoteName(span.name)} has [${span.begin}, ${span.end}]`);
    }
    if (span.begin !== expected) {
      throw new InputError(path, prev
        ? `tensor ${quoteName(span.name)} has data_offsets [${span.begin}, ${span.end}] but the previous tensor ${quoteName(prev.name)} ends at ${prev.end}: bytes ${prev.end}-${span.begin} of the data area belong to no tensor`
        : `tensor ${quoteName(span.name)} has data_offsets [${span.begin}, ${span.end}] but the first tensor must begin at 0: bytes 0-${span.begin} of the data area belong to no tensor`);
    }
    prev = span;
  }
  const covered = prev ? prev.end : 0;
  if (covered !== dataSize) {
    throw new InputError(path, `the data area has ${dataSize} bytes but the tensors cover only ${covered}${prev ? ` (the last, ${quoteName(prev.name)}, ends there)` : ' (the header lists none)'}: ${dataSize - covered} trailing bytes belong to no tensor`);
  }
}

/** Largest value of the reference's 64-bit `usize`: element counts and byte sizes must fit. */
const U64_MAX = (1n << 64n) - 1n;

function validateEntry(path: string, name: string, entry: unknown) {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new InputError(path, `tensor ${quoteName(name)}: header entry is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !isDType(dtype)) {
    throw new InputError(path, `tensor ${quoteName(name)} has unknown dtype ${previewJson(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new InputError(path, `tensor ${quoteName(name)} has an invalid shape ${previewJson(shape)}`);
  }
  if (shape.length > MAX_TENSOR_RANK) {
    throw new InputError(path, `tensor ${quoteName(name)} has ${shape.length} dimensions, more than the limit of ${MAX_TENSOR_RANK}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
    throw new InputError(path, `tensor ${quoteName(name)} has invalid data_offsets ${previewJson(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  // Checked at every multiplication, in order, as the reference does (`ValidationOverflow`).
  let elements = 1n;
  for (const d of shape as number[]) {
    elements *= BigInt(d);
    if (elements > U64_MAX) {
      throw new InputError(path, `tensor ${quoteName(name)} has shape ${previewJson(shape)} whose element count overflows 64 bits`);
    }
  }
  const expected = elements * BigInt(DTYPE_SIZE[dtype]);
  if (expected > U64_MAX) {
    throw new InputError(path, `tensor ${quoteName(name)} has shape ${previewJson(shape)} x ${dtype} whose size in bytes overflows 64 bits`);
  }
  if (BigInt(end - begin) !== expected) {
    throw new InputError(path, `tensor ${quoteName(name)} spans ${end - begin} bytes but shape ${previewJson(shape)} x ${dtype} needs ${expected}`);
  }
  return { dtype, shape: shape as number[], begin, end };
}

/** Opens one .safetensors file as a checkpoint (header only). */
export async function openSafetensors(path: string): Promise<Checkpoint> {
  const file = await readSafetensorsHeader(path);
  let unwrapped: ReturnType<typeof unwrapNames>;
  try {
    unwrapped = unwrapNames(file.tensors);
  } catch (e) {
    await closeAll([file.source]);
    throw e;
  }
  const { tensors, warnings } = unwrapped;
  return {
    path,
    format: 'safetensors',
    files: [path],
    tensors,
    metadata: { ...file.metadata } as Record<string, ScalarValue>,
    warnings,
    close: () => file.source.close(),
  };
}

/**
 * Opens a sharded model from its `*.safetensors.index.json` ({"weight_map": {tensor: shard file}}).
 * Every shard's header is validated; a tensor must live in the shard the index names.
 */
export async function openShardedSafetensors(indexPath: string): Promise<Checkpoint> {
  let text: string;
  try {
    const stat = await fs.stat(indexPath);
    if (!stat.isFile()) throw new InputError(indexPath, 'the shard index is not a regular file');
    if (stat.size > MAX_INDEX_BYTES) throw new InputError(indexPath, `the shard index is ${stat.size} bytes, more than the limit of ${MAX_INDEX_BYTES}`);
    text = await fs.readFile(indexPath, 'utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(indexPath, `cannot read the shard index: ${(e as Error).message.split('\n')[0]}`);
  }
  const index = parseJsonBounded(text, indexPath, 'the shard index');
  const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const rawMap = isPlainObject(index) ? index.weight_map : undefined;
  if (!isPlainObject(rawMap)) {
    throw new InputError(indexPath, 'shard index has no "weight_map" object');
  }
  // Tensor name -> shard file, as a Map: names such as __proto__ or constructor are plain keys.
  const weightMap = new Map<string, string>();
  for (const [name, s] of Object.entries(rawMap)) {
    if (typeof s !== 'string' || s === '' || s.includes('/') || s.includes('\\') || s === '..' || s === '.') {
      throw new InputError(indexPath, `weight_map names an invalid shard file ${previewJson(s)} for tensor ${quoteName(name)}`);
    }
    weightMap.set(name, s);
  }
  if (weightMap.size > MAX_TENSORS_PER_MODEL) {
    throw new InputError(indexPath, `weight_map lists ${weightMap.size} tensors, more than the limit of ${MAX_TENSORS_PER_MODEL} per model`);
  }
  const shardNames = [...new Set(weightMap.values())];
  if (shardNames.length > MAX_SHARDS) {
    throw new InputError(indexPath, `weight_map names ${shardNames.length} shard files, more than the limit of ${MAX_SHARDS}`);
  }
  const dir = dirname(indexPath);
  const shards: SafetensorsFile[] = [];
  try {
    for (const s of shardNames) shards.push(await readSafetensorsHeader(join(dir, s)));
  } catch (e) {
    await closeAll(shards.map((f) => f.source));
    throw e;
  }
  const tensors = new Map<string, TensorInfo>();
  const metadata = Object.create(null) as Record<string, ScalarValue>;
  const warnings: string[] = [];
  let unwrapped: ReturnType<typeof unwrapNames>;
  try {
    const indexMeta = isPlainObject(index) ? index.metadata : undefined;
    if (isPlainObject(indexMeta)) {
      for (const [k, v] of Object.entries(indexMeta)) if (isScalar(v)) metadata[k] = v;
    }
    for (const shard of shards) {
      for (const [k, v] of Object.entries(shard.metadata)) metadata[k] = v;
      for (const t of shard.tensors) {
        const expected = weightMap.get(t.name);
        if (expected === undefined) warnings.push(`${shard.source.path}: tensor ${quoteName(t.name)} is not listed in the shard index`);
        else if (join(dir, expected) !== shard.source.path) warnings.push(`tensor ${quoteName(t.name)} found in ${shard.source.path}, index says ${expected}`);
        if (tensors.has(t.name)) throw new InputError(shard.source.path, `tensor ${quoteName(t.name)} appears in more than one shard`);
        tensors.set(t.name, t);
        if (tensors.size > MAX_TENSORS_PER_MODEL) {
          throw new InputError(shard.source.path, `the shards of ${indexPath} hold more than the limit of ${MAX_TENSORS_PER_MODEL} tensors per model`);
        }
      }
    }
    for (const [name, shard] of weightMap) {
      if (!tensors.has(name)) throw new InputError(indexPath, `tensor ${quoteName(name)} is listed in the index but missing from shard ${shard}`);
    }
    unwrapped = unwrapNames([...tensors.values()]);
  } catch (e) {
    await closeAll(shards.map((f) => f.source));
    throw e;
  }
  return {
    path: indexPath,
    format: 'safetensors-sharded',
    files: shards.map((s) => s.source.path),
    tensors: unwrapped.tensors,
    metadata: { ...metadata },
    warnings: [...warnings, ...unwrapped.warnings],
    close: async () => {
      await Promise.all(shards.map((f) => f.source.close()));
    },
  };
}

/** A tensor name for a message: quoted, cut to 200 characters. */
function quoteName(name: string): string {
  return name.length > 200 ? `'${name.slice(0, 200)}...' (${name.length} characters)` : `'${name}'`;
}

/** Strips DataParallel/torch.compile prefixes from the tensor names, as the torch reader does. */
function unwrapNames(list: TensorInfo[]): { tensors: Map<string, TensorInfo>; warnings: string[] } {
  const stripped = stripPrefixes(list.map((t) => t.name));
  const tensors = new Map<string, TensorInfo>();
  list.forEach((t, i) => tensors.set(stripped.names[i], { ...t, name: stripped.names[i] }));
  return { tensors, warnings: stripped.warnings };
}

function isScalar(v: unknown): v is ScalarValue {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v);
}
