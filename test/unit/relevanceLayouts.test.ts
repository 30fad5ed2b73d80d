/**
 * LRP on every implementation's block layout (src/relevance/lrp.ts with the per-option rules of
 * src/relevance/layoutRules.ts): GrassLM (post-norm, no residual around the mixing, blend, project
 * then mean, Plücker eps 1e-8), LMConfig post-norm (post-norm, alpha g, mean then project, eps
 * 1e-6), LMConfig pre_norm=True (the same weights read as pre-norm), and a synthetic alphaXiv model
 * (pre-norm, blend with its own LayerNorm) for the LRP-0 identity.
 *
 * Conventions: signed relevance; "bias-free copy" = every `.bias` tensor (linear biases and
 * LayerNorm betas) set to 0 and written as safetensors beside the implementation's config.json;
 * LRP-0 = the epsilon rule with eps = 0 (every stabiliser off).
 *
 * (a) Conservation: on a bias-free copy with eps = 0, every stage of the conservation report
 *     (head, each layer, embeddings) has |lower - upper| / |upper| <= 1e-4, and so has the whole
 *     model, for the epsilon rule under both gate policies (and z+ / gamma as extras).
 * (b) The LRP-0 identity. The rules treat LayerNorm's sigma, the gate alpha, the GELU and the
 *     Plücker normaliser 1/max(||p||, eps) as constants, and split the bilinear p = z_t ^ z_s in
 *     halves, so LRP-0 is not gradient x input of the model itself. It is gradient x input of the
 *     model linearised at the recorded point x0 = token + position embeddings:
 *       - every LayerNorm y = gamma (v - mean v) / sigma0 + beta, sigma0 recorded (centering kept);
 *       - the activation act = pre * (act0 / pre0) (the recorded ratio);
 *       - p_hat_d(t) = w_td (1/2 z_t ^ z0_s + 1/2 z0_t ^ z_s) / max(||p0||, eps) (z0, p0 recorded:
 *         equals p_hat at x0, and is linear in z);
 *       - signal-take-all: alpha = alpha0 (constant); half: each gated product u v (u = alpha or
 *         1 - alpha = sigmoid(+-a), v = h or g) becomes 1/2 u0 v + 1/2 u0 (a / a0) v0 (the
 *         sigmoid linearised through the origin, u0 = sigmoid(+-a0)); ungated terms stay as they are.
 *     With every bias 0 this surrogate F_lin(x) = sum of the target logits is linear in x, equals
 *     the model at x0, and LRP-0's relevances equal x0 * dF_lin/dx0 (tf.grads on the surrogate,
 *     built from the forward kernels of src/model/layout.ts, not from the relevance code):
 *     per position, the token and position parts (row sums of tok * G and pos * G); per block,
 *     the input per position, each FFN neuron (sum over t of act * dF/dact), each reduced
 *     dimension (z * dF/dz) and each gate dimension (a * dF/da; 0 under signal-take-all).
 *     Tolerance: max |difference| <= 1e-4 of the largest |expected| per compared vector, and
 *     F_lin(x0) equals the LRP start within 1e-4 relative. Under 'half' the gate's share is
 *     divided by a0 (in the rule and in the surrogate alike), and where some |a0| is tiny float32
 *     rounding is amplified: the tolerance is then max(1e-4, 10 x the noise floor), the floor
 *     being the largest difference between two float32 evaluations of the same surrogate that
 *     differ only in op order (a / a0 or a * (1 / a0)). Measured (cpu backend, 40 tokens):
 *     signal-take-all worst 2.2e-6 (GrassLM), 3.6e-7 (LMConfig), 2.2e-7 (pre-norm), 2.6e-7
 *     (alphaXiv); half 8.2e-4 against a floor of 2.7e-4 (GrassLM: min |a0| ~ 1e-5, median 0.6),
 *     1.8e-5 / 2.2e-5 / 2.8e-5 (floors 1.8e-5 / 1.0e-5 / 1.5e-5) for the others.
 *     Bias-free conservation, measured: worst stage leak 6e-7 (GrassLM), 9e-8 (LMConfig), 4e-8
 *     (pre-norm), 5e-6 (alphaXiv, half).
 * (c) The relevance of each fixture (with its biases) under the default rules runs: the start is
 *     the sum of the true next-token logits (1e-4 relative), the conservation report is finite
 *     and chains, b_plu's share is accounted for (sum of offsets = sum of pairs + b_plu's share
 *     where it sits inside the offsets' terms, to 1e-4), and the report states the layout's rules.
 *     Measured leaks are printed (post-norm leaks through every LayerNorm's beta). No run leaves
 *     tensors behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openCheckpoint } from '../../src/checkpoint/open';
import { writeSafetensors, type TensorToWrite } from '../../src/checkpoint/safetensorsWriter';
import { readFloat32, readTensorRaw } from '../../src/checkpoint/tensorData';
import type { Checkpoint } from '../../src/checkpoint/types';
import { planesAtOffset } from '../../src/model/plucker';
import type { ArchitectureOptions, MixOutput } from '../../src/model/architecture';
import { createBlockOps } from '../../src/model/blockOps';
import { GrassmannModel } from '../../src/model/grassmann';
import { AGGREGATION_KERNELS, BLOCK_LAYOUT_KERNELS, MIX_OUTPUT_KERNELS, type BoundNorm } from '../../src/model/layout';
import { planeLayoutOf, planOffsets } from '../../src/model/offsets';
import { describeModel } from '../../src/model/spec';
import { randomGrassmannWeights } from '../../src/model/synthetic';
import { targetGradients } from '../../src/relevance/gradients';
import { AGGREGATION_RULES } from '../../src/relevance/layoutRules';
import { relevanceOf, rowsAt, targetPairs } from '../../src/relevance/lrp';
import { DEFAULT_RELEVANCE_OPTIONS, type GatePolicy, type RelevanceOptions, type RelevanceResult } from '../../src/relevance/types';
import { maxAbs, maxRelDiff } from '../support/numeric';

const IMPLEMENTATIONS = join(__dirname, '..', 'fixtures', 'implementations');
const GRASSLM = join(IMPLEMENTATIONS, 'grasslm-tiny');
const LIFTING = join(IMPLEMENTATIONS, 'lifting-postnorm');

const CONSERVATION_TOLERANCE = 1e-4;
const IDENTITY_TOLERANCE = 1e-4;
/** Under the half policy the identity holds to NOISE_MARGIN times the float32 noise floor when that exceeds IDENTITY_TOLERANCE. */
const NOISE_MARGIN = 10;

