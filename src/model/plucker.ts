/**
 * Plücker coordinates of the token planes of one Grassmann layer (grassmann-math.md §1-2), from
 * the reduced states z [T, r] of one sequence.
 *
 * For an offset d, the plane at position t is span(z_t, z_s) with s = t - d ('previous' pairing,
 * the paper) or s = t + d ('next'), for the positions whose partner lies inside the sequence:
 *   p_ij = z_t,i z_s,j - z_t,j z_s,i   (i < j, pairs in row-major order (0,1), (0,2), ..., (r-2,r-1))
 *   ||p|| = area of the parallelogram spanned by z_t and z_s
 *   p_hat = p / max(||p||, eps)   (eps: the model's Plücker eps, 1e-8 unless it says otherwise)
 * Computed in float64 from the float32 states (each product is exact in float64, so p carries one
 * rounding), returned as float32.
 */
import { partnerPosition, validPositions } from './offsets';
import type { PairingRule } from './spec';

/** The planes of one offset: rows are the positions t = first .. first + count - 1. */
export interface OffsetPlanes {
  offset: number;
  /** First position with a partner inside the sequence. */
  first: number;
  count: number;
  /** [count, P] normalised coordinates p_hat. */
  coordinates: Float32Array;
  /** [count] plane areas ||p|| (before the 1e-8 floor). */
  norms: Float32Array;
  /** True where the plane is degenerate (see DEGENERATE_SINE): no distances from it. */
  degenerate: boolean[];
}

export interface PlaneLayout {
  /** r: width of z. */
  reducedDim: number;
  pairing: PairingRule;
  /** p_hat = p / max(||p||, normFloor): the model's Plücker eps (default PLANE_NORM_FLOOR). */
  normFloor?: number;
}

/** P = r(r-1)/2 Plücker coordinates per plane. */
export const pairCount = (r: number): number => (r * (r - 1)) / 2;

/** Smallest ||p|| used as a divisor unless the model says otherwise (alphaXiv, GrassLM: 1e-8). */
export const PLANE_NORM_FLOOR = 1e-8;

/**
 * A plane is degenerate when the sine of the angle between its two states is below this (or a
 * state is 0): from float32 states its direction is then known to worse than ~1e-3 (float32
 * resolution / sine).
 */
export const DEGENERATE_SINE = 1e-4;

/** The planes of offset `offset` in a sequence of `seqLen` states z (row-major [seqLen, r]). */
export function planesAtOffset(z: Float32Array, seqLen: number, offset: number, layout: PlaneLayout): OffsetPlanes {
  const { reducedDim: r, pairing } = layout;
  const floor = layout.normFloor ?? PLANE_NORM_FLOOR;
  const P = pairCount(r);
  const { first, count } = validPositions(offset, seqLen, pairing);
  const coordinates = new Float32Array(count * P);
  const norms = new Float32Array(count);
  const degenerate: boolean[] = [];
  const current = new Float64Array(r);
  const partner = new Float64Array(r);
  const plane = new Float64Array(P);
  for (let row = 0; row < count; row++) {
    const t = first + row;
    const s = partnerPosition(t, offset, pairing);
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < r; i++) {
      current[i] = z[t * r + i];
      partner[i] = z[s * r + i];
      aa += current[i] * current[i];
      bb += partner[i] * partner[i];
    }
    let squares = 0;
    let k = 0;
    for (let i = 0; i < r; i++) {
      const ci = current[i];
      const pi = partner[i];
      for (let j = i + 1; j < r; j++) {
        const p = ci * partner[j] - current[j] * pi;
        plane[k++] = p;
        squares += p * p;
      }
    }
    const norm = Math.sqrt(squares);
    norms[row] = norm;
    const lengths = Math.sqrt(aa * bb); // |z_t| |z_s|: norm / lengths is the sine of their angle
    degenerate.push(!(lengths > 0) || norm < DEGENERATE_SINE * lengths);
    const scale = 1 / Math.max(norm, floor);
    const base = row * P;
    for (let q = 0; q < P; q++) coordinates[base + q] = plane[q] * scale;
  }
  return { offset, first, count, coordinates, norms, degenerate };
}

/**
 * How many of the planes of the given offsets are degenerate, by planesAtOffset's flag (the one
 * features shows per plane), and how many planes there are: O(r^2) per plane.
 */
export function degeneratePlaneCount(z: Float32Array, seqLen: number, offsets: readonly number[], layout: PlaneLayout): { degenerate: number; planes: number } {
  let degenerate = 0;
  let planes = 0;
  for (const offset of offsets) {
    const p = planesAtOffset(z, seqLen, offset, layout);
    planes += p.count;
    for (const flagged of p.degenerate) if (flagged) degenerate++;
  }
  return { degenerate, planes };
}
