/**
 * Per-token features of a Grassmann layer (grassmann-math.md §1-2), as pure functions of the
 * forward pass's intermediates. Plücker vectors are in row-major pair order (0,1),(0,2),...
 */
import { MIX_TERM_VALUES, type MixOutput } from '../model/architecture';

/** Index of pair (i, j), i < j, in row-major order for R^r. */
export function pairIndex(r: number, i: number, j: number): number {
  return i * r - (i * (i + 1)) / 2 + (j - i - 1);
}

/**
 * The Plücker-relation residual of one plane p (P = r(r-1)/2 values from p[offset]):
 * max over i<j<k<l of |p_ij p_kl - p_ik p_jl + p_il p_jk|. Zero exactly for a 2-plane (a
 * decomposable bivector), so on p_hat it measures the arithmetic's error: ~1e-7 for float32
 * coordinates. C(r, 4) terms (35960 for r = 32).
 */
export function pluckerResidual(p: ArrayLike<number>, offset: number, r: number): number {
  // rowStart[i] + j = index of (i, j)
  const rowStart = new Int32Array(r);
  for (let i = 0; i < r; i++) rowStart[i] = offset + i * r - (i * (i + 1)) / 2 - i - 1;
  let worst = 0;
  for (let i = 0; i < r; i++) {
    const ri = rowStart[i];
    for (let j = i + 1; j < r; j++) {
      const pij = p[ri + j];
      const rj = rowStart[j];
      for (let k = j + 1; k < r; k++) {
        const pik = p[ri + k];
        const pjk = p[rj + k];
        const rk = rowStart[k];
        for (let l = k + 1; l < r; l++) {
          const residual = Math.abs(pij * p[rk + l] - pik * p[rj + l] + p[ri + l] * pjk);
          if (residual > worst) worst = residual;
        }
      }
    }
  }
  return worst;
}

/** p as the r x r antisymmetric matrix X (X_ij = p_ij, X_ji = -p_ij; X = a b^T - b a^T for p = a ^ b). */
export function antisymmetricMatrix(p: ArrayLike<number>, offset: number, r: number): Float64Array {
  const x = new Float64Array(r * r);
  let k = offset;
  for (let i = 0; i < r; i++) {
    for (let j = i + 1; j < r; j++) {
      x[i * r + j] = p[k];
      x[j * r + i] = -p[k];
      k++;
    }
  }
  return x;
}

export interface BlendBalance {
  /** Share of the blended vector that came from h: <h part, mixed> / ||mixed||^2 (the g share is 1 minus it). */
  hShare: Float64Array;
  /** ||h part||, ||g part|| per token. */
  hNorm: Float64Array;
  gNorm: Float64Array;
}

/**
 * How much of the gate's output came from h and how much from g, per token:
 * blend: mixed = (alpha h) + ((1 - alpha) g); additive: mixed = h + (alpha g); gated-geometry:
 * mixed = alpha g (no h part: its share is 0).
 * The shares are projections onto the mixed vector, so they add up to 1 (a part pointing against
 * the result has a negative share). NaN where mixed = 0.
 */
export function blendBalance(h: ArrayLike<number>, g: ArrayLike<number>, alpha: ArrayLike<number>, width: number, gating: MixOutput): BlendBalance {
  const terms = MIX_TERM_VALUES[gating];
  const T = h.length / width;
  const out = { hShare: new Float64Array(T), hNorm: new Float64Array(T), gNorm: new Float64Array(T) };
  for (let t = 0; t < T; t++) {
    let uu = 0, vv = 0, uv = 0;
    for (let i = t * width; i < (t + 1) * width; i++) {
      const [u, v] = terms(h[i], g[i], alpha[i]);
      uu += u * u;
      vv += v * v;
      uv += u * v;
    }
    const mixedSq = uu + 2 * uv + vv;
    out.hShare[t] = mixedSq > 0 ? (uu + uv) / mixedSq : NaN;
    out.hNorm[t] = Math.sqrt(uu);
    out.gNorm[t] = Math.sqrt(vv);
  }
  return out;
}

/** Mean over the last axis of x [rows, width]. */
export function rowMeans(x: ArrayLike<number>, width: number): Float64Array {
  const rows = x.length / width;
  const out = new Float64Array(rows);
  for (let t = 0; t < rows; t++) {
    let s = 0;
    for (let i = t * width; i < (t + 1) * width; i++) s += x[i];
    out[t] = s / width;
  }
  return out;
}

export interface OffsetContribution {
  offset: number;
  /** Positions t where this offset has a partner. */
  positions: number[];
  /** ||W_plu p_hat + b_plu|| at each of those positions. */
  norm: Float64Array;
  /** Its share of g_t: <c_d, g_t> / ||g_t||^2 with c_d = weight_d (W_plu p_hat_d + b_plu); shares at t add up to 1. */
  share: Float64Array;
}

/**
 * Each offset's part of g_t = sum_d w_{t,d} (W_plu p_hat_d + b_plu) (w: multiplicity / total
 * multiplicity valid at t, see model/offsets.ts).
 * projected[k]: [count_k, width] rows W_plu p_hat + b_plu of offset k at positions[k];
 * weights: [T, K] from planOffsets.
 */
export function offsetContributions(
  offsets: readonly number[], positions: readonly number[][], projected: readonly ArrayLike<number>[], weights: Float32Array, seqLen: number, width: number,
): OffsetContribution[] {
  const K = offsets.length;
  const g = new Float64Array(seqLen * width);
  offsets.forEach((_, k) => {
    positions[k].forEach((t, row) => {
      const w = weights[t * K + k];
      for (let i = 0; i < width; i++) g[t * width + i] += w * projected[k][row * width + i];
    });
  });
  const gSq = new Float64Array(seqLen); // ||g_t||^2
  for (let t = 0; t < seqLen; t++) for (let i = t * width; i < (t + 1) * width; i++) gSq[t] += g[i] * g[i];
  return offsets.map((offset, k) => {
    const count = positions[k].length;
    const norm = new Float64Array(count);
    const share = new Float64Array(count);
    positions[k].forEach((t, row) => {
      let nn = 0;
      let dot = 0;
      for (let i = 0; i < width; i++) {
        const v = projected[k][row * width + i];
        nn += v * v;
        dot += v * g[t * width + i];
      }
      norm[row] = Math.sqrt(nn);
      share[row] = gSq[t] > 0 ? (weights[t * K + k] * dot) / gSq[t] : NaN;
    });
    return { offset, positions: positions[k].slice(), norm, share };
  });
}
