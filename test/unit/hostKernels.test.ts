/**
 * The host kernels (src/model/hostKernels.ts) against float64 references written out here, and
 * through TensorFlow.js on both host backends (cpu, wasm) against the TensorFlow.js-op versions
 * (src/model/blockOps.ts).
 *
 * Tolerances: erf 2e-9 absolute (the piecewise fit's error is 1.2e-9); float32 outputs 1e-6
 * relative to the row's scale (float64 arithmetic, one float32 rounding); host vs composite ops
 * 2e-5 absolute (the composite ops round every intermediate to float32).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { createBlockOps } from '../../src/model/blockOps';
import { DEFAULT_OPTIONS, type ArchitectureOptions } from '../../src/model/architecture';
import { erf, erfReference } from '../../src/model/erf';
import {
  gateBlendNormRows,
  geluValues,
  layerNormRows,
  nextTokenNllRows,
  PLUCKER_MEAN_KERNEL,
  pluckerMeanRows,
  registerHostKernels,
  STABILISED_RATIO_KERNEL,
  stabilisedRatioValues,
  type PluckerMeanLayout,
} from '../../src/model/hostKernels';
import { registerWasmTransposedMatMul, transposeLastTwo } from '../../src/model/wasmMatMul';
import { planOffsets } from '../../src/model/offsets';
import type { GrassmannSpec } from '../../src/model/spec';
import { seededRandom, uniformValues } from '../../src/model/synthetic';
import { initWasmBackend } from '../../src/model/wasmThreads';
import { maxAbsDiff } from '../support/numeric';

const wasmOut = join(__dirname, '..', '..', 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out');


function pairsOf(r: number): { pairFirst: number[]; pairSecond: number[] } {
  const pairFirst: number[] = [];
  const pairSecond: number[] = [];
  for (let i = 0; i < r; i++) for (let j = i + 1; j < r; j++) (pairFirst.push(i), pairSecond.push(j));
  return { pairFirst, pairSecond };
}

describe('erf', () => {
  test('erfReference equals tabulated values (DLMF / Abramowitz-Stegun 7.1) to 1e-15', () => {
    const table: Array<[number, number]> = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [3.5, 0.9999992569016276],
      [4.5, 0.9999999998033839],
    ];
    for (const [x, value] of table) {
      assert.ok(Math.abs(erfReference(x) - value) <= 1e-15, `erf(${x}) = ${erfReference(x)}`);
      assert.equal(erfReference(-x), -erfReference(x));
    }
  });

  test('the piecewise fit is within 2e-9 of erfReference on [-8, 8], and saturates', () => {
    let worst = 0;
    for (let i = 0; i <= 160000; i++) {
      const x = -8 + i * 1e-4;
      worst = Math.max(worst, Math.abs(erf(x) - erfReference(x)));
      assert.ok(Math.abs(erf(-x) + erf(x)) <= 4e-9); // odd up to twice the fit error
    }
    console.log(`[erf] piecewise fit max abs error ${worst.toExponential(2)}`);
    assert.ok(worst <= 2e-9, `erf error ${worst}`);
    assert.equal(erf(Infinity), 1);
    assert.equal(erf(-Infinity), -1);
    assert.ok(Number.isNaN(erf(NaN)));
  });

  test('GELU: x Phi(x) within 2e-7 * max(1, |x|), NaN stays NaN', () => {
    const xs = Float32Array.from({ length: 8001 }, (_, i) => -20 + i * 0.005);
    xs[17] = NaN;
    const out = new Float32Array(xs.length);
    geluValues(xs, out);
    let worst = 0;
    xs.forEach((x, i) => {
      if (Number.isNaN(x)) return assert.ok(Number.isNaN(out[i]));
      const exact = 0.5 * x * (1 + erfReference(x / Math.SQRT2));
      worst = Math.max(worst, Math.abs(out[i] - exact) / Math.max(1, Math.abs(x)));
    });
    assert.ok(worst <= 2e-7, `gelu error ${worst}`);
  });
});

describe('host kernel arithmetic against float64 references', () => {
  test('layerNormRows: two-pass float64 LayerNorm, including a row with a large mean and a constant row', () => {
    const n = 48;
    const rows = 5;
    const x = uniformValues(rows * n, 3);
    for (let i = 0; i < n; i++) x[2 * n + i] = 1000 + x[2 * n + i]; // mean^2 / var ~ 3e6
    x.fill(0.25, 3 * n, 4 * n); // variance 0
    const weight = uniformValues(n, 4).map((v) => 1 + v / 4);
    const bias = uniformValues(n, 5);
    const eps = 1e-5;
    const out = new Float32Array(x.length);
    layerNormRows(x, weight, bias, eps, out);
    for (let row = 0; row < rows; row++) {
      const values = Array.from(x.subarray(row * n, (row + 1) * n));
      const mean = values.reduce((s, v) => s + v, 0) / n;
      const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
      const expected = values.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * weight[i] + bias[i]);
      assert.ok(maxAbsDiff(out.subarray(row * n, (row + 1) * n), expected) <= 2e-6, `row ${row}`);
    }
    assert.ok(maxAbsDiff(out.subarray(3 * n, 4 * n), bias) <= 1e-7, 'a constant row normalises to the bias');
  });

  test('gateBlendNormRows: blend and additive gating', () => {
    const n = 16;
    const rows = 4;
    const [h, g] = [uniformValues(rows * n, 6), uniformValues(rows * n, 7)];
    const alpha = uniformValues(rows * n, 8).map((v) => (v + 1) / 2);
    const weight = uniformValues(n, 9);
    const bias = uniformValues(n, 10);
    for (const additive of [false, true]) {
      const out = new Float32Array(rows * n);
      gateBlendNormRows(h, g, alpha, weight, bias, 1e-5, additive, out);
      for (let row = 0; row < rows; row++) {
        const mixed = Array.from({ length: n }, (_, i) => {
          const k = row * n + i;
          return additive ? h[k] + alpha[k] * g[k] : alpha[k] * h[k] + (1 - alpha[k]) * g[k];
        });
        const mean = mixed.reduce((s, v) => s + v, 0) / n;
        const variance = mixed.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
        const expected = mixed.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * weight[i] + bias[i]);
        assert.ok(maxAbsDiff(out.subarray(row * n, (row + 1) * n), expected) <= 2e-6, `additive=${additive} row ${row}`);
      }
    }
  });

  /** The mean over the window list (duplicates counted) of p_hat, one plane at a time, in float64. */
  function pluckerMeanReference(z: Float32Array, r: number, windows: number[], layout: PluckerMeanLayout, batch: number): number[][] {
    const T = layout.seqLen;
    const { pairFirst, pairSecond } = pairsOf(r);
    const P = pairFirst.length;
    const rows: number[][] = [];
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < T; t++) {
        const sum = new Array<number>(P).fill(0);
        let count = 0;
        for (const d of windows) {
          const s = layout.pairing === 'previous' ? t - d : t + d;
          if (d >= T || s < 0 || s >= T) continue;
          const a = (k: number) => z[(b * T + t) * r + k];
          const q = (k: number) => z[(b * T + s) * r + k];
          const p = pairFirst.map((i, k) => a(i) * q(pairSecond[k]) - a(pairSecond[k]) * q(i));
          const norm = Math.max(Math.sqrt(p.reduce((acc, v) => acc + v * v, 0)), 1e-8);
          p.forEach((v, k) => (sum[k] += v / norm));
          count++;
        }
        rows.push([...sum.map((v) => (count ? v / count : 0)), count ? 1 : 0]);
      }
    }
    return rows;
  }

  for (const pairing of ['previous', 'next'] as const) {
    test(`pluckerMeanRows (${pairing} pairing): mean of normalised planes over duplicated offsets, 2 sequences, degenerate planes`, () => {
      const r = 5;
      const T = 9;
      const batch = 2;
      const windows = [1, 1, 3, 4, 12]; // 1 twice, 12 >= T never valid
      const z = uniformValues(batch * T * r, 11);
      z.fill(0, 4 * r, 5 * r); // z_4 = 0: every plane through it is degenerate
      for (let i = 0; i < r; i++) z[(T + 6) * r + i] = -2 * z[(T + 5) * r + i]; // parallel neighbours in sequence 2
      const plan = planOffsets(windows, T, pairing);
      const layout: PluckerMeanLayout = { offsets: plan.offsets, pairing, seqLen: T };
      const weights = new Float32Array(batch * plan.weights.length);
      for (let b = 0; b < batch; b++) weights.set(plan.weights, b * plan.weights.length);
      const P = (r * (r - 1)) / 2;
      const out = new Float32Array(batch * T * (P + 1));
      pluckerMeanRows(z, weights, r, layout, out);
      const expected = pluckerMeanReference(z, r, windows, layout, batch);
      assert.ok(maxAbsDiff(out, expected.flat()) <= 1e-6, `max error ${maxAbsDiff(out, expected.flat())}`);
      // positions without a partner at any offset get 0 (and 0 in the bias column)
      const lonely = pairing === 'previous' ? 0 : T - 1;
      assert.equal(out[lonely * (P + 1) + P], 0);
      assert.equal(out[(T + lonely) * (P + 1) + P], 0);
    });
  }

  test('nextTokenNllRows: -log softmax of the next token, and no underflow to Infinity', () => {
    const V = 50;
    const T = 6;
    const ids = Int32Array.from([3, 7, 1, 49, 0, 22, /* second sequence */ 5, 5, 18, 2, 33, 9]);
    const logits = uniformValues(2 * T * V, 12).map((v) => 6 * v);
    logits[(T + 2) * V + 2] = logits[(T + 2) * V + 2] - 300; // target of row (b=1, t=2): probability e^-300 underflows
    const probabilities = new Float32Array(logits.length);
    for (let row = 0; row < 2 * T; row++) {
      const slice = logits.subarray(row * V, (row + 1) * V);
      const max = Math.max(...slice);
      const sum = slice.reduce((s, v) => s + Math.exp(v - max), 0);
      slice.forEach((v, k) => (probabilities[row * V + k] = Math.exp(v - max) / sum));
    }
    assert.equal(probabilities[(T + 2) * V + 2], 0, 'the test case underflows in float32');
    const out = new Float32Array(2 * (T - 1));
    nextTokenNllRows(probabilities, logits, ids, T, V, out);
    let o = 0;
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < T - 1; t++) {
        const row = logits.subarray((b * T + t) * V, (b * T + t + 1) * V);
        const max = Math.max(...row);
        const expected = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) - row[ids[b * T + t + 1]];
        assert.ok(Math.abs(out[o] - expected) <= 1e-5 * Math.max(1, expected), `b=${b} t=${t}: ${out[o]} vs ${expected}`);
        o++;
      }
    }
    assert.ok(out[T - 1 + 2] > 290 && Number.isFinite(out[T - 1 + 2]));
  });
});

