/**
 * The pruning criteria (src/pruning/criteria.ts) on the tiny-grassmann fixture: `lrp` ranks by
 * |relevance|, `lrp-signed` by signed relevance; `taylor` is |a dC/da| with C the next-token
 * cross-entropy, `taylor-logit` uses the summed true-token logits.
 *
 * Tolerances: a score recomputed from relevanceOf is the same float64 sum (1e-12 relative); the
 * loss gradient against a central finite difference of the float32 forward pass (step 1e-2):
 * 2e-2 relative (float32 rounding of a loss of ~10^2 over a step of 1e-2).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import type { Checkpoint } from '../../src/checkpoint/types';
import { GrassmannModel } from '../../src/model/grassmann';
import { describeModel } from '../../src/model/spec';
import { normalisePerLayer, scoreUnits } from '../../src/pruning/criteria';
import { selectUnits } from '../../src/pruning/apply';
import { relevanceOf } from '../../src/relevance/lrp';
import { targetGradients } from '../../src/relevance/gradients';
import { DEFAULT_RELEVANCE_OPTIONS } from '../../src/relevance/types';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'reference', 'manifest.json'), 'utf8')) as { cases: { input_ids: number[] }[] };
const samples = manifest.cases.map((c) => c.input_ids.slice(0, 48));

let checkpoint: Checkpoint;
let model: GrassmannModel;
before(async () => {
  await tf.setBackend('cpu');
  checkpoint = await openSafetensors(join(FIXTURE, 'model.safetensors'));
  const described = await describeModel(checkpoint);
  assert.ok(described.recognized);
  model = await GrassmannModel.load(checkpoint, described.spec);
});
after(async () => {
  model.dispose();
  await checkpoint.close();
});

const noWeights = (): Float32Array => {
  throw new Error('lrp and taylor read no weights');
};
const options = { relevance: DEFAULT_RELEVANCE_OPTIONS, seed: 1 };

describe('lrp ranks by |R|, lrp-signed by signed R', () => {
  test('the scores are the relevance per neuron, |.| per sample for lrp, signed for lrp-signed', async () => {
    const absolute = await scoreUnits(model, samples, 'lrp', 'ffn', noWeights, options);
    const signed = await scoreUnits(model, samples, 'lrp-signed', 'ffn', noWeights, options);
    const perSample = [];
    for (const ids of samples) perSample.push(await relevanceOf(model, ids, { kind: 'next-token' }, DEFAULT_RELEVANCE_OPTIONS));
    for (let l = 0; l < absolute.length; l++) {
      for (let k = 0; k < absolute[l].length; k++) {
        const abs = perSample.reduce((a, r) => a + Math.abs(r.layers[l].ffnNeurons[k]), 0);
        const sig = perSample.reduce((a, r) => a + r.layers[l].ffnNeurons[k], 0);
        assert.ok(Math.abs(absolute[l][k] - abs) <= 1e-12 * Math.max(1, abs), `layer ${l} neuron ${k}`);
        assert.ok(Math.abs(signed[l][k] - sig) <= 1e-12 * Math.max(1, Math.abs(sig)), `layer ${l} neuron ${k}`);
      }
    }
  });

  test('where negative relevance exists the two rankings remove different units: |R| keeps the strongly negative ones', async () => {
    const units = model.spec.layerShapes.map((s) => Array.from({ length: s.ffDim }, (_, i) => i));
    const signed = normalisePerLayer(await scoreUnits(model, samples, 'lrp-signed', 'ffn', noWeights, options));
    const absolute = normalisePerLayer(await scoreUnits(model, samples, 'lrp', 'ffn', noWeights, options));
    const all = signed.flatMap((layer) => Array.from(layer));
    const negative = all.filter((v) => v < 0);
    console.log(`negative signed relevance: ${negative.length} of ${all.length} FFN neurons (${((100 * negative.length) / all.length).toFixed(1)}%)`);
    assert.ok(negative.length > 0, 'the fixture has neurons with negative relevance');
    const rate = 0.3;
    const bySigned = selectUnits(units, signed, rate, 'global', 'ffn');
    const byAbs = selectUnits(units, absolute, rate, 'global', 'ffn');
    const key = (u: { layer: number; index: number }): string => `${u.layer}:${u.index}`;
    const absSet = new Set(byAbs.map(key));
    const onlySigned = bySigned.filter((u) => !absSet.has(key(u)));
    assert.ok(onlySigned.length > 0, 'the rankings differ');
    // Signed ranking removes the most negative neuron; |R| keeps it (its |R| is large).
    const first = bySigned.reduce((a, b) => (b.score < a.score ? b : a));
    assert.ok(first.score < 0, `signed ranking removes negative relevance (${first.score})`);
    assert.equal(first.score, Math.min(...all), 'the most negative neuron is among the removed');
    assert.ok(!absSet.has(key(first)), '|R| ranking keeps the most negative neuron');
    const absScores = absolute.flatMap((layer) => Array.from(layer)).sort((a, b) => a - b);
    const median = absScores[Math.floor(absScores.length / 2)];
    assert.ok(absolute[first.layer][first.index] > median, `its |R| share ${absolute[first.layer][first.index]} is above the median ${median}`);
    // Every unit |R| removes has a share no larger than any it keeps, per the global ranking.
    const maxRemoved = Math.max(...byAbs.map((u) => u.score));
    const kept = units.flatMap((u, l) => u.filter((i) => !absSet.has(`${l}:${i}`)).map((i) => absolute[l][i]));
    assert.ok(kept.every((v) => v >= maxRemoved));
  });
});

describe('taylor uses the loss gradient', () => {
  /** Next-token cross-entropy of `ids` with `delta` added to the FFN activation (t, k) of `layer`. */
  function lossWith(ids: readonly number[], layer: number, t: number, k: number, delta: number): number {
    return tf.tidy(() => {
      const w = model.internals();
      const f = model.spec.layerShapes[layer].ffDim;
      const hidden = model.trace(ids, (l, stage, value) => {
        if (l !== layer || stage !== 'ffn_act') return undefined;
        const bump = tf.buffer([ids.length, f], 'float32');
        bump.set(delta, t, k);
        return tf.add(value, bump.toTensor());
      }, 'composite');
      const { mean, variance } = tf.moments(hidden, 1, true);
      const y = tf.add(tf.mul(tf.mul(tf.sub(hidden, mean), tf.rsqrt(tf.add(variance, model.spec.layerNormEps))), w.finalNormWeight), w.finalNormBias);
      const logProbs = tf.logSoftmax(tf.matMul(y, w.lmHeadT)).arraySync() as number[][];
      let loss = 0;
      for (let p = 0; p + 1 < ids.length; p++) loss -= logProbs[p][ids[p + 1]];
      return loss;
    });
  }

  test('dC/da of the loss objective matches a central finite difference; the logit objective is another gradient', async () => {
    const ids = samples[0].slice(0, 24);
    const loss = await targetGradients(model, ids, 'loss');
    const logit = await targetGradients(model, ids, 'logit');
    const f = model.spec.layerShapes[1].ffDim;
    // The largest loss gradients of layer 1 (well above float32 noise).
    const candidates = Array.from(loss[1].dAct, (v, i) => ({ v, i })).sort((a, b) => Math.abs(b.v) - Math.abs(a.v)).slice(0, 3);
    for (const { v, i } of candidates) {
      const t = Math.floor(i / f);
      const k = i % f;
      const h = 1e-2;
      const numeric = (lossWith(ids, 1, t, k, h) - lossWith(ids, 1, t, k, -h)) / (2 * h);
      assert.ok(Math.abs(numeric - v) <= 2e-2 * Math.abs(v), `position ${t}, neuron ${k}: autodiff ${v}, finite difference ${numeric}`);
      assert.ok(Math.abs(logit[1].dAct[i] - v) > 2e-2 * Math.abs(v), 'the logit objective differs');
    }
  });

  test('taylor and taylor-logit scores are |sum_t a dC/da| per sample of their objective', async () => {
    const taylor = await scoreUnits(model, samples.slice(0, 2), 'taylor', 'ffn', noWeights, options);
    const taylorLogit = await scoreUnits(model, samples.slice(0, 2), 'taylor-logit', 'ffn', noWeights, options);
    for (const [scores, objective] of [[taylor, 'loss'], [taylorLogit, 'logit']] as const) {
      const expected = model.spec.layerShapes.map((s) => new Float64Array(s.ffDim));
      for (const ids of samples.slice(0, 2)) {
        (await targetGradients(model, ids, objective)).forEach((g, l) => {
          const f = model.spec.layerShapes[l].ffDim;
          for (let k = 0; k < f; k++) {
            let sum = 0;
            for (let t = 0; t < ids.length; t++) sum += g.act[t * f + k] * g.dAct[t * f + k];
            expected[l][k] += Math.abs(sum);
          }
        });
      }
      scores.forEach((layer, l) => layer.forEach((v, k) => assert.ok(Math.abs(v - expected[l][k]) <= 1e-9 * Math.max(1e-6, expected[l][k]), `${objective} layer ${l} neuron ${k}`)));
    }
    assert.notDeepEqual(taylor, taylorLogit);
  });
});
