/**
 * LRP through GrassmannGPT (src/relevance/lrp.ts).
 *
 * Tolerances: float32 arithmetic on the backend, float64 on the host.
 *  - exact conservation (bias-free model, eps 0): every stage's relative leak <= 1e-4;
 *  - LRP-0 against gradient x input, and the epsilon shortcut against the per-offset path:
 *    1e-4 relative to the largest magnitude;
 *  - the fixture's account: what biases and eps absorb is at most 0.1 of the start at each stage
 *    and over the whole model under the default rules, and the start relevance equals the logits
 *    (the exact decomposition is tested in ./relevanceAccounting.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { writeSafetensors } from '../../src/checkpoint/safetensorsWriter';
import type { Checkpoint } from '../../src/checkpoint/types';
import { GrassmannModel } from '../../src/model/grassmann';
import { describeModel } from '../../src/model/spec';
import { randomGrassmannWeights, seededRandom } from '../../src/model/synthetic';
import { halfRule, linearRule, relevanceOf } from '../../src/relevance/lrp';
import { DEFAULT_RELEVANCE_OPTIONS, type RelevanceOptions } from '../../src/relevance/types';
import { planesAtOffset } from '../../src/model/plucker';
import { rowMajorPairs } from '../../src/model/spec';
import { maxAbs, maxRelDiff } from '../support/numeric';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'reference', 'manifest.json'), 'utf8')) as { cases: { input_ids: number[] }[] };


async function loadModel(path: string): Promise<{ checkpoint: Checkpoint; model: GrassmannModel }> {
  const checkpoint = await openSafetensors(path);
  const described = await describeModel(checkpoint);
  assert.ok(described.recognized, described.recognized ? '' : described.problems.join('; '));
  return { checkpoint, model: await GrassmannModel.load(checkpoint, described.spec) };
}

before(async () => {
  await tf.setBackend('cpu');
});

describe('LRP on the fixture (tiny-grassmann)', () => {
  let checkpoint: Checkpoint;
  let model: GrassmannModel;
  const ids = manifest.cases[0].input_ids.slice(0, 48);
  before(async () => ({ checkpoint, model } = await loadModel(join(FIXTURE, 'model.safetensors'))));
  after(async () => {
    model.dispose();
    await checkpoint.close();
  });

  test('starts from the true next-token logits; biases and eps absorb a bounded part at every stage', async () => {
    const result = await relevanceOf(model, ids, { kind: 'next-token' });
    const forward = await model.forward(ids);
    const V = model.spec.dims.vocabSize;
    let logitSum = 0;
    for (let t = 0; t + 1 < ids.length; t++) logitSum += forward.logits[t * V + ids[t + 1]];
    assert.ok(Math.abs(result.start - logitSum) <= 1e-4 * Math.abs(logitSum), `${result.start} vs ${logitSum}`);
    assert.deepEqual(result.conservation.map((s) => s.stage), ['head', 'layer 3', 'layer 2', 'layer 1', 'layer 0', 'embeddings']);
    for (const s of result.conservation) assert.ok(Math.abs(s.upper - s.lower) <= 0.1 * Math.abs(s.upper), `${s.stage}: ${s.upper} -> ${s.lower}`);
    assert.ok(Math.abs(result.accounting.start - result.accounting.input) <= 0.1 * Math.abs(result.start), JSON.stringify(result.accounting));
    // The steps chain: each stage's lower sum is the next stage's upper sum.
    for (let i = 1; i < result.conservation.length; i++) assert.equal(result.conservation[i].upper, result.conservation[i - 1].lower);
    // Per-unit outputs add up to what the stage boundaries say.
    const embedding = result.tokens.reduce((a, b) => a + b, 0) + result.positionEmbedding.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(embedding - result.conservation[5].lower) <= 1e-4 * Math.abs(embedding));
    for (const layer of result.layers) {
      const positions = layer.positions.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(positions - layer.input) <= 1e-4 * Math.abs(layer.input));
      assert.equal(layer.ffnNeurons.length, 256);
      assert.equal(layer.reducedDims.length, 16);
      assert.equal(layer.pairs.length, 120);
      assert.deepEqual(layer.offsets.map((o) => o.offset), [1, 2, 4, 8, 12, 16]);
      assert.ok(Math.abs(layer.offsets.reduce((a, o) => a + Math.abs(o.share), 0) - 1) < 1e-9);
      assert.ok(layer.gate.every((v) => v === 0), 'signal-take-all gives the gate nothing');
    }
  });

  test('one target logit: the start is that logit, and only positions up to it get relevance', async () => {
    const position = 20;
    const tokenId = ids[21];
    const result = await relevanceOf(model, ids, { kind: 'token', position, tokenId });
    const forward = await model.forward(ids);
    const logit = forward.logits[position * model.spec.dims.vocabSize + tokenId];
    assert.ok(Math.abs(result.start - logit) <= 1e-4 * Math.abs(logit));
    // Causal model: tokens after the target position cannot matter.
    for (let t = position + 1; t < ids.length; t++) assert.equal(result.tokens[t], 0);
    assert.ok(result.tokens.slice(0, position + 1).some((v) => v !== 0));
  });

  test('the epsilon shortcut over the offsets equals the per-offset path', async () => {
    // With eps > 0 the per-offset path stabilises twice (the mean, then W_plu per offset), so the
    // two agree only to ~eps; with eps = 0 they are the same arithmetic in another order.
    const zero = { ...DEFAULT_RELEVANCE_OPTIONS, epsilon: 0 };
    const fast = await relevanceOf(model, ids, { kind: 'next-token' }, zero);
    const slow = await relevanceOf(model, ids, { kind: 'next-token' }, zero, { perOffset: true });
    for (let l = 0; l < fast.layers.length; l++) {
      assert.ok(maxRelDiff(fast.layers[l].reducedDims, slow.layers[l].reducedDims) < 1e-4, `layer ${l} z`);
      assert.ok(maxRelDiff(fast.layers[l].pairs, slow.layers[l].pairs) < 1e-4, `layer ${l} pairs`);
      assert.ok(maxRelDiff(fast.layers[l].offsets.map((o) => o.relevance), slow.layers[l].offsets.map((o) => o.relevance)) < 1e-4, `layer ${l} offsets`);
    }
    assert.ok(maxRelDiff(fast.tokens, slow.tokens) < 1e-4);
  });

  test('half gate policy routes relevance through the gate; zplus and gamma stay bounded', async () => {
    const half = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, rule: 'gamma', gate: 'half' });
    assert.ok(half.layers.some((l) => l.gate.some((v) => v !== 0)));
    for (const rule of ['zplus', 'gamma'] as const) {
      const result = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, rule });
      const a = result.accounting;
      assert.ok(Math.abs(a.start - a.input) <= 0.1 * Math.abs(a.start), `${rule}: ${JSON.stringify(a)}`);
    }
  });

  test('the model keeps the transposes LRP multiplies by: exact, made once, alive after tf.tidy, freed with the model', async () => {
    const { checkpoint: own, model: fresh } = await loadModel(join(FIXTURE, 'model.safetensors'));
    const before = tf.memory().numTensors;
    const w = fresh.internals().layers[0];
    const P = fresh.spec.layerShapes[0].pairCount;
    const W = tf.tidy(() => fresh.transposed(w.ffnInT));
    const Wplu = tf.tidy(() => fresh.transposed(w.plucker.onPairs, P));
    assert.equal(tf.tidy(() => fresh.transposed(w.ffnInT)), W, 'made once');
    assert.equal(tf.memory().numTensors, before + 2);
    assert.deepEqual(W.shape, [w.ffnInT.shape[1], w.ffnInT.shape[0]]);
    assert.deepEqual(Wplu.shape, [w.plucker.onPairs.shape[1], P]);
    const [wT, values] = [w.ffnInT.arraySync(), W.arraySync()];
    for (let i = 0; i < wT.length; i++) for (let j = 0; j < wT[0].length; j++) assert.equal(values[j][i], wT[i][j]);
    const [pairs, plu] = [w.plucker.onPairs.arraySync(), Wplu.arraySync()];
    for (let q = 0; q < P; q++) for (let o = 0; o < pairs[0].length; o++) assert.equal(plu[o][q], pairs[q][o]);
    const held = fresh.internals();
    fresh.dispose();
    assert.ok(W.isDisposed && Wplu.isDisposed && held.tokenEmbedding.isDisposed);
    await own.close();
  });
});

describe('LRP conserves relevance exactly on a bias-free model', () => {
  const dims = { vocabSize: 50, modelDim: 16, layers: 2, reducedDim: 5, ffDim: 24, maxPositions: 12 };
  let dir: string;
  let checkpoint: Checkpoint;
  let model: GrassmannModel;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gl-lrp-'));
    const tensors = randomGrassmannWeights(dims, 3).map((t) => ({
      ...t,
      data: /\.bias$/.test(t.name) ? new Float32Array(t.data.length) : (t.data as Float32Array).map((v) => (/embedding|W_red|ffn/.test(t.name) ? v * 20 : v)),
    }));
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ window_sizes: [1, 2, 2, 4] }));
    ({ checkpoint, model } = await loadModel(join(dir, 'model.safetensors')));
  });
  after(async () => {
    model.dispose();
    await checkpoint.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ids = [3, 17, 8, 42, 5, 5, 11, 30, 2, 49];
  const rules: Array<Pick<RelevanceOptions, 'rule' | 'gate'>> = [
    { rule: 'epsilon', gate: 'signal-take-all' },
    { rule: 'zplus', gate: 'signal-take-all' },
    { rule: 'gamma', gate: 'signal-take-all' },
    { rule: 'gamma', gate: 'half' },
  ];
  for (const choice of rules) {
    test(`${choice.rule}, ${choice.gate}`, async () => {
      const result = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, ...choice, epsilon: 0 });
      for (const s of result.conservation) assert.ok(Math.abs(s.lower - s.upper) <= 1e-4 * Math.abs(s.upper), `${s.stage}: ${s.upper} -> ${s.lower}`);
      assert.ok(Math.abs(result.accounting.input - result.start) <= 1e-4 * Math.abs(result.start), `total ${JSON.stringify(result.accounting)}`);
      // Offsets' relevance adds up to the pairs' (no W_plu bias to absorb any).
      for (const layer of result.layers) {
        const offsets = layer.offsets.reduce((a, o) => a + o.relevance, 0);
        const pairs = layer.pairs.reduce((a, b) => a + b, 0);
        const z = layer.reducedDims.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(offsets - pairs) <= 1e-4 * Math.max(1, Math.abs(offsets)), `offsets ${offsets} pairs ${pairs}`);
        // The half rule hands the pairs' relevance to z whole.
        assert.ok(Math.abs(z - pairs) <= 1e-4 * Math.max(1, Math.abs(pairs)), `z ${z} pairs ${pairs}`);
      }
    });
  }
});

describe('LRP-0 equals gradient x input where it must', () => {
  test('a network of linear maps and residual sums (no normalisation, gate or product)', () => {
    const rand = seededRandom(11);
    const normal = (n: number): Float32Array => Float32Array.from({ length: n }, () => (rand() - 0.5) * 2);
    const zero: RelevanceOptions = { ...DEFAULT_RELEVANCE_OPTIONS, epsilon: 0 };
    tf.tidy(() => {
      const x = tf.tensor2d(normal(6 * 8), [6, 8]);
      const w1 = tf.tensor2d(normal(8 * 12), [8, 12]);
      const b1 = tf.tensor1d(normal(12));
      const w2 = tf.tensor2d(normal(12 * 8), [12, 8]);
      const b2 = tf.tensor1d(normal(8));
      const c = tf.tensor2d(normal(6 * 8), [6, 8]); // the output weights: f = sum(c * out)
      const net = (input: tf.Tensor2D) => {
        const h = tf.add(tf.matMul(input, w1), b1) as tf.Tensor2D;
        const y = tf.add(tf.matMul(h, w2), b2) as tf.Tensor2D;
        return { h, y, out: tf.add(input, y) as tf.Tensor2D };
      };
      const { h, y, out } = net(x);
      const grad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(c, net(input as tf.Tensor2D).out)))(x);
      // LRP-0 backwards from R_out = out * c (the output's own gradient x input).
      const Rout = tf.mul(out, c) as tf.Tensor2D;
      const Rskip = tf.mul(x, tf.divNoNan(Rout, out)) as tf.Tensor2D;
      const Ry = tf.mul(y, tf.divNoNan(Rout, out)) as tf.Tensor2D;
      const Rh = linearRule(h, w2, b2, y, Ry, zero);
      const Rx = tf.add(Rskip, linearRule(x, w1, b1, h, Rh, zero));
      const expected = tf.mul(x, grad).dataSync();
      assert.ok(maxRelDiff(Rx.dataSync(), expected) < 1e-4, `${maxRelDiff(Rx.dataSync(), expected)}`);
    });
  });

  test('the Plücker product: the half rule gives 1/2 z * dF/dz of F = sum c . p (Euler: F is quadratic in z)', () => {
    const r = 5;
    const T = 7;
    const offset = 2;
    const rand = seededRandom(5);
    const z = Float32Array.from({ length: T * r }, () => rand() * 2 - 1);
    const pairs = rowMajorPairs(r);
    const P = pairs.first.length;
    const coefficients = Float64Array.from({ length: T * P }, () => rand() * 2 - 1);
    const shape = { reducedDim: r, pairCount: P, ffDim: 1, windowSizes: [offset], pairFirst: pairs.first, pairSecond: pairs.second };
    const planes = planesAtOffset(z, T, offset, { reducedDim: r, pairing: 'previous' });
    const R = new Float64Array(T * r);
    halfRule(z, T, r, shape, 'previous', offset, planes, (row, into) => {
      for (let q = 0; q < P; q++) into[q] = coefficients[row * P + q];
      return true;
    }, R);
    // F(z) = sum_t sum_q c_tq p_q(t): its gradient, by finite differences of a quadratic (exact
    // up to rounding with a central difference).
    const F = (values: Float64Array): number => {
      let total = 0;
      for (let t = offset; t < T; t++) {
        for (let q = 0; q < P; q++) {
          const i = pairs.first[q];
          const j = pairs.second[q];
          const s = t - offset;
          total += coefficients[(t - offset) * P + q] * (values[t * r + i] * values[s * r + j] - values[t * r + j] * values[s * r + i]);
        }
      }
      return total;
    };
    const base = Float64Array.from(z);
    const expected = new Float64Array(T * r);
    for (let k = 0; k < T * r; k++) {
      const up = Float64Array.from(base);
      const down = Float64Array.from(base);
      up[k] += 1e-3;
      down[k] -= 1e-3;
      expected[k] = 0.5 * base[k] * ((F(up) - F(down)) / 2e-3);
    }
    assert.ok(maxRelDiff(R, expected) < 1e-6, `${maxRelDiff(R, expected)}`);
    // And the relevance it hands out is F itself (conservation).
    const total = R.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - F(base)) < 1e-9 * Math.max(1, Math.abs(F(base))));
  });
});