describe('LRP ratio and host transpose arithmetic', () => {
  test('stabilisedRatioValues: R / (z + eps sign z) with sign(0) = +1; eps = 0 gives 0 where z = 0', () => {
    const R = Float32Array.from([1, -2, 3, 4, 0.5]);
    const z = Float32Array.from([0.5, -0.25, 0, -1e-7, 2]);
    const out = new Float32Array(5);
    stabilisedRatioValues(R, z, 1e-6, out);
    const expected = [1 / (0.5 + 1e-6), -2 / (-0.25 - 1e-6), 3 / 1e-6, 4 / (-1e-7 - 1e-6), 0.5 / (2 + 1e-6)];
    expected.forEach((e, i) => assert.ok(Math.abs(out[i] - e) <= 1e-6 * Math.abs(e), `${i}: ${out[i]} vs ${e}`));
    stabilisedRatioValues(R, z, 0, out);
    assert.deepEqual(Array.from(out), [2, 8, 0, Math.fround(Math.fround(4) / Math.fround(-1e-7)), 0.25]);
  });

  test('transposeLastTwo: out[b, j, i] = x[b, i, j] across block edges', () => {
    const [batch, rows, cols] = [2, 37, 70];
    const x = uniformValues(batch * rows * cols, 40);
    const out = new Float32Array(x.length);
    transposeLastTwo(x, batch, rows, cols, out);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) assert.equal(out[b * rows * cols + j * rows + i], x[b * rows * cols + i * cols + j]);
    }
  });
});

