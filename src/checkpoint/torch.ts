/**
 * PyTorch checkpoints (`torch.save` files, usually .pt/.pth/.bin), read without executing them.
 *
 * Two container formats exist:
 * - zip (PyTorch >= 1.6): `<archive>/data.pkl` is the pickled object; each tensor storage is a
 *   STORED zip entry `<archive>/data/<key>`, referenced from the pickle by a persistent id
 *   ('storage', storage_type, key, location, numel).
 * - legacy (older, or `_use_new_zipfile_serialization=False`): five pickles back to back (magic
 *   number, protocol version 1001, sys_info, the object, the sorted list of storage keys), then
 *   each storage in that key order as an int64 element count followed by its raw bytes.
 * Either way the pickle goes through the restricted unpickler (./unpickler.ts), the state dict
 * is located by ./stateDict.ts, and tensors become byte ranges of the file read on demand.
 */
import { InputError } from '../util/errors';
import { openFileSource } from './fileSource';
import { extractStateDict } from './stateDict';
import {
  PickleTruncatedError, StorageView, TORCH_DTYPES, TORCH_DTYPE_SIZE, TorchStorage, TorchTensor,
  shortText, unpickle, type PickleValue, type UnpickleResult,
} from './unpickler';
import { looksLikeZip, readStoredEntry, readZipEntries, requireStored, shownName, type ZipEntry } from './zip';
import type { ByteSource, Checkpoint, CheckpointFormat, ScalarValue, StorageRef, TensorInfo } from './types';

/** Pickles larger than this are refused rather than read into memory. */
export const MAX_PICKLE_BYTES = 512 * 1024 * 1024;

/** The first pickle of a legacy torch.save file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;
/** How much of a legacy file is read for its pickles at first (grown while they do not parse). */
const LEGACY_FIRST_READ = 1024 * 1024;
/** Window through which a legacy file's storage record headers are read. */
const LEGACY_RECORD_WINDOW = 1024 * 1024;

/** A legacy file whose pickles parsed but say something unsupported: a longer read cannot help. */
class LegacyFormatError extends InputError {}

const RESAVE_HINT = 'load it with a PyTorch you trust and re-save it with torch.save(torch.load(f), f2) on PyTorch >= 1.6, which writes the zip format';

/** Opens a torch.save checkpoint: reads its pickle and locates the state dict's tensors. */
export async function openTorchCheckpoint(path: string): Promise<Checkpoint> {
  const source = await openFileSource(path);
  try {
    return await readCheckpoint(source);
  } catch (e) {
    await source.close();
    throw e;
  }
}

async function readCheckpoint(source: ByteSource): Promise<Checkpoint> {
  const file = source.path;
  if (source.size === 0) throw new InputError(file, 'empty file (0 bytes): not a PyTorch checkpoint');
  const head = await source.read(0, Math.min(source.size, 512));
  if (looksLikeZip(head)) return readZipCheckpoint(source);
  // Pickle protocol 2+ starts with PROTO (0x80) and its protocol number; torch.save uses 2.
  if (head[0] === 0x80 && head.length > 1 && head[1] >= 2 && head[1] <= 5) return readLegacyCheckpoint(source);
  if (head.length >= 262 && String.fromCharCode(...head.subarray(257, 262)) === 'ustar') {
    throw new InputError(file, `a tar archive: the torch.save format of PyTorch < 0.1.10, which is not supported; ${RESAVE_HINT}`);
  }
  if (looksLikeSafetensors(head, source.size)) {
    throw new InputError(file, 'this is a safetensors file, not a torch.save checkpoint: open it as safetensors (rename it to .safetensors)');
  }
  const hex = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new InputError(file, `not a PyTorch checkpoint: neither a zip archive (torch.save since PyTorch 1.6) nor a pickle (older torch.save); it starts with bytes ${hex}`);
}

function looksLikeSafetensors(head: Uint8Array, size: number): boolean {
  if (head.length < 9) return false;
  const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return n > 0n && n <= BigInt(size - 8) && head[8] === 0x7b; // '{'
}

// ---------------------------------------------------------------------------------------------
// zip format
// ---------------------------------------------------------------------------------------------

