/** Helpers shared by the parity tests: the active backend, and the largest element difference. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initWasmBackend } from '../../src/model/wasmThreads';

const wasmOut = join(__dirname, '..', '..', 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out');

/** Makes `name` the active backend (wasm: the threaded build, 2 threads). */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') {
    await initWasmBackend(wasmOut, 2);
    assert.equal(tf.getBackend(), 'wasm');
  } else {
    await tf.setBackend('cpu');
  }
}

/** max_i |a_i - b_i| (the lengths must agree). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max_i |a_i| */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** max |a - b| / max |b| */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return maxAbsDiff(a, b) / Math.max(maxAbs(b), 1e-30);
}
