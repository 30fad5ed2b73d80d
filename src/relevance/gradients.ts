/**
 * Gradients of the target logits with respect to the units that pruning removes, for the
 * gradient and Taylor criteria (Yeom et al.'s baselines): the FFN activations (GELU output),
 * the reduced states z, and a multiplicative mask on each window offset's term of g.
 *
 * The objective is, over the positions of one sequence, either the sum of the true next-token
 * logits ('logit': the same targets LRP starts from) or the next-token cross-entropy summed over
 * the predictions ('loss': -sum_t log softmax(logits_t)[ids_{t+1}], the loss of Molchanov et al.'s
 * Taylor criterion; the full [T-1, V] logits are formed). Zero-valued probes are added to z, g and the FFN
 * activations through GrassmannModel.trace and differentiated with tf.grads (the composite ops
 * carry the gradients). The probes sit at stages every block layout has (../model/grassmann.ts
 * BlockStage), and the objective's final LayerNorm is the model's (ln_f, its eps). The mask
 * gradient of offset k at position t follows from dL/dg (G_t) and the aggregation
 * (./offsetTerms.ts): g_t = sum_k w_tk (W_plu p_hat_k + b_plu) gives dL/dm_tk = w_tk (p_hat_k .
 * W_plu^T G_t + b_plu . G_t); g_t = W_plu sum_k w_tk p_hat_k + b_plu gives w_tk p_hat_k . W_plu^T G_t
 * (the bias is outside the mean). p_hat uses the model's Plücker eps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GrassmannModel } from '../model/grassmann';
import { offsetTerms } from './offsetTerms';
import { rowsAt, targetPairs } from './lrp';

export interface LayerGradients {
  /** GELU output and its gradient [T, f]. */
  act: Float32Array;
  dAct: Float32Array;
  /** z and its gradient [T, r]. */
  z: Float32Array;
  dz: Float32Array;
  /** Distinct offsets in use at this length, and dL/dm per position [T, K]. */
  offsets: number[];
  dMask: Float64Array;
}

/** What the gradients are of (see the module comment). */
export type GradientObjective = 'logit' | 'loss';

/** The gradients of every layer; the values are read asynchronously (await t.data(): every backend, webgpu included). */
export async function targetGradients(model: GrassmannModel, ids: readonly number[], objective: GradientObjective = 'logit'): Promise<LayerGradients[]> {
  const spec = model.spec;
  const w = model.internals();
  const T = ids.length;
  const d = spec.dims.modelDim;
  const { positions, tokens } = targetPairs(ids, { kind: 'next-token' });
  const shapes = spec.layerShapes;
  const probes: tf.Tensor2D[] = [];
  for (const shape of shapes) probes.push(tf.zeros([T, shape.reducedDim]), tf.zeros([T, d]), tf.zeros([T, shape.ffDim]));
  const kept: { act: tf.Tensor[]; z: tf.Tensor[] } = { act: [], z: [] };
  // lm_head rows of the targets, placed at their positions: the objective is sum(y * heads).
  const heads = objective === 'logit'
    ? tf.tidy(() => rowsAt(tf.transpose(tf.gather(w.lmHeadT, tf.tensor1d(tokens, 'int32'), 1)) as tf.Tensor2D, positions, T))
    : null;
  try {
    const grads = tf.tidy(() => {
      const f = (...p: tf.Tensor[]): tf.Scalar => {
        const hidden = model.trace(ids, (layer, stage, value) => {
          if (stage === 'z') {
            const v = tf.add(value, p[3 * layer]);
            kept.z[layer] = tf.keep(v);
            return v;
          }
          if (stage === 'g') return tf.add(value, p[3 * layer + 1]);
          if (stage === 'ffn_act') {
            const v = tf.add(value, p[3 * layer + 2]);
            kept.act[layer] = tf.keep(v);
            return v;
          }
          return undefined;
        }, 'composite');
        const { mean, variance } = tf.moments(hidden, 1, true);
        const y = tf.add(tf.mul(tf.mul(tf.sub(hidden, mean), tf.rsqrt(tf.add(variance, spec.layerNormEps))), w.finalNormWeight), w.finalNormBias);
        if (heads) return tf.sum(tf.mul(y, heads)) as tf.Scalar;
        // Cross-entropy of the true next tokens at the target positions.
        // The next-token targets sit at positions 0..T-2: a slice (gather's gradient needs
        // UnsortedSegmentSum, which the wasm backend lacks).
        const rows = tf.slice(y, [positions[0], 0], [positions.length, d]);
        const logProbs = tf.logSoftmax(tf.matMul(rows, w.lmHeadT));
        const picked = tf.mul(logProbs, tf.oneHot(tf.tensor1d(tokens, 'int32'), spec.dims.vocabSize));
        return tf.neg(tf.sum(picked)) as tf.Scalar;
      };
      return tf.grads(f)(probes);
    });
    try {
      const layers: LayerGradients[] = [];
      for (let l = 0; l < shapes.length; l++) {
        const P = shapes[l].pairCount;
        // Tensors out of the tidy, values after it: tf.tidy walks a typed array it returns key by key.
        const [cT, bsT] = tf.tidy(() => {
          const G = grads[3 * l + 1] as tf.Tensor2D;
          const pluckerT = tf.slice(w.layers[l].plucker.onPairs, [0, 0], [P, d]) as tf.Tensor2D;
          const bias = tf.reshape(tf.slice(w.layers[l].plucker.onPairs, [P, 0], [1, d]), [d]);
          return [tf.matMul(G, pluckerT, false, true), tf.sum(tf.mul(G, bias), 1)];
        });
        let values: Float32Array[];
        try {
          values = (await Promise.all([cT, bsT, kept.z[l], kept.act[l], grads[3 * l + 2], grads[3 * l]].map((t) => t.data()))) as Float32Array[];
        } finally {
          cT.dispose();
          bsT.dispose();
        }
        const [c, bs, z, act, dAct, dz] = values;
        const terms = offsetTerms(spec, l, z, T, c, bs);
        layers.push({ act, dAct, z, dz, offsets: terms.plan.offsets, dMask: terms.perPosition });
      }
      return layers;
    } finally {
      for (const g of grads) g.dispose();
    }
  } finally {
    for (const p of probes) p.dispose();
    heads?.dispose();
    for (const t of [...kept.act, ...kept.z]) t?.dispose();
  }
}