async function readZipCheckpoint(source: ByteSource): Promise<Checkpoint> {
  const file = source.path;
  const entries = await readZipEntries(source);
  const byName = new Map(entries.map((e) => [e.name, e]));

  // The archive folder is named after the file torch.save wrote ('archive', 'best', ...). Take it
  // as torch.load does (caffe2's PyTorchStreamReader): the folder of the archive's first entry;
  // every record, data.pkl included, is looked up in it, and entries elsewhere are never read.
  if (entries.length === 0) throw new InputError(file, 'an empty zip archive, so not a torch.save checkpoint');
  const first = entries[0].name;
  const slash = first.indexOf('/');
  if (slash <= 0) {
    throw new InputError(file, `the first zip entry ${shownName(first)} is not in a folder: torch.save puts every entry in one folder and torch.load takes that folder from the first entry, so this is not a torch.save checkpoint`);
  }
  const prefix = first.slice(0, slash + 1);
  const pkl = byName.get(`${prefix}data.pkl`);
  if (!pkl) {
    const names = entries.slice(0, 8).map((e) => shownName(e.name)).join(', ');
    throw new InputError(file, `a zip archive without ${shownName(`${prefix}data.pkl`)} (torch.load reads data.pkl from the folder of the first entry), so not a torch.save checkpoint (entries: ${names})`);
  }

  // Storages are raw bytes in the writer's byte order; torch records it when not little-endian.
  const byteorder = byName.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(await readStoredEntry(source, byteorder, 64)).trim();
    if (order !== 'little') throw new InputError(file, `storages are stored ${order}-endian; only little-endian checkpoints are supported`);
  }

  const pickle = await readStoredEntry(source, pkl, MAX_PICKLE_BYTES);
  const { value } = unpickle(file, pickle);

  const refs = new Map<string, StorageRef>();
  const storageRef = (storage: TorchStorage): StorageRef => {
    const cached = refs.get(storage.key);
    if (cached) return cached;
    const entryName = `${prefix}data/${storage.key}`;
    const entry: ZipEntry | undefined = byName.get(entryName);
    if (!entry) throw new InputError(file, `the pickle references storage '${storage.key}' but the archive has no entry '${entryName}'`);
    requireStored(file, entry);
    const byteLength = storage.numel * TORCH_DTYPE_SIZE[storage.dtype];
    if (entry.size < byteLength) {
      throw new InputError(file, `storage entry '${entryName}' has ${entry.size} bytes, fewer than its ${storage.numel} ${storage.dtype} elements need (${byteLength})`);
    }
    const ref: StorageRef = { source, byteOffset: entry.dataOffset, byteLength, key: storage.key };
    refs.set(storage.key, ref);
    return ref;
  };
  return buildCheckpoint(source, 'torch-zip', value, storageRef);
}

// ---------------------------------------------------------------------------------------------
// legacy format
// ---------------------------------------------------------------------------------------------

interface LegacyPickles {
  main: UnpickleResult;
  keys: string[];
  /** Offset of the first storage record. */
  storagesStart: number;
}

async function readLegacyCheckpoint(source: ByteSource): Promise<Checkpoint> {
  const file = source.path;
  const { main, keys, storagesStart } = await readLegacyPickles(source);

  // Storage records follow in key order; each is an int64 element count and the bytes. The
  // element size comes from the storage type the pickle gave that key.
  const refs = new Map<string, StorageRef>();
  // The records are read in file order: the 8-byte counts come through a 1 MiB window, so many
  // small storages cost a few reads, not one each.
  let window: Uint8Array = new Uint8Array(0);
  let windowStart = 0;
  const readSmall = async (at: number, n: number): Promise<Uint8Array> => {
    if (at < windowStart || at + n > windowStart + window.length) {
      windowStart = at;
      window = await source.read(at, Math.min(source.size - at, Math.max(n, LEGACY_RECORD_WINDOW)));
    }
    return window.subarray(at - windowStart, at - windowStart + n);
  };
  let offset = storagesStart;
  for (const key of keys) {
    const storage = main.storages.get(key);
    if (!storage) throw new InputError(file, `legacy checkpoint lists storage '${key}' that its pickle never references, so its element size is unknown`);
    if (offset + 8 > source.size) throw new InputError(file, `legacy checkpoint is truncated: storage '${key}' should start at offset ${offset} but the file has ${source.size} bytes`);
    const countBytes = await readSmall(offset, 8);
    const count = new DataView(countBytes.buffer, countBytes.byteOffset, 8).getBigInt64(0, true);
    const byteLength = count * BigInt(TORCH_DTYPE_SIZE[storage.dtype]);
    if (count < 0n || BigInt(offset + 8) + byteLength > BigInt(source.size)) {
      throw new InputError(file, `legacy checkpoint is truncated or corrupt: storage '${key}' claims ${count} elements at offset ${offset + 8}, past the end of the file (${source.size} bytes)`);
    }
    if (Number(count) < storage.numel) {
      throw new InputError(file, `legacy storage '${key}' holds ${count} elements but the pickle says ${storage.numel}`);
    }
    refs.set(key, { source, byteOffset: offset + 8, byteLength: Number(byteLength), key });
    offset += 8 + Number(byteLength);
  }
  const storageRef = (storage: TorchStorage): StorageRef => {
    const ref = refs.get(storage.key);
    if (!ref) throw new InputError(file, `the pickle references storage '${storage.key}', which is not among the file's storages`);
    return ref;
  };
  return buildCheckpoint(source, 'torch-legacy', main.value, storageRef);
}

