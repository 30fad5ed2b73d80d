/**
 * The Plücker eps of each implementation (p_hat = p / max(||p||, eps): 1e-8 in the alphaXiv
 * reproduction and GrassLM, 1e-6 in the LMConfig reproduction) on a plane whose area lies
 * between the two: z_0 = e_0, z_1 = e_0 + a e_1 with a = 5e-7; the plane at t = 1 is z_1 ^ z_0, so
 * p_01 = z_1,0 z_0,1 - z_1,1 z_0,0 = -a and ||p|| = a. With eps 1e-8, p_hat_01 = -1; with eps 1e-6,
 * p_hat_01 = -a / 1e-6 = -0.5. Checked in the taps'
 * routine (../../src/model/plucker.ts), the host kernel and the TensorFlow.js ops of g, and in
 * a whole model's g. Tolerance 1e-6 (the float32 rounding of a).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { planesAtOffset } from '../../src/model/plucker';
import { pluckerMeanRows } from '../../src/model/hostKernels';
import { createBlockOps } from '../../src/model/blockOps';
import { DEFAULT_OPTIONS } from '../../src/model/architecture';
import { planOffsets } from '../../src/model/offsets';
import type { GrassmannSpec } from '../../src/model/spec';

const r = 3;
const a = 5e-7;
const z = Float32Array.from([1, 0, 0, 1, a, 0]); // z_0 = e_0, z_1 = e_0 + a e_1   [T=2, r=3]
const expected = (eps: number): number => -Math.fround(a) / Math.max(Math.fround(a), eps);

test('planesAtOffset normalises with the model\'s Plücker eps', () => {
  for (const eps of [1e-8, 1e-6]) {
    const planes = planesAtOffset(z, 2, 1, { reducedDim: r, pairing: 'previous', normFloor: eps });
    assert.equal(planes.count, 1);
    assert.ok(Math.abs(planes.norms[0] - a) < 1e-12, `area ${planes.norms[0]}`);
    assert.ok(Math.abs(planes.coordinates[0] - expected(eps)) < 1e-6, `eps ${eps}: p_hat_01 = ${planes.coordinates[0]}, expected ${expected(eps)}`);
  }
  assert.ok(Math.abs(expected(1e-6) + 0.5) < 1e-6 && Math.abs(expected(1e-8) + 1) < 1e-6);
});

test('the host kernel and the TensorFlow.js ops of g use the Plücker eps (and the aggregation)', async () => {
  await tf.setBackend('cpu');
  const out = new Float32Array(2 * (3 + 1));
  for (const eps of [1e-8, 1e-6]) {
    pluckerMeanRows(z, Float32Array.from([0, 1]), r, { offsets: [1], pairing: 'previous', seqLen: 2, planeEps: eps }, out);
    assert.ok(Math.abs(out[4] - expected(eps)) < 1e-6, `host, eps ${eps}: ${out[4]}`);
    // W_plu = [1 0 0] on the pairs, b_plu = 7: g_1 = p_hat_01 + 7; g_0 = 0 or b_plu (no plane at t = 0).
    for (const aggregation of ['project-then-mean', 'mean-then-project'] as const) {
      const spec = {
        dims: { vocabSize: 4, modelDim: 1, reducedDim: r, pairCount: 3, layers: 1, ffDim: 4, maxPositions: 8 },
        variant: { ...DEFAULT_OPTIONS, pluckerEps: eps, aggregation, tiedLmHead: true },
      } as unknown as GrassmannSpec;
      const weights = {
        onPairs: tf.tensor2d([1, 0, 0, 7], [4, 1]),
        // the antisymmetric layout of the same W_plu: row i*r+j = +w(i,j), row j*r+i = -w(i,j)
        onOuter: tf.tensor2d([0, 1, 0, -1, 0, 0, 0, 0, 0, 7], [10, 1]),
      };
      const plan = planOffsets([1], 2, 'previous');
      for (const kind of ['host', 'composite'] as const) {
        const g = tf.tidy(() => createBlockOps(spec, kind).grassmannFeatures(tf.tensor2d(z, [2, r]), weights, plan, 1, 2));
        const values = await g.data();
        g.dispose();
        const at0 = aggregation === 'mean-then-project' ? 7 : 0;
        assert.ok(Math.abs(values[0] - at0) < 1e-6, `${kind} ${aggregation}: g_0 = ${values[0]}, expected ${at0}`);
        assert.ok(Math.abs(values[1] - (expected(eps) + 7)) < 1e-5, `${kind} ${aggregation} eps ${eps}: g_1 = ${values[1]}, expected ${expected(eps) + 7}`);
      }
      weights.onPairs.dispose();
      weights.onOuter.dispose();
    }
  }
});