const total = (a: readonly number[]): number => a.reduce((s, v) => s + v, 0);

function idsOf(folder: string, length: number): number[] {
  const manifest = JSON.parse(readFileSync(join(folder, 'reference', 'manifest.json'), 'utf8')) as { cases: { input_ids: number[] }[] };
  return manifest.cases[0].input_ids.slice(0, length);
}

/** Every tensor of a checkpoint, with each `.bias` (linear biases, LayerNorm betas) zeroed when asked. */
async function tensorsOf(path: string, zeroBiases: boolean): Promise<TensorToWrite[]> {
  const checkpoint = await openCheckpoint(path);
  try {
    const out: TensorToWrite[] = [];
    for (const [name, info] of checkpoint.tensors) {
      const shape = info.shape.slice();
      if (info.dtype === 'F32') {
        const data = await readFloat32(info);
        out.push({ name, dtype: 'F32', shape, data: zeroBiases && name.endsWith('.bias') ? new Float32Array(data.length) : data });
      } else {
        out.push({ name, dtype: info.dtype, shape, data: await readTensorRaw(info) });
      }
    }
    return out;
  } finally {
    await checkpoint.close();
  }
}

interface Loaded {
  checkpoint: Checkpoint;
  model: GrassmannModel;
  close(): Promise<void>;
}

async function load(path: string, expected: Partial<ArchitectureOptions>): Promise<Loaded> {
  const checkpoint = await openCheckpoint(path);
  const described = await describeModel(checkpoint);
  assert.ok(described.recognized, described.recognized ? '' : described.problems.join('; '));
  const variant = described.spec.variant;
  for (const [k, v] of Object.entries(expected)) assert.equal((variant as unknown as Record<string, unknown>)[k], v, `${path}: option ${k}`);
  const model = await GrassmannModel.load(checkpoint, described.spec);
  return {
    checkpoint,
    model,
    async close() {
      model.dispose();
      await checkpoint.close();
    },
  };
}

/** An implementation's model as the tests use it: the fixture, its bias-free copy, its options. */
interface Case {
  name: string;
  expected: Partial<ArchitectureOptions>;
  ids: number[];
  /** Writes the models into `dir` and returns the paths: with its biases (null: none) and bias-free. */
  write(dir: string): Promise<{ original: string | null; biasFree: string }>;
}

const GRASSLM_CONFIG = JSON.parse(readFileSync(join(GRASSLM, 'config.json'), 'utf8')) as Record<string, unknown>;
const LIFTING_CONFIG = JSON.parse(readFileSync(join(LIFTING, 'config.json'), 'utf8')) as Record<string, unknown>;