/**
 * Parses the five leading pickles. Their total length is unknown until parsed, so start with a
 * small prefix of the file (LEGACY_FIRST_READ) and grow it (4x each time, up to the whole file or
 * MAX_PICKLE_BYTES) while the parse fails. Any failure on a prefix shorter than the file is
 * retried, not only a run off its end: a length field (a 2 MB string, a long storage key list)
 * that reaches past the prefix reads as corrupt to the unpickler, which sees only the prefix.
 * The parses cost at most 4/3 of the last one; the error reported is the one on the longest read.
 */
async function readLegacyPickles(source: ByteSource): Promise<LegacyPickles> {
  const file = source.path;
  const limit = Math.min(source.size, MAX_PICKLE_BYTES);
  let length = Math.min(limit, LEGACY_FIRST_READ);
  for (;;) {
    const buf = await source.read(0, length);
    try {
      return parseLegacyPickles(file, buf);
    } catch (e) {
      if (!(e instanceof InputError) || e instanceof LegacyFormatError || length >= limit) {
        if (e instanceof PickleTruncatedError && length < source.size) {
          throw new InputError(file, `legacy checkpoint pickles exceed ${MAX_PICKLE_BYTES} bytes (MAX_PICKLE_BYTES); refusing to read them into memory`);
        }
        throw e;
      }
      length = Math.min(limit, length * 4);
    }
  }
}

function parseLegacyPickles(file: string, buf: Uint8Array): LegacyPickles {
  const magic = unpickle(file, buf, 0);
  if (magic.value !== LEGACY_MAGIC) {
    throw new LegacyFormatError(file, 'a pickle, but not a torch.save checkpoint (no PyTorch magic number at the start)');
  }
  const protocol = unpickle(file, buf, magic.end);
  if (protocol.value !== LEGACY_PROTOCOL_VERSION) {
    throw new LegacyFormatError(file, `legacy torch.save protocol version ${shortText(protocol.value)} is not supported (expected ${LEGACY_PROTOCOL_VERSION}); ${RESAVE_HINT}`);
  }
  const sysInfo = unpickle(file, buf, protocol.end);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new LegacyFormatError(file, 'legacy checkpoint was written on a big-endian machine; only little-endian checkpoints are supported');
  }
  const main = unpickle(file, buf, sysInfo.end);
  const keyList = unpickle(file, buf, main.end);
  if (!Array.isArray(keyList.value) || !keyList.value.every((k) => typeof k === 'string')) {
    throw new LegacyFormatError(file, 'legacy checkpoint: the storage key list after the pickle is not a list of strings (corrupt file)');
  }
  return { main, keys: keyList.value as string[], storagesStart: keyList.end };
}

// ---------------------------------------------------------------------------------------------
// shared
// ---------------------------------------------------------------------------------------------

function buildCheckpoint(
  source: ByteSource,
  format: CheckpointFormat,
  root: PickleValue,
  storageRef: (s: TorchStorage) => StorageRef,
): Checkpoint {
  const file = source.path;
  const extracted = extractStateDict(file, root);
  const warnings = [...extracted.warnings];
  const tensors = new Map<string, TensorInfo>();
  for (const [name, t] of extracted.tensors) {
    const info = toTensorInfo(file, name, t, storageRef, warnings);
    if (info) tensors.set(name, info);
  }
  const metadata: Record<string, ScalarValue> = extracted.metadata;
  return {
    path: file,
    format,
    files: [file],
    tensors,
    metadata,
    configs: extracted.configs,
    stateDictLayout: extracted.layout,
    warnings,
    notes: extracted.notes,
    close: () => source.close(),
  };
}

function toTensorInfo(
  file: string,
  name: string,
  t: TorchTensor,
  storageRef: (s: TorchStorage) => StorageRef,
  warnings: string[],
): TensorInfo | undefined {
  const dtype = TORCH_DTYPES[t.storage.dtype];
  if (dtype === undefined) {
    warnings.push(`tensor '${name}' has dtype ${t.storage.dtype}, which is not supported: skipped`);
    return undefined;
  }
  // Legacy storage views are windows of a root storage: fold the window start into the offset.
  const root = t.storage instanceof StorageView ? t.storage.root : t.storage;
  const windowStart = t.storage instanceof StorageView ? t.storage.offset : 0;

  // Validate the view against the declared storage size now, so a corrupt or hostile stride
  // is reported when the checkpoint opens rather than when a tensor is first read.
  let count = 1;
  let lastIndex = t.storageOffset;
  for (let i = 0; i < t.shape.length; i++) {
    count *= t.shape[i];
    lastIndex += (t.shape[i] - 1) * t.stride[i];
  }
  if (count > 0 && lastIndex >= t.storage.numel) {
    throw new InputError(file, `tensor '${name}' (shape [${t.shape.join(', ')}], stride [${t.stride.join(', ')}], offset ${t.storageOffset}) reaches element ${lastIndex} of a storage with ${t.storage.numel} elements`);
  }
  return {
    name,
    dtype,
    shape: [...t.shape],
    strides: [...t.stride],
    elementOffset: windowStart + t.storageOffset,
    storage: storageRef(root),
  };
}
