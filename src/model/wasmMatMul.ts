/**
 * Matrix products with a transposed operand on the wasm backend.
 *
 * tfjs-backend-wasm sends BatchMatMul to XNNPACK only when neither operand is transposed; with
 * transposeA or transposeB it falls back to a scalar loop, 15-60x slower (paper-size [256,256] x
 * [1024,256]^T: 93 ms against 4.4 ms; `A^T B` 274 ms). Every backward pass asks for those: LRP's
 * R W (with W^T stored) and the gradients of tf.grads (dA = dY B^T, dB = A^T dY).
 *
 * `registerWasmTransposedMatMul` wraps the backend's BatchMatMul: a transposed operand is first
 * transposed on the host (one blocked pass over the wasm heap, float32, exact), then the plain
 * XNNPACK product runs. The numbers are the same products, summed in XNNPACK's order.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array;
  disposeData(dataId: object): boolean | void;
}

const BLOCK = 32;

/** out[b, j, i] = x[b, i, j] for x [batch, rows, cols] (row-major). */
export function transposeLastTwo(x: Float32Array, batch: number, rows: number, cols: number, out: Float32Array): void {
  const size = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * size;
    for (let i0 = 0; i0 < rows; i0 += BLOCK) {
      const i1 = Math.min(rows, i0 + BLOCK);
      for (let j0 = 0; j0 < cols; j0 += BLOCK) {
        const j1 = Math.min(cols, j0 + BLOCK);
        for (let i = i0; i < i1; i++) {
          const from = base + i * cols;
          for (let j = j0; j < j1; j++) out[base + j * rows + i] = x[from + j];
        }
      }
    }
  }
}

function transposedCopy(backend: WasmBackendLike, info: TensorInfo): TensorInfo {
  const shape = info.shape;
  const rank = shape.length;
  const rows = shape[rank - 2];
  const cols = shape[rank - 1];
  const batch = shape.slice(0, rank - 2).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([...shape.slice(0, rank - 2), cols, rows], 'float32');
  // Views are taken after the allocation: malloc may grow the heap and replace its buffer.
  transposeLastTwo(backend.typedArrayFromHeap(info) as Float32Array, batch, rows, cols, backend.typedArrayFromHeap(out) as Float32Array);
  return out;
}

let registered = false;

/** Replaces the wasm backend's BatchMatMul by the wrapper above (idempotent; wasm only). */
export function registerWasmTransposedMatMul(): void {
  if (registered) return;
  const original = tf.getKernel('BatchMatMul', 'wasm');
  if (!original) return;
  registered = true;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    setupFunc: original.setupFunc,
    disposeFunc: original.disposeFunc,
    kernelFunc: (args) => {
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      const inputs = args.inputs as { a: TensorInfo; b: TensorInfo };
      if ((!transposeA && !transposeB) || inputs.a.dtype !== 'float32' || inputs.b.dtype !== 'float32') return original.kernelFunc(args);
      const backend = args.backend as unknown as WasmBackendLike;
      const a = transposeA ? transposedCopy(backend, inputs.a) : inputs.a;
      const b = transposeB ? transposedCopy(backend, inputs.b) : inputs.b;
      try {
        return original.kernelFunc({ ...args, inputs: { a, b }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
      } finally {
        if (a !== inputs.a) backend.disposeData(a.dataId);
        if (b !== inputs.b) backend.disposeData(b.dataId);
      }
    },
  });
}
