import { promises as fs } from 'node:fs';
import { DTYPE_SIZE, elementCount, type DType, type TypedArray } from './types';

export interface TensorToWrite {
  name: string;
  dtype: DType;
  shape: readonly number[];
  /**
   * Row-major elements in the dtype's native representation (F16/BF16 as Uint16Array bits).
   * The torch writer stores tensors given the same array object in one storage (tied weights).
   */
  data: TypedArray;
}

/** Serialises tensors as safetensors bytes: header padded with spaces to 8-byte alignment. */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = elementCount(t.shape) * DTYPE_SIZE[t.dtype];
    if (t.data.byteLength !== bytes) {
      throw new Error(`tensor ${t.name}: ${t.data.byteLength} data bytes for shape ${JSON.stringify(t.shape)} x ${t.dtype} (${bytes} expected)`);
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

export async function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  await fs.writeFile(path, encodeSafetensors(tensors, metadata));
}