async function biasFreeBeside(source: string, config: Record<string, unknown>, dir: string): Promise<string> {
  const path = join(dir, 'model.safetensors');
  await writeSafetensors(path, await tensorsOf(source, true));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return path;
}

const CASES: Case[] = [
  {
    name: 'GrassLM (grasslm-tiny)',
    expected: { block: 'post-norm-no-mix-residual', mixOutput: 'blend', mixNorm: false, aggregation: 'project-then-mean', pluckerEps: 1e-8 },
    ids: idsOf(GRASSLM, 40),
    async write(dir) {
      return { original: join(GRASSLM, 'checkpoints', 'best_model.pt'), biasFree: await biasFreeBeside(join(GRASSLM, 'checkpoints', 'best_model.pt'), GRASSLM_CONFIG, dir) };
    },
  },
  {
    name: 'LMConfig post-norm (lifting-postnorm)',
    expected: { block: 'post-norm', mixOutput: 'gated-geometry', mixNorm: false, aggregation: 'mean-then-project', pluckerEps: 1e-6 },
    ids: idsOf(LIFTING, 40),
    async write(dir) {
      return { original: join(LIFTING, 'checkpoints', 'model.pt'), biasFree: await biasFreeBeside(join(LIFTING, 'checkpoints', 'model.pt'), LIFTING_CONFIG, dir) };
    },
  },
  {
    name: 'LMConfig pre_norm=True (the lifting-postnorm weights)',
    expected: { block: 'pre-norm', mixOutput: 'gated-geometry', mixNorm: false, aggregation: 'mean-then-project', pluckerEps: 1e-6 },
    ids: idsOf(LIFTING, 40),
    async write(dir) {
      const config = { ...LIFTING_CONFIG, pre_norm: true };
      const withBiases = join(dir, 'with-biases');
      const biasFree = join(dir, 'bias-free');
      for (const d of [withBiases, biasFree]) mkdirSync(d);
      copyFileSync(join(LIFTING, 'checkpoints', 'model.pt'), join(withBiases, 'model.pt'));
      writeFileSync(join(withBiases, 'config.json'), JSON.stringify(config));
      return { original: join(withBiases, 'model.pt'), biasFree: await biasFreeBeside(join(LIFTING, 'checkpoints', 'model.pt'), config, biasFree) };
    },
  },
  {
    name: 'alphaXiv (synthetic, bias-free only)',
    expected: { block: 'pre-norm', mixOutput: 'blend', mixNorm: true, aggregation: 'project-then-mean', pluckerEps: 1e-8 },
    ids: [3, 17, 8, 42, 5, 5, 11, 30, 2, 49],
    async write(dir) {
      const dims = { vocabSize: 50, modelDim: 16, layers: 2, reducedDim: 5, ffDim: 24, maxPositions: 12 };
      const tensors = randomGrassmannWeights(dims, 3).map((t) => ({
        ...t,
        data: /\.bias$/.test(t.name) ? new Float32Array(t.data.length) : (t.data as Float32Array).map((v) => (/embedding|W_red|ffn/.test(t.name) ? v * 20 : v)),
      }));
      const path = join(dir, 'model.safetensors');
      await writeSafetensors(path, tensors);
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ window_sizes: [1, 2, 2, 4] }));
      return { original: null, biasFree: path };
    },
  },
];

before(async () => {
  await tf.setBackend('cpu');
});

// ---------------------------------------------------------------------------------------------
// The linearised model (see (b) in the header): forward kernels of src/model/layout.ts with the
// rules' constants frozen at the recorded point.
// ---------------------------------------------------------------------------------------------

/** Which of MIX_OUTPUT_KERNELS.terms ([h-term, g-term]) is a product with the gate (the test's own statement). */
const GATED_TERMS: Record<MixOutput, [boolean, boolean]> = {
  blend: [true, true],
  additive: [false, true],
  'gated-geometry': [false, true],
};

interface Identity {
  /** F_lin(x0): the sum of the target logits. */
  value: number;
  /** Per position: sum_i tok_ti G_ti and sum_i pos_ti G_ti. */
  tokens: number[];
  positions: number[];
  layers: { input: number[]; ffnNeurons: number[]; reducedDims: number[]; gate: number[] }[];
}

/**
 * x0 * dF_lin/dx0 and the per-unit products (see (b) in the header). `order` only changes how a / a0
 * is evaluated (a / a0, or a * (1 / a0)): the same function, rounded differently in float32.
 */
