/**
 * Named tensors and metadata read from a checkpoint file, independent of its format.
 * Tensors are handles: opening a checkpoint reads headers/pickles only; values are read on
 * demand with positional reads (see ./tensorData.ts).
 */

/** The dtypes of the safetensors spec; torch dtypes map onto these. */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

/** Random-access bytes of one file, read with positional reads (never loaded whole). */
export interface ByteSource {
  readonly path: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Where a tensor's elements live: a storage (contiguous byte range) in a file. */
export interface StorageRef {
  source: ByteSource;
  /** Absolute byte offset of the storage's first byte in the source. */
  byteOffset: number;
  /** Byte length of the whole storage (several tensors may view one storage: tied weights). */
  byteLength: number;
  /** Identity of the storage inside its file (e.g. torch's storage key); equal keys = shared. */
  key: string;
}

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Element strides; row-major contiguous strides when the format has none (safetensors). */
  strides: number[];
  /** Offset of element [0,...,0] in elements from the start of the storage. */
  elementOffset: number;
  storage: StorageRef;
}

export type ScalarValue = string | number | boolean | null;

export type CheckpointFormat =
  | 'safetensors'
  | 'safetensors-sharded'
  | 'torch-zip'
  | 'torch-legacy';

export interface Checkpoint {
  /** What the user opened (a file or a folder). */
  path: string;
  format: CheckpointFormat;
  /** Weight files actually read. */
  files: string[];
  /** The model's state dict after unwrapping and prefix stripping, in file order. */
  tensors: Map<string, TensorInfo>;
  /**
   * Scalar metadata: safetensors `__metadata__` entries, and scalar entries of a torch checkpoint
   * dict (`epoch`, `val_loss`, ...).
   */
  metadata: Record<string, ScalarValue>;
  /**
   * Config dicts a torch checkpoint saved next to its state dict (`config`, `cfg`, `args`,
   * `hparams`, `hyper_parameters`, `model_config`), as plain values (../model/config.ts reads them).
   */
  configs?: Record<string, unknown>;
  /**
   * Where a torch checkpoint kept its state dict: the wrapper keys walked down (e.g.
   * ['model_state_dict']; [] = the file is the state dict) and the prefixes stripped from names
   * (`module.`): the pruning writers save the same way.
   */
  stateDictLayout?: { stateKeys: string[]; strippedPrefixes: string[] };
  /** Things the user should know (stripped prefixes, entries ignored, NaN weights...). */
  warnings: string[];
  /** What a reader leaves out as expected (a training checkpoint's optimizer state): shown quietly, once. */
  notes?: string[];
  close(): Promise<void>;
}

export type TypedArray =
  | Float64Array | Float32Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array
  | BigInt64Array;

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
