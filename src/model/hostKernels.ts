/**
 * Single-pass kernels for the stages of a Grassmann block that are not matrix products, for the
 * TensorFlow.js backends whose tensors live in host memory: `wasm` (the WebAssembly heap) and
 * `cpu` (JavaScript arrays).
 *
 * Built from TensorFlow.js ops, these stages are 10-40 kernel launches each (LayerNorm: moments,
 * subtract, rsqrt, scale, shift; exact GELU: ~25 element-wise ops around an erfc fit; the Plücker
 * mean: pads, stacks, broadcasts), every one a full pass over memory, most of them single-threaded
 * and scalar in the wasm backend. Here each stage is one pass in JavaScript over the backend's own
 * memory (no copy), in float64 arithmetic, written back as float32. Matrix products stay with the
 * backend (XNNPACK on wasm).
 *
 * The arithmetic is in plain functions on typed arrays (exported for tests); `registerHostKernels`
 * wraps each as a TensorFlow.js kernel for both backends. The same stages built from TensorFlow.js
 * ops (differentiable, and what native backends run) are in ./blockOps.ts; tests hold the two to
 * the same float64 references.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { geluInto } from './erf';
import { partnerPosition } from './offsets';

export const LAYER_NORM_KERNEL = 'GrassmannLayerNorm';
export const GELU_KERNEL = 'GrassmannGelu';
export const PLUCKER_MEAN_KERNEL = 'GrassmannPluckerMean';
export const GATE_BLEND_NORM_KERNEL = 'GrassmannGateBlendNorm';
export const NEXT_TOKEN_NLL_KERNEL = 'GrassmannNextTokenNll';
export const STABILISED_RATIO_KERNEL = 'GrassmannStabilisedRatio';

/** Backends whose tensor data a JavaScript kernel can read and write in place. */
export const HOST_BACKENDS = ['wasm', 'cpu'] as const;

type HostArray = Float32Array | Int32Array;

// ---------------------------------------------------------------------------------------------
// The arithmetic
// ---------------------------------------------------------------------------------------------

/**
 * out[offset..offset+n) = (v - mean) / sqrt(var + eps) * w + b for the row v = values[offset..]
 * (biased variance, like torch.nn.LayerNorm). The moments are summed in float64 in one pass:
 * var = E[v^2] - mean^2 loses ~mean^2/var * 1e-16 relative, far below float32 resolution.
 */
function normaliseRow(values: Float32Array | Float64Array, valuesOffset: number, n: number, weight: Float32Array, bias: Float32Array, eps: number, out: Float32Array, offset: number): void {
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const v = values[valuesOffset + i];
    sum += v;
    squares += v * v;
  }
  const mean = sum / n;
  const variance = Math.max(squares / n - mean * mean, 0);
  const inverse = 1 / Math.sqrt(variance + eps);
  for (let i = 0; i < n; i++) out[offset + i] = (values[valuesOffset + i] - mean) * inverse * weight[i] + bias[i];
}

/** LayerNorm over the last axis of x [rows, n] (float64 moments). */
export function layerNormRows(x: Float32Array, weight: Float32Array, bias: Float32Array, eps: number, out: Float32Array): void {
  const n = weight.length;
  for (let offset = 0; offset < x.length; offset += n) normaliseRow(x, offset, n, weight, bias, eps, out, offset);
}

/** out = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, the exact GELU (./erf.ts). */
export const geluValues = geluInto;

/**
 * Gate blend then LayerNorm, row by row: mixed = alpha h + (1 - alpha) g ('blend', the paper) or
 * h + alpha g ('additive'); out = LayerNorm(mixed).
 */
export function gateBlendNormRows(
  h: Float32Array, g: Float32Array, alpha: Float32Array, weight: Float32Array, bias: Float32Array,
  eps: number, additive: boolean, out: Float32Array,
): void {
  const n = weight.length;
  const row = new Float64Array(n);
  for (let offset = 0; offset < h.length; offset += n) {
    for (let i = 0; i < n; i++) {
      const a = alpha[offset + i];
      row[i] = additive ? h[offset + i] + a * g[offset + i] : a * h[offset + i] + (1 - a) * g[offset + i];
    }
    normaliseRow(row, 0, n, weight, bias, eps, out, offset);
  }
}