function linearisedGradientXInput(model: GrassmannModel, ids: number[], policy: GatePolicy, order: 'ratio' | 'reciprocal' = 'ratio'): Identity {
  const spec = model.spec;
  const w = model.internals();
  const ops = createBlockOps(spec, 'composite');
  const T = ids.length;
  const d = spec.dims.modelDim;
  const L = spec.dims.layers;
  const lnEps = spec.layerNormEps;
  const layout = BLOCK_LAYOUT_KERNELS[spec.variant.block];
  const mix = MIX_OUTPUT_KERNELS[spec.variant.mixOutput];
  const gated = GATED_TERMS[spec.variant.mixOutput];
  const { positions, tokens } = targetPairs(ids, { kind: 'next-token' });
  /** A constant copy (no gradient flows through it): the value at the recorded point. */
  const frozen = (t: tf.Tensor): tf.Tensor => tf.tensor(t.dataSync() as Float32Array, t.shape, 'float32');
  const frozenNorm = (weight: tf.Tensor1D, bias: tf.Tensor1D): BoundNorm => (v) => {
    const { mean, variance } = tf.moments(v, 1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(v, mean), frozen(tf.rsqrt(tf.add(variance, lnEps)))), weight), bias) as tf.Tensor2D;
  };
  /** g with the Plücker product split in halves around z0 and the normaliser frozen. */
  const geometry = (layer: number, z: tf.Tensor2D): tf.Tensor2D => {
    const shape = spec.layerShapes[layer];
    const r = shape.reducedDim;
    const plan = planOffsets(shape.windowSizes, T, spec.variant.pairing);
    const K = plan.offsets.length;
    const z0 = frozen(z) as tf.Tensor2D;
    const z0Data = z0.dataSync() as Float32Array;
    const onOuter = w.layers[layer].plucker.onOuter;
    const wOuter = tf.slice(onOuter, [0, 0], [r * r, d]);
    const bias = tf.slice(onOuter, [r * r, 0], [1, d]);
    const outer = (a: tf.Tensor, b: tf.Tensor, n: number): tf.Tensor => tf.reshape(tf.mul(tf.reshape(a, [n, r, 1]), tf.reshape(b, [n, 1, r])), [n, r * r]);
    const parts: tf.Tensor[] = [];
    plan.offsets.forEach((offset, k) => {
      const planes = planesAtOffset(z0Data, T, offset, planeLayoutOf(spec, layer));
      const n = planes.count;
      if (n === 0) return;
      const partner = spec.variant.pairing === 'previous' ? planes.first - offset : planes.first + offset;
      const coefficient = Float32Array.from({ length: n }, (_, row) => plan.weights[(planes.first + row) * K + k] / Math.max(planes.norms[row], spec.variant.pluckerEps));
      const rows = (t: tf.Tensor2D, first: number) => tf.slice(t, [first, 0], [n, r]);
      const half = tf.mul(tf.add(outer(rows(z, planes.first), rows(z0, partner), n), outer(rows(z0, planes.first), rows(z, partner), n)), 0.5);
      const term = tf.matMul(tf.mul(half, tf.tensor2d(coefficient, [n, 1])) as tf.Tensor2D, wOuter);
      parts.push(tf.pad(term, [[planes.first, T - planes.first - n], [0, 0]]));
    });
    const biasWeight = tf.tensor2d(AGGREGATION_KERNELS[spec.variant.aggregation].biasWeight(plan, T), [T, 1]);
    return tf.add(parts.length > 0 ? tf.addN(parts) : tf.zeros([T, d]), tf.mul(biasWeight, bias)) as tf.Tensor2D;
  };

  const heads = rowsAt(tf.transpose(tf.gather(w.lmHeadT, tf.tensor1d(tokens, 'int32'), 1)) as tf.Tensor2D, positions, T);
  const x0 = tf.add(tf.gather(w.tokenEmbedding, tf.tensor1d(ids, 'int32')), tf.slice(w.positionEmbedding, [0, 0], [T, d])) as tf.Tensor2D;
  const probes: tf.Tensor2D[] = [];
  // Per block: the block input, z, the activation, and (half only: under signal-take-all alpha is a
  // constant and F_lin does not depend on a) the gate's pre-activation a.
  const perBlock = policy === 'half' ? 4 : 3;
  spec.layerShapes.forEach((shape) => {
    probes.push(tf.zeros([T, d]), tf.zeros([T, shape.reducedDim]), tf.zeros([T, shape.ffDim]));
    if (policy === 'half') probes.push(tf.zeros([T, d]));
  });
  const kept: { input: tf.Tensor[]; z: tf.Tensor[]; act: tf.Tensor[]; a: tf.Tensor[] } = { input: [], z: [], act: [], a: [] };
  let value = 0;
  const objective = (x: tf.Tensor, ...p: tf.Tensor[]): tf.Scalar => {
    let stream = x as tf.Tensor2D;
    w.layers.forEach((lw, l) => {
      kept.input[l] = tf.keep(frozen(stream)); // outlives tf.grads' scope
      stream = tf.add(stream, p[perBlock * l]) as tf.Tensor2D;
      const norm1 = frozenNorm(lw.norm1Weight, lw.norm1Bias);
      const norm2 = frozenNorm(lw.norm2Weight, lw.norm2Bias);
      const h = layout.mixInput(stream, norm1);
      const zRaw = tf.add(tf.matMul(h, lw.reduceT), lw.reduceBias) as tf.Tensor2D;
      kept.z[l] = tf.keep(frozen(zRaw)); // outlives tf.grads' scope
      const z = tf.add(zRaw, p[perBlock * l + 1]) as tf.Tensor2D;
      const g = geometry(l, z);
      const aRaw = tf.add(tf.matMul(tf.concat([h, g], 1), lw.gateT), lw.gateBias) as tf.Tensor2D;
      kept.a[l] = tf.keep(frozen(aRaw)); // outlives tf.grads' scope
      const a = policy === 'half' ? (tf.add(aRaw, p[perBlock * l + 3]) as tf.Tensor2D) : aRaw;
      const alpha0 = frozen(tf.sigmoid(a)) as tf.Tensor2D;
      const live = mix.terms(h, g, alpha0);
      let terms: (tf.Tensor2D | null)[] = live;
      if (policy === 'half') {
        const still = mix.terms(frozen(h) as tf.Tensor2D, frozen(g) as tf.Tensor2D, alpha0);
        const throughGate = order === 'ratio' ? tf.div(a, frozen(a)) : tf.mul(a, tf.div(1, frozen(a)));
        terms = live.map((t, i) => (t && gated[i] ? (tf.add(tf.mul(t, 0.5), tf.mul(tf.mul(still[i]!, throughGate), 0.5)) as tf.Tensor2D) : t));
      }
      const present = terms.filter((t): t is tf.Tensor2D => t !== null);
      let mixed = present.length === 1 ? present[0] : (tf.addN(present) as tf.Tensor2D);
      if (spec.variant.mixNorm) mixed = frozenNorm(lw.mixNormWeight!, lw.mixNormBias!)(mixed);
      stream = layout.afterMix(stream, mixed, norm1).out;
      const pre = tf.add(tf.matMul(layout.ffnInput(stream, norm2), lw.ffnInT), lw.ffnInBias) as tf.Tensor2D;
      const actRaw = tf.mul(pre, frozen(tf.divNoNan(ops.activation(pre), pre))) as tf.Tensor2D;
      kept.act[l] = tf.keep(frozen(actRaw)); // outlives tf.grads' scope
      const act = tf.add(actRaw, p[perBlock * l + 2]) as tf.Tensor2D;
      stream = layout.afterFfn(stream, tf.add(tf.matMul(act, lw.ffnOutT), lw.ffnOutBias) as tf.Tensor2D, norm2).out;
    });
    const F = tf.sum(tf.mul(frozenNorm(w.finalNormWeight, w.finalNormBias)(stream), heads)) as tf.Scalar;
    value = F.dataSync()[0];
    return F;
  };
  const grads = tf.grads(objective)([x0, ...probes]);
  /** sum over the rows (axis 0) or the columns (axis 1) of a * G. */
  const weighted = (a: tf.Tensor, G: tf.Tensor, axis: 0 | 1): number[] => Array.from(tf.sum(tf.mul(a, G), axis).dataSync());
  const tokenRows = tf.gather(w.tokenEmbedding, tf.tensor1d(ids, 'int32'));
  const positionRows = tf.slice(w.positionEmbedding, [0, 0], [T, d]);
  const out: Identity = {
    value,
    tokens: weighted(tokenRows, grads[0], 1),
    positions: weighted(positionRows, grads[0], 1),
    layers: Array.from({ length: L }, (_, l) => ({
      input: weighted(kept.input[l], grads[1 + perBlock * l], 1),
      reducedDims: weighted(kept.z[l], grads[1 + perBlock * l + 1], 0),
      ffnNeurons: weighted(kept.act[l], grads[1 + perBlock * l + 2], 0),
      gate: policy === 'half' ? weighted(kept.a[l], grads[1 + perBlock * l + 3], 0) : new Array<number>(d).fill(0),
    })),
  };
  for (const t of [...kept.input, ...kept.z, ...kept.act, ...kept.a]) t.dispose();
  return out;
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

