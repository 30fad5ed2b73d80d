/**
 * Parity of the TensorFlow.js GrassmannGPT forward pass with the PyTorch references of
 * test/fixtures/tiny-grassmann, and with a float64 reference written below for shapes, window lists
 * and variants the fixture does not cover.
 *
 * Tolerances (float32 against float32 PyTorch):
 *  - logits and every tap: 1e-4 absolute;
 *  - grad.embeddings: 1e-4 relative to its largest magnitude;
 *  - perplexity of eval.txt: 1e-4 relative to manifest eval.perplexity.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { writeSafetensors, type TensorToWrite } from '../../src/checkpoint/safetensorsWriter';
import { openTorchCheckpoint } from '../../src/checkpoint/torch';
import { readFloat32 } from '../../src/checkpoint/tensorData';
import type { Checkpoint } from '../../src/checkpoint/types';
import { forwardFlops } from '../../src/model/flops';
import { erf, gelu, type BlockOpsKind } from '../../src/model/blockOps';
import { GrassmannModel } from '../../src/model/grassmann';
import { planOffsets } from '../../src/model/offsets';
import { describeModel, type GrassmannSpec } from '../../src/model/spec';
import { randomGrassmannWeights } from '../../src/model/synthetic';
import { loadTokenizer } from '../../src/tokenizer/load';
import { isInputError } from '../../src/util/errors';
import { maxAbs, maxAbsDiff, useBackend } from '../support/numeric';
import { compareWithReference } from '../../bench/parity';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const ABS_TOL = 1e-4;
const GRAD_REL_TOL = 1e-4;
const PPL_REL_TOL = 1e-4;

interface Case {
  file: string;
  input_ids: number[];
  grad_position: number;
  grad_target_id: number;
}
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'reference', 'manifest.json'), 'utf8')) as {
  cases: Case[];
  eval: { file: string; seq_len: number; chunks: number; mean_nll: number; perplexity: number };
};

const sources: Record<string, () => Promise<Checkpoint>> = {
  'model.safetensors': () => openSafetensors(join(FIXTURE, 'model.safetensors')),
  'checkpoints/best.pt': () => openTorchCheckpoint(join(FIXTURE, 'checkpoints', 'best.pt')),
};

/** Both readers, both backends, both implementations of the block ops (./src/model/blockOps.ts). */
const configurations: Array<{ source: string; backend: 'cpu' | 'wasm'; ops: BlockOpsKind }> = [
  { source: 'model.safetensors', backend: 'wasm', ops: 'host' },
  { source: 'checkpoints/best.pt', backend: 'wasm', ops: 'host' },
  { source: 'model.safetensors', backend: 'wasm', ops: 'composite' },
  { source: 'model.safetensors', backend: 'cpu', ops: 'host' },
  { source: 'checkpoints/best.pt', backend: 'cpu', ops: 'composite' },
];