export interface PluckerMeanLayout {
  /** Distinct window offsets (K of them), the columns of `weights`. */
  offsets: readonly number[];
  /** z_t is paired with z_{t-d} ('previous') or z_{t+d} ('next'). */
  pairing: 'previous' | 'next';
  /** Positions per sequence; rows of z are sequences of seqLen positions, one after another. */
  seqLen: number;
  /** p_hat = p / max(||p||, planeEps) (default 1e-8). */
  planeEps?: number;
  /** The last column is 1 at every row (average then project: g = b_plu where no offset is valid). */
  biasEverywhere?: boolean;
}

/**
 * The mean over window offsets of the normalised Plücker coordinates at every position, with a
 * last column saying whether any offset is valid there (so that [features, 1] x [W_plu^T ; b_plu]
 * gives g_t = mean_d(W_plu p_hat + b_plu), and 0 where no offset is valid):
 *
 *   out[t, k] = sum_d w[t, d] (z_t,i q_j - z_t,j q_i) / max(||z_t ^ q||, 1e-8),  q = z_{t -+ d},
 *   (i, j) = pair k in row-major order (0,1), (0,2), ..., (r-2,r-1)
 *   out[t, P] = 1 if some w[t, d] > 0 else 0 (1 everywhere with biasEverywhere)
 *
 * w [rows, K] holds multiplicity / total multiplicity of the offsets valid at t (0 where the
 * partner is outside the sequence). Since z_t is shared by every offset at t and the wedge is
 * bilinear, the sum is one wedge z_t ^ m_t with m_t = sum_d c_d q_d, c_d = w_d / max(||z_t ^ q_d||, 1e-8).
 * ||z_t ^ q|| = |z_t| |q - (z_t.q / |z_t|^2) z_t| (Gram-Schmidt, float64).
 */
export function pluckerMeanRows(z: Float32Array, weights: Float32Array, r: number, layout: PluckerMeanLayout, out: Float32Array): void {
  const { offsets, pairing, seqLen } = layout;
  const planeEps = layout.planeEps ?? 1e-8;
  const epsSquared = planeEps * planeEps;
  const biasEverywhere = layout.biasEverywhere === true;
  const K = offsets.length;
  const P = (r * (r - 1)) / 2;
  const rows = z.length / r;
  const current = new Float64Array(r);
  const partner = new Float64Array(r);
  const mean = new Float64Array(r);
  for (let row = 0; row < rows; row++) {
    const t = row % seqLen;
    const base = row * r;
    let currentSq = 0;
    for (let i = 0; i < r; i++) {
      current[i] = z[base + i];
      currentSq += current[i] * current[i];
    }
    mean.fill(0);
    let valid = false;
    for (let k = 0; k < K; k++) {
      const w = weights[row * K + k];
      if (w === 0) continue;
      const s = partnerPosition(t, offsets[k], pairing);
      if (s < 0 || s >= seqLen) continue;
      valid = true;
      const partnerBase = (row - t + s) * r;
      let dot = 0;
      for (let i = 0; i < r; i++) {
        partner[i] = z[partnerBase + i];
        dot += current[i] * partner[i];
      }
      const projection = dot / Math.max(currentSq, 1e-30);
      let perpSq = 0;
      for (let i = 0; i < r; i++) {
        const p = partner[i] - projection * current[i];
        perpSq += p * p;
      }
      const area = Math.sqrt(Math.max(currentSq * perpSq, epsSquared)); // max(||p||, planeEps)
      const c = w / area;
      for (let i = 0; i < r; i++) mean[i] += c * partner[i];
    }
    const outBase = row * (P + 1);
    let k = outBase;
    for (let i = 0; i < r; i++) {
      const ci = current[i];
      const mi = mean[i];
      for (let j = i + 1; j < r; j++) out[k++] = ci * mean[j] - current[j] * mi;
    }
    out[outBase + P] = valid || biasEverywhere ? 1 : 0;
  }
}