const zeroEps = (choice: Partial<RelevanceOptions>): RelevanceOptions => ({ ...DEFAULT_RELEVANCE_OPTIONS, ...choice, epsilon: 0 });

for (const c of CASES) {
  describe(`LRP on ${c.name}`, () => {
    let dir: string;
    let paths: { original: string | null; biasFree: string };
    let biasFree: Loaded;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gl-lrp-layouts-'));
      paths = await c.write(dir);
      biasFree = await load(paths.biasFree, c.expected);
    });
    after(async () => {
      await biasFree.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const rules: Array<Pick<RelevanceOptions, 'rule' | 'gate'>> = [
      { rule: 'epsilon', gate: 'signal-take-all' },
      { rule: 'epsilon', gate: 'half' },
      { rule: 'zplus', gate: 'signal-take-all' },
      { rule: 'gamma', gate: 'half' },
    ];
    for (const choice of rules) {
      test(`(a) a bias-free copy conserves relevance at every stage: ${choice.rule}, ${choice.gate}, eps 0`, async () => {
        const result = await relevanceOf(biasFree.model, c.ids, { kind: 'next-token' }, zeroEps(choice));
        const leak = (s: { upper: number; lower: number }): number => Math.abs(s.lower - s.upper) / Math.abs(s.upper);
        const worst = Math.max(...result.conservation.map(leak));
        const totalLeak = Math.abs(result.accounting.input - result.start) / Math.abs(result.start);
        console.log(`[${c.name}] bias-free ${choice.rule}/${choice.gate}: worst stage |leaving - entering| / |entering| ${worst.toExponential(2)}, whole model ${totalLeak.toExponential(2)}`);
        for (const s of result.conservation) {
          assert.ok(leak(s) <= CONSERVATION_TOLERANCE, `${s.stage}: ${s.upper} -> ${s.lower} (${leak(s)})`);
          assert.equal(s.bias, 0, `${s.stage}: a bias-free copy has no bias to absorb relevance (${JSON.stringify(s.biases)})`);
          assert.equal(s.epsilon, 0, `${s.stage}: eps 0 absorbs nothing`);
        }
        assert.ok(totalLeak <= CONSERVATION_TOLERANCE, `total ${totalLeak}`);
        for (const layer of result.layers) {
          assert.equal(layer.pluckerBias, 0, 'no b_plu to absorb any');
          const offsets = total(layer.offsets.map((o) => o.relevance));
          const pairs = total(layer.pairs);
          const z = total(layer.reducedDims);
          const scale = Math.max(1e-3, Math.abs(layer.output));
          assert.ok(Math.abs(offsets - pairs) <= CONSERVATION_TOLERANCE * scale, `layer ${layer.layer}: offsets ${offsets} pairs ${pairs}`);
          assert.ok(Math.abs(z - pairs) <= CONSERVATION_TOLERANCE * scale, `layer ${layer.layer}: z ${z} pairs ${pairs}`);
          if (choice.gate === 'signal-take-all') assert.ok(layer.gate.every((v) => v === 0));
        }
      });
    }

    for (const gate of ['signal-take-all', 'half'] as const) {
      test(`(b) LRP-0 equals gradient x input of the linearised model: ${gate}`, async () => {
        const result = await relevanceOf(biasFree.model, c.ids, { kind: 'next-token' }, zeroEps({ rule: 'epsilon', gate }));
        let expected!: Identity;
        let reordered!: Identity;
        tf.tidy(() => {
          expected = linearisedGradientXInput(biasFree.model, c.ids, gate);
          if (gate === 'half') reordered = linearisedGradientXInput(biasFree.model, c.ids, gate, 'reciprocal');
        });
        assert.ok(Math.abs(expected.value - result.start) <= 1e-4 * Math.abs(result.start), `F_lin(x0) ${expected.value} vs the logits ${result.start}`);
        const compare = (of: Identity, to: Identity, lrp: boolean): Record<string, number> => {
          const errors: Record<string, number> = {
            tokens: maxRelDiff(lrp ? result.tokens : of.tokens, to.tokens),
            positions: maxRelDiff(lrp ? result.positionEmbedding : of.positions, to.positions),
          };
          to.layers.forEach((e, l) => {
            const layer = result.layers[l];
            const mine = lrp ? { input: layer.positions, ffnNeurons: layer.ffnNeurons, reducedDims: layer.reducedDims, gate: layer.gate } : of.layers[l];
            errors[`layer ${l} input`] = maxRelDiff(mine.input, e.input);
            errors[`layer ${l} ffn`] = maxRelDiff(mine.ffnNeurons, e.ffnNeurons);
            errors[`layer ${l} z`] = maxRelDiff(mine.reducedDims, e.reducedDims);
            if (gate === 'half') errors[`layer ${l} gate`] = maxRelDiff(mine.gate, e.gate);
          });
          return errors;
        };
        const errors = compare(expected, expected, true);
        if (gate === 'signal-take-all') for (const layer of result.layers) assert.ok(layer.gate.every((v) => v === 0), 'a frozen gate gets nothing');
        // The float32 noise floor of this computation: the same surrogate rounded in another order.
        const floor = gate === 'half' ? Math.max(...Object.values(compare(reordered, expected, false))) : 0;
        const tolerance = Math.max(IDENTITY_TOLERANCE, NOISE_MARGIN * floor);
        const worst = Math.max(...Object.values(errors));
        console.log(`[${c.name}] LRP-0 vs linearised gradient x input (${gate}): worst ${worst.toExponential(2)} (${Object.entries(errors).find(([, v]) => v === worst)![0]}), float32 floor ${floor.toExponential(2)}, tolerance ${tolerance.toExponential(2)}`);
        for (const [what, err] of Object.entries(errors)) assert.ok(err <= tolerance, `${what}: ${err} > ${tolerance}`);
      });
    }

    if (c.name.startsWith('alphaXiv')) return;

    describe('(c) with its biases, default rules', () => {
      let original: Loaded;
      before(async () => {
        original = await load(paths.original!, c.expected);
      });
      after(async () => {
        await original.close();
      });

      test('runs; the conservation report is finite, chains, and accounts for b_plu', async () => {
        const result: RelevanceResult = await relevanceOf(original.model, c.ids, { kind: 'next-token' });
        const forward = await original.model.forward(c.ids);
        const V = original.model.spec.dims.vocabSize;
        let logits = 0;
        for (let t = 0; t + 1 < c.ids.length; t++) logits += forward.logits[t * V + c.ids[t + 1]];
        assert.ok(Math.abs(result.start - logits) <= 1e-4 * Math.abs(logits), `${result.start} vs ${logits}`);
        const L = original.model.spec.dims.layers;
        assert.deepEqual(result.conservation.map((s) => s.stage), ['head', ...Array.from({ length: L }, (_, i) => `layer ${L - 1 - i}`), 'embeddings']);
        // entering = leaving + biases + eps at every stage, to float32 rounding (1e-5 of the stage's largest term).
        for (const s of result.conservation) {
          const scale = Math.max(Math.abs(s.upper), Math.abs(s.lower), Math.abs(s.bias), Math.abs(s.epsilon));
          assert.ok(Math.abs(s.upper - s.lower - s.bias - s.epsilon) <= 1e-5 * scale, `${s.stage}: ${JSON.stringify(s)}`);
        }
        for (let i = 1; i < result.conservation.length; i++) assert.equal(result.conservation[i].upper, result.conservation[i - 1].lower);
        const a = result.accounting;
        console.log(`[${c.name}] default rules: start ${a.start.toFixed(4)} = input ${a.input.toFixed(4)} + biases ${a.bias.toFixed(4)} + eps ${a.epsilon.toExponential(2)} + rounding ${a.remainder.toExponential(2)}; per stage biases ${result.conservation.map((s) => `${s.stage} ${s.bias.toFixed(4)}`).join(', ')}`);
        const inside = AGGREGATION_RULES[original.model.spec.variant.aggregation].biasInOffsetTerms;
        for (const layer of result.layers) {
          assert.ok([...layer.ffnNeurons, ...layer.reducedDims, ...layer.pairs, ...layer.gate, ...layer.positions, layer.pluckerBias].every(Number.isFinite));
          const offsets = total(layer.offsets.map((o) => o.relevance));
          const pairs = total(layer.pairs);
          const expected = pairs + (inside ? layer.pluckerBias : 0);
          assert.ok(Math.abs(offsets - expected) <= 1e-4 * Math.max(1e-3, Math.abs(offsets), Math.abs(layer.pluckerBias)), `layer ${layer.layer}: offsets ${offsets}, pairs ${pairs}, b_plu ${layer.pluckerBias}`);
          // mean-then-project: g = b_plu at t = 0 (no partner there), so b_plu absorbs relevance.
          if (!inside) assert.notEqual(layer.pluckerBias, 0);
        }
        assert.ok(result.tokens.every(Number.isFinite) && result.positionEmbedding.every(Number.isFinite));
      });

      test('leaves no tensors behind (every rule path; the model keeps its transposes from the first run)', async () => {
        const ids = c.ids.slice(0, 12);
        const runs: Array<[Partial<RelevanceOptions>, boolean]> = [[{}, false], [{ gate: 'half' }, true], [{ rule: 'gamma', gate: 'half' }, true]];
        for (const [o, perOffset] of runs) await relevanceOf(original.model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, ...o }, { perOffset });
        const before = tf.memory().numTensors;
        for (const [o, perOffset] of runs) await relevanceOf(original.model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, ...o }, { perOffset });
        await targetGradients(original.model, ids);
        assert.equal(tf.memory().numTensors, before);
      });

      test('the report states the layout\'s rules', async () => {
        const result = await relevanceOf(original.model, c.ids.slice(0, 8), { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, gate: 'half' });
        const text = result.rules.join('\n');
        const v = original.model.spec.variant;
        const expectations: Record<string, RegExp[]> = {
          'post-norm-no-mix-residual': [/mixing sub-layer LayerNorm\(m\), m = Mix\(x\), no residual: LayerNorm rule \(σ frozen\), all to m/, /post-norm LayerNorm\(x' \+ FFN\(x'\)\): LayerNorm rule \(σ frozen\), then epsilon across x' and FFN\(x'\)/],
          'post-norm': [/post-norm LayerNorm\(x \+ m\), m = Mix\(x\): LayerNorm rule \(σ frozen\), then epsilon across x and m/],
          'pre-norm': [/mixing sub-layer x \+ m, m = Mix\(LN_a\(x\)\): epsilon across x and m/, /FFN sub-layer x' \+ FFN\(LN_f\(x'\)\)/],
        };
        for (const re of expectations[v.block]) assert.match(text, re);
        if (v.mixOutput === 'gated-geometry') assert.match(text, /mixing output α⊙g: half: half to g, half to the gate/);
        if (v.mixOutput === 'blend') assert.match(text, /epsilon across α⊙h and \(1−α\)⊙g; α⊙h: half: half to h, half to the gate; \(1−α\)⊙g: half: half to g, half to the gate/);
        assert.match(text, new RegExp(`max\\(‖p‖, ${v.pluckerEps}\\)`));
        assert.match(text, v.aggregation === 'mean-then-project' ? /b_plu \(at every position/ : /b_plu's share is counted in each offset's relevance/);
        assert.ok(!text.includes('LayerNorm inside the mixing module'), 'no mixing LayerNorm in these implementations');
      });

      test('the epsilon shortcut over the offsets equals the general path (eps 0, with the biases)', async () => {
        const zero = zeroEps({ rule: 'epsilon' });
        const fast = await relevanceOf(original.model, c.ids, { kind: 'next-token' }, zero);
        const slow = await relevanceOf(original.model, c.ids, { kind: 'next-token' }, zero, { perOffset: true });
        for (let l = 0; l < fast.layers.length; l++) {
          assert.ok(maxRelDiff(fast.layers[l].reducedDims, slow.layers[l].reducedDims) < 1e-4, `layer ${l} z`);
          assert.ok(maxRelDiff(fast.layers[l].pairs, slow.layers[l].pairs) < 1e-4, `layer ${l} pairs`);
          assert.ok(maxRelDiff(fast.layers[l].offsets.map((o) => o.relevance), slow.layers[l].offsets.map((o) => o.relevance)) < 1e-4, `layer ${l} offsets`);
          const bias = fast.layers[l].pluckerBias;
          assert.ok(Math.abs(bias - slow.layers[l].pluckerBias) <= 1e-4 * Math.max(1e-3, Math.abs(bias)), `layer ${l} b_plu ${bias} vs ${slow.layers[l].pluckerBias}`);
        }
        assert.ok(maxRelDiff(fast.tokens, slow.tokens) < 1e-4);
      });

      test('the gradient criteria run (probes at z, g and the activation; the head LayerNorm; the model\'s Plücker eps)', async () => {
        const gradients = await targetGradients(original.model, c.ids);
        assert.equal(gradients.length, original.model.spec.dims.layers);
        for (const g of gradients) {
          assert.ok([g.dAct, g.dz, g.dMask].every((a) => a.every(Number.isFinite)));
          assert.ok(maxAbs(g.dz) > 0 && maxAbs(g.dAct) > 0);
          // 'previous' pairing: no offset has a partner at t = 0.
          for (let k = 0; k < g.offsets.length; k++) assert.equal(g.dMask[k], 0);
        }
      });
    });
  });
}
