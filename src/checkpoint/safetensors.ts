/**
 * safetensors reader (https://github.com/huggingface/safetensors format):
 *   [u64 LE header length N][N bytes JSON header][data area]
 * The header is validated completely before any tensor data is touched; errors name the
 * offending field. Opening reads the header only: tensors are byte ranges read on demand.
 */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../util/errors';
import { openFileSource } from './fileSource';
import { stripPrefixes } from './stateDict';
import {
  contiguousStrides, DTYPE_SIZE, elementCount, isDType,
  type ByteSource, type Checkpoint, type ScalarValue, type TensorInfo,
} from './types';

/** Headers larger than this are refused (the reference implementation uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

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
    await source.close();
    throw e;
  }
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
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new InputError(path, `safetensors header is not valid UTF-8 JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new InputError(path, 'safetensors header is not a JSON object');
  }
  const dataStart = 8 + n;
  const dataSize = source.size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new InputError(path, '__metadata__ must be an object of strings');
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new InputError(path, `__metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const info = validateEntry(path, name, entry);
    if (info.end > dataSize) {
      throw new InputError(path, `tensor '${name}' data_offsets end at ${info.end} but the data area has only ${dataSize} bytes (file truncated?)`);
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
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].begin < spans[i - 1].end) {
      throw new InputError(path, `tensors '${spans[i - 1].name}' and '${spans[i].name}' overlap in the data area`);
    }
  }
  // The file order of tensors is their data order (as written), which is how users think of them.
  tensors.sort((a, b) => a.storage.byteOffset - b.storage.byteOffset);
  return { source, tensors, metadata, dataStart };
}

function validateEntry(path: string, name: string, entry: unknown) {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new InputError(path, `tensor '${name}': header entry is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !isDType(dtype)) {
    throw new InputError(path, `tensor '${name}' has unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new InputError(path, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
    throw new InputError(path, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = elementCount(shape as number[]) * DTYPE_SIZE[dtype];
  if (end - begin !== expected) {
    throw new InputError(path, `tensor '${name}' spans ${end - begin} bytes but shape ${JSON.stringify(shape)} x ${dtype} needs ${expected}`);
  }
  return { dtype, shape: shape as number[], begin, end };
}

/** Opens one .safetensors file as a checkpoint (header only). */
export async function openSafetensors(path: string): Promise<Checkpoint> {
  const file = await readSafetensorsHeader(path);
  const { tensors, warnings } = unwrapNames(file.tensors);
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
  let index: unknown;
  try {
    index = JSON.parse(await fs.readFile(indexPath, 'utf8'));
  } catch (e) {
    throw new InputError(indexPath, `cannot read the shard index: ${(e as Error).message.split('\n')[0]}`);
  }
  const weightMap = (index as { weight_map?: unknown })?.weight_map;
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap)) {
    throw new InputError(indexPath, 'shard index has no "weight_map" object');
  }
  const shardNames = [...new Set(Object.values(weightMap as Record<string, unknown>))];
  for (const s of shardNames) {
    if (typeof s !== 'string' || s.includes('/') || s.includes('\\') || s === '..') {
      throw new InputError(indexPath, `weight_map names an invalid shard file ${JSON.stringify(s)}`);
    }
  }
  const dir = dirname(indexPath);
  const shards: SafetensorsFile[] = [];
  try {
    for (const s of shardNames as string[]) shards.push(await readSafetensorsHeader(join(dir, s)));
  } catch (e) {
    await Promise.all(shards.map((f) => f.source.close()));
    throw e;
  }
  const tensors = new Map<string, TensorInfo>();
  const metadata: Record<string, ScalarValue> = {};
  const warnings: string[] = [];
  const indexMeta = (index as { metadata?: Record<string, unknown> }).metadata;
  if (indexMeta && typeof indexMeta === 'object') {
    for (const [k, v] of Object.entries(indexMeta)) if (isScalar(v)) metadata[k] = v;
  }
  for (const shard of shards) {
    Object.assign(metadata, shard.metadata);
    for (const t of shard.tensors) {
      const expected = (weightMap as Record<string, string>)[t.name];
      if (expected === undefined) warnings.push(`${shard.source.path}: tensor '${t.name}' is not listed in the shard index`);
      else if (join(dir, expected) !== shard.source.path) warnings.push(`tensor '${t.name}' found in ${shard.source.path}, index says ${expected}`);
      if (tensors.has(t.name)) throw new InputError(shard.source.path, `tensor '${t.name}' appears in more than one shard`);
      tensors.set(t.name, t);
    }
  }
  for (const name of Object.keys(weightMap as object)) {
    if (!tensors.has(name)) {
      await Promise.all(shards.map((f) => f.source.close()));
      throw new InputError(indexPath, `tensor '${name}' is listed in the index but missing from shard ${(weightMap as Record<string, string>)[name]}`);
    }
  }
  const unwrapped = unwrapNames([...tensors.values()]);
  return {
    path: indexPath,
    format: 'safetensors-sharded',
    files: shards.map((s) => s.source.path),
    tensors: unwrapped.tensors,
    metadata,
    warnings: [...warnings, ...unwrapped.warnings],
    close: async () => {
      await Promise.all(shards.map((f) => f.source.close()));
    },
  };
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