/** Below this softmax probability, -log(p) is recomputed from the logits (float32 underflow). */
export const NLL_PROBABILITY_FLOOR = 1e-30;

/**
 * The epsilon rule's ratio, element by element: out = R / (z + eps sign z) with sign(0) = +1;
 * with eps = 0, R / z and 0 where z = 0. (LRP, src/relevance/lrp.ts: six TensorFlow.js kernels
 * in one pass.)
 */
export function stabilisedRatioValues(R: Float32Array, z: Float32Array, eps: number, out: Float32Array): void {
  if (eps === 0) {
    for (let i = 0; i < out.length; i++) out[i] = z[i] === 0 ? 0 : R[i] / z[i];
    return;
  }
  for (let i = 0; i < out.length; i++) {
    const v = z[i];
    out[i] = R[i] / (v >= 0 ? v + eps : v - eps);
  }
}

/**
 * Next-token negative log-likelihood of every position but the last of each sequence:
 * out[b (T-1) + t] = -log softmax(logits[b T + t])[ids[b T + t + 1]].
 * `probabilities` is softmax(logits) (the backend's vectorised kernel); where the target's
 * probability is below NLL_PROBABILITY_FLOOR it is recomputed exactly from that logits row in
 * float64 (max + log sum exp(l - max) - l_target), so underflow never gives Infinity.
 */