for (const { source, backend, ops } of configurations) {
  const label = `${source}, ${backend} backend, ${ops} ops`;
  describe(`parity with the PyTorch reference: ${label}`, () => {
    let checkpoint: Checkpoint;
    let spec: GrassmannSpec;
    let model: GrassmannModel;
    const worst = new Map<string, number>();

    before(async () => {
      await useBackend(backend);
      checkpoint = await sources[source]();
      const described = await describeModel(checkpoint);
      assert.ok(described.recognized, described.recognized ? '' : described.problems.join('; '));
      spec = described.spec;
      model = await GrassmannModel.load(checkpoint, spec);
    });
    after(async (t) => {
      model.dispose();
      await checkpoint.close();
      const report = [...worst].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ');
      (t as unknown as { diagnostic?: (s: string) => void }).diagnostic?.(`max errors: ${report}`);
      console.log(`[${label}] max errors: ${report}`);
    });

    for (const c of manifest.cases) {
      test(`${c.file}: logits and every tap within ${ABS_TOL} absolute, grad.embeddings within ${GRAD_REL_TOL} relative`, async () => {
        const reference = await openSafetensors(join(FIXTURE, c.file));
        try {
          const before = tf.memory().numTensors;
          const result = await model.forward(c.input_ids, { taps: true, ops });
          const gradient = await model.gradient(c.input_ids, c.grad_position, c.grad_target_id);
          assert.equal(tf.memory().numTensors, before, 'forward/gradient leave no tensors behind');
          const T = c.input_ids.length;
          assert.deepEqual(result.logitsShape, [T, spec.dims.vocabSize]);
          // Every tap (bench/parity.ts, the comparison `npm run gpu-check` runs too); distances.* belong
          // to the geometry module, not the forward pass.
          const taps = await compareWithReference(join(FIXTURE, c.file), (name) => result.taps.get(name), worst, (name) => !name.startsWith('distances.') && name !== 'grad.embeddings');
          for (const t of taps) {
            assert.ok(t.problem !== 'missing', `tap ${t.name} missing`);
            assert.deepEqual(t.shape, t.expectedShape, `${t.name} shape`);
            assert.ok(t.error <= ABS_TOL, `${t.name}: max abs error ${t.error}`);
          }
          let compared = taps.length;
          const gradInfo = reference.tensors.get('grad.embeddings');
          if (gradInfo) {
            const expected = await readFloat32(gradInfo);
            assert.deepEqual(gradient.shape, gradInfo.shape);
            const rel = maxAbsDiff(gradient.data, expected) / maxAbs(expected);
            worst.set('grad.embeddings(rel)', Math.max(worst.get('grad.embeddings(rel)') ?? 0, rel));
            assert.ok(rel <= GRAD_REL_TOL, `grad.embeddings relative error ${rel}`);
            compared++;
          }
          assert.equal(maxAbsDiff(result.logits, result.taps.get('logits')!.data), 0);
          // every reference intermediate was produced (grad, embeddings, logits, nll + per layer 6 + 2 per valid offset)
          const offsets = planOffsets(spec.windowSizes, T, 'previous').offsets.length;
          assert.equal(compared, 1 + 3 + spec.dims.layers * (6 + 2 * offsets));
        } finally {
          await reference.close();
        }
      });
    }
  });
}

for (const [backend, ops] of [['wasm', 'host'], ['cpu', 'composite']] as const) {
  describe(`perplexity of eval.txt (manifest eval protocol), ${backend} backend, ${ops} ops`, () => {
    before(() => useBackend(backend));
    test(`within ${PPL_REL_TOL} relative of manifest eval.perplexity`, async () => {
      const checkpoint = await openSafetensors(join(FIXTURE, 'model.safetensors'));
      const described = await describeModel(checkpoint);
      assert.ok(described.recognized);
      const model = await GrassmannModel.load(checkpoint, described.spec);
      try {
        const text = readFileSync(join(FIXTURE, manifest.eval.file), 'utf8');
        const ids = loadTokenizer(FIXTURE).encode(text).map((t) => t.id);
        const result = await model.evaluate(ids, manifest.eval.seq_len, { ops });
        assert.equal(result.chunks, manifest.eval.chunks);
        assert.equal(result.predictions, manifest.eval.chunks * (manifest.eval.seq_len - 1));
        const rel = Math.abs(result.perplexity - manifest.eval.perplexity) / manifest.eval.perplexity;
        console.log(`[eval ${backend}/${ops}] perplexity ${result.perplexity} (reference ${manifest.eval.perplexity}, rel ${rel.toExponential(2)}), mean nll ${result.mean_nll}`);
        assert.ok(rel <= PPL_REL_TOL, `perplexity ${result.perplexity} vs ${manifest.eval.perplexity}`);
        assert.ok(Math.abs(result.mean_nll - manifest.eval.mean_nll) <= 1e-4);
        // too short for one chunk: a clear error, not NaN
        await assert.rejects(model.evaluate(ids.slice(0, 10), 128), (e: unknown) => isInputError(e) && /fewer than one chunk/.test((e as Error).message));
      } finally {
        model.dispose();
        await checkpoint.close();
      }
    });
  });
}

