import { InputError } from '../util/errors';
import { DTYPE_SIZE, elementCount, type DType, type TensorInfo, type TypedArray } from './types';

/** float16 bits -> float32 value. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Decodes `count` elements of `dtype` starting at byte 0 of `bytes` (little-endian). */
function decode(dtype: DType, bytes: Uint8Array, count: number): TypedArray {
  // Copy into an aligned buffer: file offsets need not be aligned to the element size.
  const n = count * DTYPE_SIZE[dtype];
  const buf = new ArrayBuffer(n);
  new Uint8Array(buf).set(bytes.subarray(0, n));
  switch (dtype) {
    case 'F64': return new Float64Array(buf);
    case 'F32': return new Float32Array(buf);
    case 'F16':
    case 'BF16': return new Uint16Array(buf);
    case 'I64': return new BigInt64Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'I16': return new Int16Array(buf);
    case 'I8': return new Int8Array(buf);
    case 'U8':
    case 'BOOL': return new Uint8Array(buf);
  }
}

/**
 * Budgets for reading one tensor's values (readTensorRaw, readFloat32). A view's values are
 * materialised in row-major order, so a view whose elements overlap in its storage (a stride-0
 * `expand`, or strides smaller than the dimensions inside them) produces more elements than it
 * reads: an [4M, 64] expand of a [1, 64] storage is 256 bytes on disk and 1 GiB as float32.
 * Such a view is refused with an InputError rather than materialised when it produces more than
 * MAX_VIEW_EXPANSION times the storage elements it spans plus VIEW_EXPANSION_ALLOWANCE (so an
 * expanded bias or a small broadcast table still reads); no read produces or spans more than
 * MAX_READ_ELEMENTS elements. Contiguous tensors and permutations/slices (which never produce
 * more elements than they span) are limited only by MAX_READ_ELEMENTS.
 */
export const MAX_VIEW_EXPANSION = 16;
/** Elements any view may produce beyond MAX_VIEW_EXPANSION x its span (4 MiB as float32). */
export const VIEW_EXPANSION_ALLOWANCE = 1 << 20;
/** Most elements one read may produce, or span in its storage (2^28: 1 GiB as float32). */
export const MAX_READ_ELEMENTS = 1 << 28;

/**
 * The elements a view of `t` produces and spans, after checking its strides and the read budgets
 * (an InputError naming the file, the tensor and the limit).
 */
export function viewExtent(t: TensorInfo): { count: number; span: number; contiguous: boolean } {
  const file = t.storage.source.path;
  const count = elementCount(t.shape);
  if (count === 0) return { count, span: 0, contiguous: true };
  // Extent of the elements this view touches, in elements from elementOffset.
  let maxIndex = 0;
  for (let i = 0; i < t.shape.length; i++) {
    if (t.strides[i] < 0) throw new InputError(file, `tensor ${t.name} has a negative stride`);
    maxIndex += (t.shape[i] - 1) * t.strides[i];
  }
  const span = maxIndex + 1;
  const size = DTYPE_SIZE[t.dtype];
  const start = t.elementOffset * size;
  if (start + span * size > t.storage.byteLength) {
    throw new InputError(file, `tensor ${t.name} reaches past the end of its storage (${start + span * size} > ${t.storage.byteLength} bytes)`);
  }
  const shape = `[${t.shape.join(', ')}] (strides [${t.strides.join(', ')}])`;
  if (count > MAX_VIEW_EXPANSION * span + VIEW_EXPANSION_ALLOWANCE) {
    throw new InputError(file, `tensor ${t.name} ${shape} is an expanded (stride-0 or overlapping) view of ${count} elements over ${span} stored elements: reading it would materialise ${Math.round(count / span)}x its storage, over the limit of ${MAX_VIEW_EXPANSION}x + ${VIEW_EXPANSION_ALLOWANCE} elements (MAX_VIEW_EXPANSION); re-save it with .contiguous() if the values are meant`);
  }
  if (count > MAX_READ_ELEMENTS || span > MAX_READ_ELEMENTS) {
    throw new InputError(file, `tensor ${t.name} ${shape} has ${Math.max(count, span)} elements, over the limit of ${MAX_READ_ELEMENTS} elements read at once (MAX_READ_ELEMENTS)`);
  }
  return { count, span, contiguous: isContiguous(t.shape, t.strides) };
}

/**
 * Reads the raw elements of a tensor in row-major order, honouring strides and storage offset.
 * Refuses (InputError) views past the budgets above instead of materialising them.
 */
export async function readTensorRaw(t: TensorInfo): Promise<TypedArray> {
  const { count, span, contiguous } = viewExtent(t);
  if (count === 0) return decode(t.dtype, new Uint8Array(0), 0);
  const size = DTYPE_SIZE[t.dtype];
  const bytes = await t.storage.source.read(t.storage.byteOffset + t.elementOffset * size, span * size);
  const all = decode(t.dtype, bytes, span);
  if (contiguous) return all;
  return gather(all, t.shape, t.strides, count);
}

function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== s) return false;
    s *= shape[i];
  }
  return true;
}

function gather(src: TypedArray, shape: readonly number[], strides: readonly number[], count: number): TypedArray {
  const Ctor = src.constructor as new (n: number) => TypedArray;
  const out = new Ctor(count);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let srcPos = 0;
  for (let k = 0; k < count; k++) {
    (out as unknown as Array<number | bigint>)[k] = (src as unknown as Array<number | bigint>)[srcPos];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      srcPos += strides[d];
      if (idx[d] < shape[d]) break;
      srcPos -= idx[d] * strides[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Converts raw elements to float32 (F16/BF16 widened; integers and bools converted). */
export function toFloat32(dtype: DType, raw: TypedArray): Float32Array {
  if (dtype === 'F32') return raw as Float32Array;
  const out = new Float32Array(raw.length);
  if (dtype === 'F16') {
    const h = raw as Uint16Array;
    for (let i = 0; i < h.length; i++) out[i] = halfToFloat(h[i]);
  } else if (dtype === 'BF16') {
    const b = raw as Uint16Array;
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < b.length; i++) u[i] = b[i] << 16;
  } else if (dtype === 'I64') {
    const b = raw as BigInt64Array;
    for (let i = 0; i < b.length; i++) out[i] = Number(b[i]);
  } else {
    const a = raw as Exclude<TypedArray, BigInt64Array>;
    for (let i = 0; i < a.length; i++) out[i] = a[i];
  }
  return out;
}

/** Reads a tensor as float32 in row-major order. */
export async function readFloat32(t: TensorInfo): Promise<Float32Array> {
  return toFloat32(t.dtype, await readTensorRaw(t));
}

/** The view of rows [start, start + count) along the first dimension of `t` (nothing is read). */
export function rowSlice(t: TensorInfo, start: number, count: number): TensorInfo {
  if (t.shape.length === 0) return t;
  return {
    ...t,
    shape: [count, ...t.shape.slice(1)],
    elementOffset: t.elementOffset + start * t.strides[0],
  };
}