/** A spec with just what the block ops read. */
function opsSpec(r: number, d: number, V: number, windows: number[], pairing: 'previous' | 'next', options: Partial<ArchitectureOptions> = {}): GrassmannSpec {
  return {
    dims: { vocabSize: V, modelDim: d, reducedDim: r, pairCount: (r * (r - 1)) / 2, layers: 1, ffDim: 4 * d, maxPositions: 64 },
    variant: { ...DEFAULT_OPTIONS, pairing, tiedLmHead: true, ...options },
    windowSizes: windows,
    ...pairsOf(r),
  } as unknown as GrassmannSpec;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`host kernels through TensorFlow.js on the ${backend} backend equal the TensorFlow.js ops`, () => {
    before(async () => {
      if (backend === 'wasm') await initWasmBackend(wasmOut, 2);
      else await tf.setBackend('cpu');
      assert.equal(tf.getBackend(), backend);
    });

    test('LayerNorm, GELU, gate blend + LayerNorm, Grassmann features, next-token NLL', () => {
      const [r, d, V, T, batch] = [6, 24, 97, 11, 2];
      const spec = opsSpec(r, d, V, [1, 2, 2, 5], 'previous');
      const host = createBlockOps(spec, 'host');
      const composite = createBlockOps(spec, 'composite');
      // The other mixing outputs and the other aggregation with LMConfig's Plücker eps.
      const additiveSpec = opsSpec(r, d, V, [1, 2, 2, 5], 'previous', { mixOutput: 'additive' });
      const gatedSpec = opsSpec(r, d, V, [1, 2, 2, 5], 'previous', { mixOutput: 'gated-geometry', aggregation: 'mean-then-project', pluckerEps: 1e-6 });
      const [hostAdditive, compositeAdditive] = [createBlockOps(additiveSpec, 'host'), createBlockOps(additiveSpec, 'composite')];
      const [hostGated, compositeGated] = [createBlockOps(gatedSpec, 'host'), createBlockOps(gatedSpec, 'composite')];
      const rows = batch * T;
      const before = tf.memory().numTensors;
      const errors = tf.tidy(() => {
        const x = tf.tensor2d(uniformValues(rows * d, 20), [rows, d]);
        const w = tf.tensor1d(uniformValues(d, 21));
        const b = tf.tensor1d(uniformValues(d, 22));
        const wide = tf.tensor2d(uniformValues(rows * 4 * d, 23).map((v) => 4 * v), [rows, 4 * d]);
        const g = tf.tensor2d(uniformValues(rows * d, 24), [rows, d]);
        const alpha = tf.sigmoid(tf.tensor2d(uniformValues(rows * d, 25), [rows, d])) as tf.Tensor2D;
        const z = tf.tensor2d(uniformValues(rows * r, 26), [rows, r]);
        const P = spec.pairFirst.length;
        const weights = {
          onPairs: tf.tensor2d(uniformValues((P + 1) * d, 27), [P + 1, d]),
          onOuter: tf.tensor2d(new Float32Array((r * r + 1) * d), [r * r + 1, d]),
        };
        // the same W_plu and b_plu in the outer-product layout
        const pairs = weights.onPairs.arraySync();
        const outer = new Float32Array((r * r + 1) * d);
        spec.pairFirst.forEach((i, k) => {
          const j = spec.pairSecond[k];
          for (let o = 0; o < d; o++) (outer[(i * r + j) * d + o] = pairs[k][o]), (outer[(j * r + i) * d + o] = -pairs[k][o]);
        });
        outer.set(pairs[P], r * r * d);
        weights.onOuter = tf.tensor2d(outer, [r * r + 1, d]);
        const plan = planOffsets(spec.windowSizes, T, 'previous');
        const logits = tf.tensor2d(uniformValues(rows * V, 28).map((v) => 5 * v), [rows, V]);
        const random = seededRandom(29);
        const ids = Array.from({ length: batch }, () => Array.from({ length: T }, () => Math.floor(random() * V)));
        const pairsOfResults = {
          layerNorm: [host.layerNorm(x, w, b, 1e-5), composite.layerNorm(x, w, b, 1e-5)],
          gelu: [host.gelu(wide), composite.gelu(wide)],
          gateBlendNorm: [host.mixOutput(x, g, alpha, { weight: w, bias: b }, 1e-5), composite.mixOutput(x, g, alpha, { weight: w, bias: b }, 1e-5)],
          additive: [hostAdditive.mixOutput(x, g, alpha, { weight: w, bias: b }, 1e-5), compositeAdditive.mixOutput(x, g, alpha, { weight: w, bias: b }, 1e-5)],
          gatedGeometry: [hostGated.mixOutput(x, g, alpha, null, 1e-5), compositeGated.mixOutput(x, g, alpha, null, 1e-5)],
          grassmannFeatures: [host.grassmannFeatures(z, weights, plan, batch, T), composite.grassmannFeatures(z, weights, plan, batch, T)],
          meanThenProject: [hostGated.grassmannFeatures(z, weights, plan, batch, T), compositeGated.grassmannFeatures(z, weights, plan, batch, T)],
          nextTokenNll: [host.nextTokenNll(logits, ids), composite.nextTokenNll(logits, ids)],
        };
        return Object.fromEntries(Object.entries(pairsOfResults).map(([k, [a, c]]) => [k, maxAbsDiff(a.dataSync(), c.dataSync())]));
      });
      console.log(`[host kernels ${backend}] max |host - composite|: ${JSON.stringify(errors)}`);
      for (const [k, e] of Object.entries(errors)) assert.ok(e <= 2e-5, `${k}: ${e}`);
      assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    });

    test('the LRP ratio kernel equals R / stab(z) from TensorFlow.js ops (1e-6 relative)', () => {
      registerHostKernels();
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const values = uniformValues(40 * 30, 41);
        values[3] = 0; // z = 0: the stabiliser takes the sign +1
        const z = tf.tensor2d(values, [40, 30]);
        const R = tf.tensor2d(uniformValues(40 * 30, 42), [40, 30]);
        for (const eps of [1e-6, 0.1]) {
          const kernel = (tf.engine().runKernel(STABILISED_RATIO_KERNEL, { R, z }, { eps }) as tf.Tensor).dataSync();
          const sign = tf.sub(tf.mul(tf.cast(tf.greaterEqual(z, 0), 'float32'), 2), 1);
          const ops = tf.div(R, tf.add(z, tf.mul(sign, eps))).dataSync();
          for (let i = 0; i < ops.length; i++) assert.ok(Math.abs(kernel[i] - ops[i]) <= 1e-6 * Math.abs(ops[i]), `eps ${eps}, ${i}: ${kernel[i]} vs ${ops[i]}`);
        }
        const kernel0 = (tf.engine().runKernel(STABILISED_RATIO_KERNEL, { R, z }, { eps: 0 }) as tf.Tensor).dataSync();
        const ops0 = tf.divNoNan(R, z).dataSync();
        assert.equal(kernel0[3], 0);
        for (let i = 0; i < ops0.length; i++) assert.ok(Math.abs(kernel0[i] - ops0[i]) <= 1e-6 * Math.abs(ops0[i]), `eps 0, ${i}`);
      });
      assert.equal(tf.memory().numTensors, before);
    });

    if (backend === 'wasm') {
      test('matrix products with transposed operands (host transpose, then XNNPACK) equal float64 products', () => {
        registerWasmTransposedMatMul();
        const [m, k, n] = [33, 70, 45];
        const A = uniformValues(m * k, 43);
        const B = uniformValues(k * n, 44);
        const reference = new Float64Array(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let q = 0; q < k; q++) sum += A[i * k + q] * B[q * n + j];
          reference[i * n + j] = sum;
        }
        const AT = new Float32Array(A.length);
        transposeLastTwo(A, 1, m, k, AT);
        const BT = new Float32Array(B.length);
        transposeLastTwo(B, 1, k, n, BT);
        const bytesBefore = tf.memory().numBytes;
        const results = tf.tidy(() => {
          const a = tf.tensor2d(A, [m, k]);
          const b = tf.tensor2d(B, [k, n]);
          const aT = tf.tensor2d(AT, [k, m]);
          const bT = tf.tensor2d(BT, [n, k]);
          return {
            plain: tf.matMul(a, b).dataSync(),
            transposeA: tf.matMul(aT, b, true, false).dataSync(),
            transposeB: tf.matMul(a, bT, false, true).dataSync(),
            both: tf.matMul(aT, bT, true, true).dataSync(),
            batched: tf.matMul(tf.stack([aT, aT]) as tf.Tensor3D, tf.stack([bT, bT]) as tf.Tensor3D, true, true).dataSync(),
            gradient: tf.grads((x: tf.Tensor) => tf.sum(tf.matMul(x as tf.Tensor2D, b)))([a])[0].dataSync(),
          };
        });
        for (const [name, values] of Object.entries(results)) {
          if (name === 'gradient') continue;
          assert.equal(values.length, name === 'batched' ? 2 * m * n : m * n, name);
          for (let i = 0; i < values.length; i++) {
            const e = reference[i % (m * n)];
            assert.ok(Math.abs(values[i] - e) <= 1e-5 * Math.max(1, Math.abs(e)), `${name}[${i}]: ${values[i]} vs ${e}`);
          }
        }
        // d/da sum(a b) = 1 b^T: every row is the row sums of b.
        for (let i = 0; i < m; i++) for (let q = 0; q < k; q++) {
          let rowSum = 0;
          for (let j = 0; j < n; j++) rowSum += B[q * n + j];
          assert.ok(Math.abs(results.gradient[i * k + q] - rowSum) <= 1e-5 * Math.max(1, Math.abs(rowSum)), `gradient ${i},${q}`);
        }
        assert.equal(tf.memory().numBytes, bytesBefore, 'the transposed copies are freed');
      });

      test('outputs that grow the WebAssembly heap are written through fresh views', () => {
        registerHostKernels();
        const wasm = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
        const r = 32;
        const P = (r * (r - 1)) / 2;
        const T = 64;
        const heapBefore = wasm.wasm.HEAPU8.buffer.byteLength;
        // More output bytes than the whole heap has: the kernel's allocation must grow it.
        const rows = T * Math.ceil(heapBefore / (4 * (P + 1)) / T + 1);
        const plan = planOffsets([1, 2, 4, 8], T, 'previous');
        const zValues = uniformValues(rows * r, 30);
        const weightValues = new Float32Array(rows * plan.offsets.length);
        for (let b = 0; b < rows / T; b++) weightValues.set(plan.weights, b * plan.weights.length);
        const attrs = { offsets: plan.offsets, pairing: 'previous', seqLen: T };
        const z = tf.tensor2d(zValues, [rows, r]);
        const weights = tf.tensor2d(weightValues, [rows, plan.offsets.length]);
        const heapWithInputs = wasm.wasm.HEAPU8.buffer.byteLength;
        const out = tf.engine().runKernel(PLUCKER_MEAN_KERNEL, { z, weights }, attrs) as tf.Tensor;
        assert.ok(wasm.wasm.HEAPU8.buffer.byteLength > heapWithInputs, 'the heap grew during the kernel');
        const expected = new Float32Array(rows * (P + 1));
        pluckerMeanRows(zValues, weightValues, r, { ...attrs, pairing: 'previous' }, expected);
        assert.equal(maxAbsDiff(out.dataSync(), expected), 0);
        tf.dispose([z, weights, out]);
      });
    }
  });
}