describe('input checks', () => {
  before(() => useBackend('cpu'));
  test('a sequence longer than the position table is refused with InputError; bad ids with RangeError', async () => {
    const checkpoint = await openSafetensors(join(FIXTURE, 'model.safetensors'));
    const described = await describeModel(checkpoint);
    assert.ok(described.recognized);
    const model = await GrassmannModel.load(checkpoint, described.spec);
    try {
      const Tmax = described.spec.dims.maxPositions;
      const tooLong = Array.from({ length: Tmax + 1 }, (_, i) => i % 100);
      await assert.rejects(model.forward(tooLong), (e: unknown) => isInputError(e) && /at most 128/.test((e as Error).message));
      await assert.rejects(model.gradient(tooLong, 0, 0), (e: unknown) => isInputError(e));
      await assert.rejects(model.forward([1, 2, 1200]), RangeError);
      await assert.rejects(model.forward([]), RangeError);
      await assert.rejects(model.gradient([1, 2, 3], 3, 0), RangeError);
      // exactly Tmax tokens is fine
      const full = await model.forward(tooLong.slice(0, Tmax));
      assert.equal(full.logits.length, Tmax * described.spec.dims.vocabSize);
      // a single token: no offset is valid, g = 0
      const single = await model.forward([2], { taps: ['layers.0.g', 'nll'] });
      assert.equal(maxAbs(single.taps.get('layers.0.g')!.data), 0);
      assert.deepEqual(single.taps.get('nll')!.shape, [0]);
    } finally {
      model.dispose();
      await checkpoint.close();
    }
    assert.equal(tf.memory().numTensors, 0);
  });
});

// ---------------------------------------------------------------------------------------------
// GELU
// ---------------------------------------------------------------------------------------------

/** erf in float64: Taylor series for |x| <= 3, continued fraction of erfc beyond. */
function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax <= 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  let fraction = ax;
  for (let k = 60; k >= 1; k--) fraction = ax + k / 2 / fraction;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / fraction;
  return Math.sign(x) * (1 - erfc);
}