export function nextTokenNllRows(probabilities: Float32Array, logits: Float32Array, ids: Int32Array, seqLen: number, vocabSize: number, out: Float32Array): void {
  const sequences = ids.length / seqLen;
  let o = 0;
  for (let b = 0; b < sequences; b++) {
    for (let t = 0; t < seqLen - 1; t++) {
      const row = (b * seqLen + t) * vocabSize;
      const target = ids[b * seqLen + t + 1];
      const p = probabilities[row + target];
      if (p >= NLL_PROBABILITY_FLOOR) {
        out[o++] = -Math.log(p);
        continue;
      }
      let max = -Infinity;
      for (let v = 0; v < vocabSize; v++) max = Math.max(max, logits[row + v]);
      let sum = 0;
      for (let v = 0; v < vocabSize; v++) sum += Math.exp(logits[row + v] - max);
      out[o++] = max + Math.log(sum) - logits[row + target];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------------------------

interface HostKernel {
  name: string;
  /** Input names in the order `compute` receives them. */
  inputs: readonly string[];
  /** Shapes of the (float32) outputs. */
  outputShapes(inputs: TensorInfo[], attrs: NamedAttrMap): number[][];
  compute(inputs: HostArray[], outputs: Float32Array[], shapes: { inputs: TensorInfo[] }, attrs: NamedAttrMap): void;
}

const f32 = (a: HostArray): Float32Array => a as Float32Array;

const KERNELS: HostKernel[] = [
  {
    name: LAYER_NORM_KERNEL,
    inputs: ['x', 'weight', 'bias'],
    outputShapes: ([x]) => [x.shape.slice()],
    compute: ([x, weight, bias], [out], _s, attrs) => layerNormRows(f32(x), f32(weight), f32(bias), attrs.eps as number, out),
  },
  {
    name: GELU_KERNEL,
    inputs: ['x'],
    outputShapes: ([x]) => [x.shape.slice()],
    compute: ([x], [out]) => geluValues(f32(x), out),
  },
  {
    name: GATE_BLEND_NORM_KERNEL,
    inputs: ['h', 'g', 'alpha', 'weight', 'bias'],
    outputShapes: ([h]) => [h.shape.slice()],
    compute: ([h, g, alpha, weight, bias], [out], _s, attrs) =>
      gateBlendNormRows(f32(h), f32(g), f32(alpha), f32(weight), f32(bias), attrs.eps as number, attrs.gating === 'additive', out),
  },
  {
    name: PLUCKER_MEAN_KERNEL,
    inputs: ['z', 'weights'],
    outputShapes: ([z]) => [[z.shape[0], (z.shape[1] * (z.shape[1] - 1)) / 2 + 1]],
    compute: ([z, weights], [out], { inputs }, attrs) =>
      pluckerMeanRows(f32(z), f32(weights), inputs[0].shape[1], {
        offsets: attrs.offsets as number[],
        pairing: attrs.pairing as 'previous' | 'next',
        seqLen: attrs.seqLen as number,
        planeEps: attrs.planeEps as number | undefined,
        biasEverywhere: attrs.biasEverywhere === 1,
      }, out),
  },
  {
    name: STABILISED_RATIO_KERNEL,
    inputs: ['R', 'z'],
    outputShapes: ([R]) => [R.shape.slice()],
    compute: ([R, z], [out], _s, attrs) => stabilisedRatioValues(f32(R), f32(z), attrs.eps as number, out),
  },
  {
    name: NEXT_TOKEN_NLL_KERNEL,
    inputs: ['probabilities', 'logits', 'ids'],
    outputShapes: ([, , ids], attrs) => {
      const seqLen = attrs.seqLen as number;
      return [[(ids.shape[0] / seqLen) * (seqLen - 1)]];
    },
    compute: ([probabilities, logits, ids], [out], { inputs }, attrs) =>
      nextTokenNllRows(f32(probabilities), f32(logits), ids as Int32Array, attrs.seqLen as number, inputs[1].shape[1], out),
  },
];

/** What the wasm backend offers to JavaScript kernels (@tensorflow/tfjs-backend-wasm BackendWasm). */
interface WasmHostBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): HostArray;
}

/** What the cpu backend offers (@tensorflow/tfjs-backend-cpu MathBackendCPU). */
interface CpuHostBackend {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

function wasmKernelFunc(kernel: HostKernel): tf.KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const heap = backend as unknown as WasmHostBackend;
    const infos = kernel.inputs.map((name) => inputs[name] as TensorInfo);
    const outputs = kernel.outputShapes(infos, attrs).map((shape) => heap.makeOutput(shape, 'float32'));
    // Views are taken after every allocation: malloc may grow the heap and replace its buffer.
    kernel.compute(
      infos.map((info) => heap.typedArrayFromHeap(info)),
      outputs.map((info) => heap.typedArrayFromHeap(info) as Float32Array),
      { inputs: infos },
      attrs,
    );
    return outputs.length === 1 ? outputs[0] : outputs;
  };
}

function cpuKernelFunc(kernel: HostKernel): tf.KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const cpu = backend as unknown as CpuHostBackend;
    const infos = kernel.inputs.map((name) => inputs[name] as TensorInfo);
    const shapes = kernel.outputShapes(infos, attrs);
    const outputs = shapes.map((shape) => new Float32Array(tf.util.sizeFromShape(shape)));
    kernel.compute(infos.map((info) => cpu.data.get(info.dataId).values as HostArray), outputs, { inputs: infos }, attrs);
    const made = outputs.map((values, k) => cpu.makeTensorInfo(shapes[k], 'float32', values));
    return made.length === 1 ? made[0] : made;
  };
}

/** Registers every host kernel for the wasm and cpu backends (idempotent). */
export function registerHostKernels(): void {
  for (const kernel of KERNELS) {
    for (const backendName of HOST_BACKENDS) {
      if (tf.getKernel(kernel.name, backendName)) continue;
      tf.registerKernel({ kernelName: kernel.name, backendName, kernelFunc: backendName === 'wasm' ? wasmKernelFunc(kernel) : cpuKernelFunc(kernel) });
    }
  }
}

/** True when the host kernels run on `backendName` (else the TensorFlow.js-op versions are used). */
export function hostKernelsAvailable(backendName: string): boolean {
  return (HOST_BACKENDS as readonly string[]).includes(backendName);
}
