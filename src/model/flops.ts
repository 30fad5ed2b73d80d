/**
 * Floating-point operation counts of one GrassmannGPT forward pass, from shapes alone.
 * A matrix product [m,k] x [k,n] counts 2*m*n*k; element-wise work (LayerNorm, GELU, gathers,
 * the Plücker products themselves) is not counted, as is usual for model FLOPs.
 *
 * Two counts are given:
 *  - `executed`: the contractions ./grassmann.ts actually performs. It averages the normalised
 *    Plücker vectors over the window offsets BEFORE applying W_plu (exact by linearity:
 *    mean_d(W p_d + b) = W mean_d(p_d) + b); the mean is one wedge z_t ^ m_t with m_t a weighted
 *    sum of the K partner states (2*K*r per position), then one product per layer with b_plu
 *    folded in as an extra input: [T, P+1] x [P+1, d] with the host kernels (wasm, cpu), or
 *    [T, r^2+1] x [r^2+1, d] on the outer product z m^T with TensorFlow.js ops (./blockOps.ts).
 *  - `nominal`: the paper's equations as written: W_plu applied to every (offset, position) pair
 *    valid in the sequence, on the r(r-1)/2 Plücker coordinates.
 * Report GFLOP/s from `executed` (work done); `nominal` tells how much of it the reformulation saved.
 */
import type { BlockOpsKind } from './blockOps';
import type { LayerShape, ModelDims } from './spec';

/** The sizes of one block that its FLOPs depend on. */
export interface FlopLayerShape extends Pick<LayerShape, 'reducedDim' | 'ffDim'> {
  windowSizes: readonly number[];
}

export interface FlopCount {
  total: number;
  /** Per part, summed over layers: reduce, plucker, gate, ffn, lmHead (and offsetMean for executed). */
  parts: Record<string, number>;
}

export interface ForwardFlops {
  executed: FlopCount;
  nominal: FlopCount;
  /** Number of (offset, position) pairs with a valid partner in block 0 (every block of a uniform model). */
  validPairRows: number;
  /** Distinct offsets d < T in block 0 (duplicates in the window list are computed once). */
  distinctOffsets: number;
  /** The same two counts per block. */
  layers: { validPairRows: number; distinctOffsets: number }[];
}

const matmul = (m: number, k: number, n: number): number => 2 * m * k * n;

function total(parts: Record<string, number>): number {
  return Object.values(parts).reduce((s, v) => s + v, 0);
}

/**
 * FLOPs of one forward pass over `batch` sequences of `seqLen` tokens, with the block ops `ops`
 * (host kernels or TensorFlow.js ops; only the executed Plücker product differs).
 * `layers` is either one window list for every block (sizes r, f from `dims`) or the sizes of each
 * block (GrassmannSpec.layerShapes: a pruned model's blocks differ).
 * Offsets d >= seqLen are skipped, as in the model (either pairing direction has the same counts).
 */
export function forwardFlops(dims: ModelDims, seqLen: number, layers: readonly number[] | readonly FlopLayerShape[], batch = 1, ops: BlockOpsKind = 'host'): ForwardFlops {
  const rows = batch * seqLen;
  const { modelDim: d, vocabSize: V } = dims;
  const shapes: readonly FlopLayerShape[] = layers.length > 0 && typeof layers[0] === 'number'
    ? Array.from({ length: dims.layers }, () => ({ reducedDim: dims.reducedDim, ffDim: dims.ffDim, windowSizes: layers as readonly number[] }))
    : layers.length === 0 ? Array.from({ length: dims.layers }, () => ({ reducedDim: dims.reducedDim, ffDim: dims.ffDim, windowSizes: [] }))
    : (layers as readonly FlopLayerShape[]);

  const executedParts = { reduce: 0, gate: 0, ffn: 0, lmHead: matmul(rows, d, V), offsetMean: 0, plucker: 0 };
  const nominalParts = { reduce: 0, gate: 0, ffn: 0, lmHead: matmul(rows, d, V), plucker: 0 };
  const perLayer = shapes.map(({ reducedDim: r, ffDim: f, windowSizes }) => {
    const P = (r * (r - 1)) / 2;
    const valid = windowSizes.filter((w) => w < seqLen);
    const distinct = new Set(valid).size;
    const validPairRows = batch * valid.reduce((s, w) => s + (seqLen - w), 0);
    for (const parts of [executedParts, nominalParts]) {
      parts.reduce += matmul(rows, d, r);
      parts.gate += matmul(rows, 2 * d, d);
      parts.ffn += matmul(rows, d, f) + matmul(rows, f, d);
    }
    if (distinct > 0) {
      // weighted mean partner over the distinct offsets: per position [1,K] x [K,r]
      executedParts.offsetMean += rows * matmul(1, distinct, r);
      executedParts.plucker += matmul(rows, (ops === 'host' ? P : r * r) + 1, d);
    }
    nominalParts.plucker += matmul(validPairRows, P, d);
    return { validPairRows, distinctOffsets: distinct };
  });
  return {
    executed: { total: total(executedParts), parts: executedParts },
    nominal: { total: total(nominalParts), parts: nominalParts },
    validPairRows: perLayer[0]?.validPairRows ?? 0,
    distinctOffsets: perLayer[0]?.distinctOffsets ?? 0,
    layers: perLayer,
  };
}