describe('exact GELU from basic ops', () => {
  before(() => useBackend('cpu'));
  const xs = Array.from({ length: 4001 }, (_, i) => -10 + i * 0.005);

  // erf is formed as 1 - erfc in float32 (ulp(1) = 1.2e-7), so ~2 ulp near |erf| = 1 is the floor.
  test('erf within 3e-7 absolute of a float64 reference on [-10, 10]', () => {
    const got = tf.tidy(() => erf(tf.tensor1d(xs)).dataSync());
    let worstErr = 0;
    xs.forEach((x, i) => (worstErr = Math.max(worstErr, Math.abs(got[i] - erf64(x)))));
    console.log(`[gelu] erf max abs error ${worstErr.toExponential(2)}`);
    assert.ok(worstErr <= 3e-7, `erf error ${worstErr}`);
  });

  test('GELU within 2e-7 * max(1, |x|) of x Phi(x) in float64, and its gradient within 1e-6', () => {
    const [values, grads] = tf.tidy(() => {
      const x = tf.tensor1d(xs);
      return [gelu(x).dataSync(), tf.grad((v: tf.Tensor) => tf.sum(gelu(v)))(x).dataSync()];
    });
    let worstValue = 0;
    let worstGrad = 0;
    xs.forEach((x, i) => {
      const cdf = 0.5 * (1 + erf64(x / Math.SQRT2));
      const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
      worstValue = Math.max(worstValue, Math.abs(values[i] - x * cdf) / Math.max(1, Math.abs(x)));
      worstGrad = Math.max(worstGrad, Math.abs(grads[i] - (cdf + x * pdf)));
    });
    console.log(`[gelu] value error ${worstValue.toExponential(2)} (scaled), gradient error ${worstGrad.toExponential(2)}`);
    assert.ok(worstValue <= 2e-7, `gelu error ${worstValue}`);
    assert.ok(worstGrad <= 1e-6, `gelu gradient error ${worstGrad}`);
    assert.equal(tf.memory().numTensors, 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Other shapes, window lists and variants against a float64 reference
// ---------------------------------------------------------------------------------------------

type Weights = Map<string, Float64Array>;

function matVec(W: Float64Array, rows: number, cols: number, x: number[], bias?: Float64Array): number[] {
  const y = new Array<number>(rows).fill(0);
  for (let o = 0; o < rows; o++) {
    let s = bias ? bias[o] : 0;
    for (let i = 0; i < cols; i++) s += W[o * cols + i] * x[i];
    y[o] = s;
  }
  return y;
}

function layerNorm64(x: number[], w: Float64Array, b: Float64Array, eps: number): number[] {
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * w[i] + b[i]);
}

/**
 * A structurally smaller copy: block l keeps its first sizes[l].r reduced dimensions (W_red rows
 * and bias, the W_plu columns of the pairs inside them, still row-major) and its first sizes[l].f
 * FFN neurons (ffn.0 rows and bias, ffn.3 columns). `r` is the reduced dimension of `tensors`.
 */
function truncateBlocks(tensors: TensorToWrite[], r: number, sizes: readonly { r: number; f: number }[]): TensorToWrite[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < r; i++) for (let j = i + 1; j < r; j++) pairs.push([i, j]);
  return tensors.map((t) => {
    const m = /^blocks\.(\d+)\.(.*)$/.exec(t.name);
    if (!m) return t;
    const { r: rl, f: fl } = sizes[Number(m[1])];
    const data = t.data as Float32Array;
    const [rows, cols] = t.shape;
    const columns = (keep: number[]) => ({ ...t, shape: [rows, keep.length], data: Float32Array.from({ length: rows * keep.length }, (_, n) => data[Math.floor(n / keep.length) * cols + keep[n % keep.length]]) });
    switch (m[2]) {
      case 'grassmann.W_red.weight': return { ...t, shape: [rl, cols], data: data.slice(0, rl * cols) };
      case 'grassmann.W_red.bias': return { ...t, shape: [rl], data: data.slice(0, rl) };
      case 'grassmann.W_plu.weight': return columns(pairs.flatMap(([, j], k) => (j < rl ? [k] : [])));
      case 'ffn.0.weight': return { ...t, shape: [fl, cols], data: data.slice(0, fl * cols) };
      case 'ffn.0.bias': return { ...t, shape: [fl], data: data.slice(0, fl) };
      case 'ffn.3.weight': return columns(Array.from({ length: fl }, (_, k) => k));
      default: return t;
    }
  });
}

/**
 * The architecture of grassmann-math.md §1, one position and one pair at a time, in float64;
 * each block with its own r, f and window list (spec.layerShapes).
 */
function referenceForward(W: Weights, spec: GrassmannSpec, ids: number[]): { logits: number[][]; g: number[][][] } {
  const { modelDim: d, vocabSize: V, layers: L } = spec.dims;
  const T = ids.length;
  const eps = spec.layerNormEps;
  const E = W.get('token_embedding.weight')!;
  const pos = W.get('position_embedding.weight')!;
  let x = ids.map((id, t) => Array.from({ length: d }, (_, i) => E[id * d + i] + pos[t * d + i]));
  const gPerLayer: number[][][] = [];
  for (let l = 0; l < L; l++) {
    const p = (n: string) => W.get(`blocks.${l}.${n}`)!;
    const { reducedDim: r, ffDim: f, windowSizes } = spec.layerShapes[l];
    const P = (r * (r - 1)) / 2;
    const h = x.map((row) => layerNorm64(row, p('ln1.weight'), p('ln1.bias'), eps));
    const z = h.map((row) => matVec(p('grassmann.W_red.weight'), r, d, row, p('grassmann.W_red.bias')));
    const g = h.map((_, t) => {
      const sum = new Array<number>(d).fill(0);
      let count = 0;
      for (const offset of windowSizes) {
        if (offset >= T) continue;
        const s = spec.variant.pairing === 'previous' ? t - offset : t + offset;
        if (s < 0 || s >= T) continue;
        const plucker: number[] = [];
        for (let i = 0; i < r; i++) for (let j = i + 1; j < r; j++) plucker.push(z[t][i] * z[s][j] - z[t][j] * z[s][i]);
        const norm = Math.max(Math.sqrt(plucker.reduce((a, v) => a + v * v, 0)), 1e-8);
        const gd = matVec(p('grassmann.W_plu.weight'), d, P, plucker.map((v) => v / norm), p('grassmann.W_plu.bias'));
        gd.forEach((v, o) => (sum[o] += v));
        count++;
      }
      return count === 0 ? sum : sum.map((v) => v / count);
    });
    gPerLayer.push(g);
    x = x.map((row, t) => {
      const alpha = matVec(p('grassmann.W_gate.weight'), d, 2 * d, [...h[t], ...g[t]], p('grassmann.W_gate.bias')).map((u) => 1 / (1 + Math.exp(-u)));
      const mixed = h[t].map((hv, i) => (spec.variant.mixOutput === 'blend' ? alpha[i] * hv + (1 - alpha[i]) * g[t][i] : hv + alpha[i] * g[t][i]));
      const afterMix = row.map((v, i) => v + layerNorm64(mixed, p('grassmann.layer_norm.weight'), p('grassmann.layer_norm.bias'), eps)[i]);
      const ffIn = layerNorm64(afterMix, p('ln2.weight'), p('ln2.bias'), eps);
      const hidden = matVec(p('ffn.0.weight'), f, d, ffIn, p('ffn.0.bias')).map((u) => 0.5 * u * (1 + erf64(u / Math.SQRT2)));
      const ffOut = matVec(p('ffn.3.weight'), d, f, hidden, p('ffn.3.bias'));
      return afterMix.map((v, i) => v + ffOut[i]);
    });
  }
  const head = W.get('lm_head.weight') ?? E;
  const logits = x.map((row) => matVec(head, V, d, layerNorm64(row, W.get('ln_f.weight')!, W.get('ln_f.bias')!, eps)));
  return { logits, g: gPerLayer };
}

describe('other shapes, window lists and variants (float64 reference), host and composite ops', () => {
  const dims = { vocabSize: 37, modelDim: 12, layers: 3, reducedDim: 5, ffDim: 20, maxPositions: 16 };
  let folder: string;
  before(async () => {
    await useBackend('cpu');
    folder = mkdtempSync(join(tmpdir(), 'grassmann-parity-'));
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  const variants: { name: string; config: Record<string, unknown>; untied: boolean; sizes?: { r: number; f: number }[] }[] = [
    { name: 'paper variant, duplicated offsets and offsets >= T', config: { window_sizes: [1, 1, 3, 5, 20], layer_norm_eps: 1e-5 }, untied: false },
    {
      name: 'per-block r, f and window lists (a structurally pruned model), a block without offsets',
      config: { window_sizes: [1, 3], reduced_dim: 5, ff_dim: 20, layers: [{ window_sizes: [2, 2, 5] }, { window_sizes: [] }, { reduced_dim: 5, ff_dim: 13 }] },
      untied: false,
      sizes: [{ r: 3, f: 20 }, { r: 4, f: 7 }, { r: 5, f: 13 }],
    },
    { name: "pairing 'next', additive gating, untied lm_head", config: { window_sizes: [2, 4, 4, 9], pairing: 'next', gating: 'additive' }, untied: true },
    { name: '12-layer style list, eps 1e-6', config: { window_sizes: [1, 1, 2, 2, 4, 4, 8, 8, 12, 12, 16, 16], layer_norm_eps: 1e-6 }, untied: false },
  ];

  variants.forEach((variant, index) => {
    test(variant.name, async () => {
      const dir = join(folder, `v${index}`);
      mkdirSync(dir);
      // Larger weights than the generator's defaults, so that z and the planes are far from 0.
      const full = randomGrassmannWeights(dims, 7 + index).map((t) => ({
        ...t,
        data: (t.data as Float32Array).map((v) => (/embedding|W_red|ffn/.test(t.name) ? v * 20 : v)),
      }));
      const tensors = variant.sizes ? truncateBlocks(full, dims.reducedDim, variant.sizes) : full;
      if (variant.untied) {
        const embedding = tensors.find((t) => t.name === 'token_embedding.weight')!;
        tensors.push({ ...embedding, name: 'lm_head.weight', data: (embedding.data as Float32Array).map((v, i) => v * 0.5 + (i % 3) * 0.01) });
      }
      await writeSafetensors(join(dir, 'model.safetensors'), tensors);
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...variant.config, model_dim: dims.modelDim, num_layers: dims.layers }));
      const checkpoint = await openSafetensors(join(dir, 'model.safetensors'));
      const described = await describeModel(checkpoint);
      assert.ok(described.recognized);
      const spec = described.spec;
      assert.equal(spec.windowSource, 'config');
      assert.equal(spec.variant.tiedLmHead, !variant.untied);
      if (variant.sizes) {
        assert.deepEqual(spec.layerShapes.map((s) => [s.reducedDim, s.pairCount, s.ffDim, s.windowSizes]), [[3, 3, 20, [2, 2, 5]], [4, 6, 7, []], [5, 10, 13, [1, 3]]]);
      }
      const model = await GrassmannModel.load(checkpoint, spec);
      try {
        const weights: Weights = new Map();
        for (const [name, info] of checkpoint.tensors) weights.set(name, Float64Array.from(await readFloat32(info)));
        for (const T of [1, 2, 6, dims.maxPositions]) {
          const ids = Array.from({ length: T }, (_, t) => (t * 11 + index) % dims.vocabSize);
          const expected = referenceForward(weights, spec, ids);
          for (const ops of ['host', 'composite'] as const) {
            const got = await model.forward(ids, { taps: ['layers.*.g', 'layers.*'], ops });
            assert.ok(maxAbsDiff(got.logits, expected.logits.flat()) <= ABS_TOL, `logits T=${T} ${ops}`);
            expected.g.forEach((g, l) => {
              const err = maxAbsDiff(got.taps.get(`layers.${l}.g`)!.data, g.flat());
              assert.ok(err <= ABS_TOL, `layers.${l}.g T=${T} ${ops}: ${err}`);
            });
          }
          assert.ok(maxAbs(expected.logits.flat()) > 0.1, 'the test model is not degenerate');
        }
        // Batched evaluation agrees with one forward per chunk.
        const ids = Array.from({ length: 3 * 7 + 4 }, (_, t) => (t * 5 + 1) % dims.vocabSize);
        for (const ops of ['host', 'composite'] as const) {
          const evaluation = await model.evaluate(ids, 7, { ops });
          let sum = 0;
          for (let c = 0; c < 3; c++) {
            const chunk = ids.slice(c * 7, (c + 1) * 7);
            const nll = (await model.forward(chunk, { taps: ['nll'], ops })).taps.get('nll')!.data;
            sum += nll.reduce((a, v) => a + v, 0);
          }
          assert.equal(evaluation.chunks, 3);
          assert.ok(Math.abs(evaluation.mean_nll - sum / 18) <= 1e-5, ops);
        }
      } finally {
        model.dispose();
        await checkpoint.close();
      }
    });
  });
});

describe('FLOP count', () => {
  test('counts 2*m*n*k per matmul, nominal vs executed', () => {
    const dims = { vocabSize: 100, modelDim: 8, layers: 2, reducedDim: 4, pairCount: 6, ffDim: 16, maxPositions: 32 };
    const flops = forwardFlops(dims, 10, [1, 1, 4, 12]);
    assert.equal(flops.validPairRows, 9 + 9 + 6);
    assert.equal(flops.distinctOffsets, 2);
    assert.equal(flops.nominal.parts.lmHead, 2 * 10 * 8 * 100);
    assert.equal(flops.nominal.parts.plucker, 2 * 2 * 24 * 6 * 8);
    assert.equal(flops.executed.parts.plucker, 2 * 2 * 10 * (6 + 1) * 8); // [T, P+1] x [P+1, d]
    assert.equal(forwardFlops(dims, 10, [1, 1, 4, 12], 1, 'composite').executed.parts.plucker, 2 * 2 * 10 * (16 + 1) * 8); // [T, r^2+1] x [r^2+1, d]
    assert.equal(flops.executed.parts.ffn, 2 * 2 * (2 * 10 * 8 * 16));
  });
});
