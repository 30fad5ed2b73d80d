/**
 * Distances between the token planes of one (layer, offset): the 2-planes span(z_t, z_s) in R^r,
 * s = t - d ('previous' pairing) or t + d ('next'), one per position with a partner.
 *
 * Every plane gets an orthonormal basis (q1, q2) once (Gram-Schmidt, twice). For a pair of planes
 * the 2 x 2 matrix M = Q_B Q_A^T holds everything: its singular values are cos theta_1 >= cos
 * theta_2, and det M = <p_hat_A, p_hat_B> (Cauchy-Binet). When the smaller angle is below 45
 * degrees the sines come from S = Q_B - M Q_A instead (./angles.ts), so angles down to ~1e-8 rad
 * keep their relative accuracy. A sine below the rounding error of the two bases,
 * SINE_ROUNDING sqrt(r) (1/s_A + 1/s_B) with s the sine of the angle between a plane's two states
 * (~1e-14 at r = 32 for well-separated states), is 0: the same plane spanned by other states gives
 * angles of exactly 0 and a distance of exactly 0 in every metric, not float64 noise.
 * 2 x 2 symmetric eigenvalues are closed forms; no library call per pair, so a whole T x T
 * matrix is a loop of ~10 r flops per pair.
 *
 * Degenerate planes (z_t and z_s parallel or zero: sin of their angle below DEGENERATE_SINE) have
 * no well-defined direction; their rows and columns are NaN and they are listed.
 */
import { angleFromCosineAndSine, distanceFromAngles, type GrassmannMetric } from './angles';
import { partnerPosition, validPositions } from '../model/offsets';
import { DEGENERATE_SINE } from '../model/plucker';
import type { PairingRule } from '../model/spec';

export { DEGENERATE_SINE };

export interface TokenPlanes {
  /** Position t of each plane. */
  positions: number[];
  /** [N, 2, r] orthonormal bases (q1 = z_t / |z_t|, q2 = the rest of z_s), NaN for degenerate planes. */
  bases: Float64Array;
  /** True where the plane is degenerate. */
  degenerate: boolean[];
  /** Sine of the angle between the plane's two states (0 for a degenerate plane): how well its basis is conditioned. */
  stateSines: Float64Array;
  reducedDim: number;
}

/**
 * Rounding error of a sine computed from two bases (float64 unit roundoff 2^-53 with a margin
 * of 8): the bases (Gram-Schmidt twice) are accurate to ~sqrt(r) u / s, s the sine between a
 * plane's two states; measured up to 1.5 sqrt(r) u (1/s_A + 1/s_B) for equal planes, r = 2..128.
 */
export const SINE_ROUNDING = 8 * 2 ** -53;

/** Orthonormal bases of the planes span(z_t, z_s) of one offset; z is [T, r] row-major. */
export function tokenPlanes(z: ArrayLike<number>, seqLen: number, reducedDim: number, offset: number, pairing: PairingRule): TokenPlanes {
  const r = reducedDim;
  const { first, count } = validPositions(offset, seqLen, pairing);
  const bases = new Float64Array(count * 2 * r);
  const degenerate: boolean[] = [];
  const stateSines = new Float64Array(count);
  const positions: number[] = [];
  const a = new Float64Array(r);
  const b = new Float64Array(r);
  for (let row = 0; row < count; row++) {
    const t = first + row;
    const s = partnerPosition(t, offset, pairing);
    positions.push(t);
    const base = row * 2 * r;
    for (let i = 0; i < r; i++) {
      a[i] = z[t * r + i];
      b[i] = z[s * r + i];
    }
    stateSines[row] = orthonormalPair(a, b, bases, base);
    degenerate.push(stateSines[row] === 0);
    if (stateSines[row] === 0) bases.fill(NaN, base, base + 2 * r);
  }
  return { positions, bases, degenerate, stateSines, reducedDim: r };
}

/**
 * Writes an orthonormal basis of span(a, b) at out[base..base+2r); returns the sine of the angle
 * between a and b, or 0 if the plane is degenerate.
 */
export function orthonormalPair(a: Float64Array, b: Float64Array, out: Float64Array, base: number): number {
  const r = a.length;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < r; i++) {
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 || bb === 0) return 0;
  const na = Math.sqrt(aa);
  for (let i = 0; i < r; i++) out[base + i] = a[i] / na;
  // w = b - (q1.b) q1, twice
  const w = b.slice();
  for (let pass = 0; pass < 2; pass++) {
    let dot = 0;
    for (let i = 0; i < r; i++) dot += out[base + i] * w[i];
    for (let i = 0; i < r; i++) w[i] -= dot * out[base + i];
  }
  let ww = 0;
  for (let i = 0; i < r; i++) ww += w[i] * w[i];
  const nw = Math.sqrt(ww);
  if (!(nw >= DEGENERATE_SINE * Math.sqrt(bb))) return 0;
  for (let i = 0; i < r; i++) out[base + r + i] = w[i] / nw;
  return nw / Math.sqrt(bb);
}

/** Eigenvalues (small, large) of the symmetric 2 x 2 [[p, q], [q, s]]. */
function eigen2(p: number, q: number, s: number): [number, number] {
  const mean = (p + s) / 2;
  const radius = Math.hypot((p - s) / 2, q);
  const large = mean + radius;
  // the small one from the determinant when it would cancel
  const small = large > 0 ? (p * s - q * q) / large : mean - radius;
  return [small, large];
}

/**
 * Principal angles (theta1 <= theta2) between planes i and j of `planes`, written to out[0..1];
 * returns det M = <p_hat_i, p_hat_j> (up to the sign of each basis' orientation).
 */
export function planeAngles(planes: TokenPlanes, i: number, j: number, out: Float64Array | number[]): number {
  const r = planes.reducedDim;
  const B = planes.bases;
  const ai = i * 2 * r;
  const bj = j * 2 * r;
  // M_kl = qb_k . qa_l  (rows: plane j's basis, columns: plane i's)
  let m00 = 0, m01 = 0, m10 = 0, m11 = 0;
  for (let c = 0; c < r; c++) {
    const a0 = B[ai + c], a1 = B[ai + r + c], b0 = B[bj + c], b1 = B[bj + r + c];
    m00 += b0 * a0;
    m01 += b0 * a1;
    m10 += b1 * a0;
    m11 += b1 * a1;
  }
  // cos^2 = eigenvalues of M M^T
  const [cosSqSmall, cosSqLarge] = eigen2(m00 * m00 + m01 * m01, m00 * m10 + m01 * m11, m10 * m10 + m11 * m11);
  const cos1 = Math.sqrt(Math.min(1, Math.max(0, cosSqLarge)));
  const cos2 = Math.sqrt(Math.min(1, Math.max(0, cosSqSmall)));
  let sin1: number;
  let sin2: number;
  if (cosSqLarge >= 0.5) {
    // S = Qb - M Qa, its Gram S S^T (2 x 2): eigenvalues sin^2 theta (ascending)
    let s00 = 0, s01 = 0, s11 = 0;
    for (let c = 0; c < r; c++) {
      const a0 = B[ai + c], a1 = B[ai + r + c];
      const u = B[bj + c] - m00 * a0 - m01 * a1;
      const v = B[bj + r + c] - m10 * a0 - m11 * a1;
      s00 += u * u;
      s01 += u * v;
      s11 += v * v;
    }
    const [sinSqSmall, sinSqLarge] = eigen2(s00, s01, s11);
    // below the rounding error of the two bases, a sine is 0 (the planes share that direction)
    const rounding = SINE_ROUNDING * Math.sqrt(r) * (1 / planes.stateSines[i] + 1 / planes.stateSines[j]);
    sin1 = Math.sqrt(Math.max(0, sinSqSmall));
    sin2 = Math.sqrt(Math.max(0, sinSqLarge));
    if (sin1 < rounding) sin1 = 0;
    if (sin2 < rounding) sin2 = 0;
  } else {
    sin1 = Math.sqrt(1 - cos1 * cos1);
    sin2 = Math.sqrt(1 - cos2 * cos2);
  }
  const theta1 = angleFromCosineAndSine(cos1, sin1);
  const theta2 = angleFromCosineAndSine(cos2, sin2);
  out[0] = Math.min(theta1, theta2);
  out[1] = Math.max(theta1, theta2);
  return m00 * m11 - m01 * m10;
}

export interface PlaneDistanceMatrix {
  metric: GrassmannMetric;
  /** Position t of the plane of each row (and column). */
  positions: number[];
  /** [N, N] row-major; NaN in the rows and columns of degenerate planes. */
  matrix: Float64Array;
  /** [N, N, 2] principal angles, ascending per pair. */
  angles: Float64Array;
  /** Positions of the degenerate planes. */
  degenerate: number[];
}

/** All pairwise distances (and principal angles) between the planes. */
export function planeDistanceMatrix(planes: TokenPlanes, metric: GrassmannMetric): PlaneDistanceMatrix {
  const N = planes.positions.length;
  const matrix = new Float64Array(N * N);
  const angles = new Float64Array(N * N * 2);
  const pair = [0, 0];
  for (let i = 0; i < N; i++) {
    if (planes.degenerate[i]) {
      matrix.fill(NaN, i * N, (i + 1) * N);
      angles.fill(NaN, i * N * 2, (i + 1) * N * 2);
      for (let j = 0; j < N; j++) {
        matrix[j * N + i] = NaN;
        angles[(j * N + i) * 2] = angles[(j * N + i) * 2 + 1] = NaN;
      }
      continue;
    }
    for (let j = i + 1; j < N; j++) {
      if (planes.degenerate[j]) continue;
      planeAngles(planes, i, j, pair);
      const distance = distanceFromAngles(metric, pair);
      matrix[i * N + j] = matrix[j * N + i] = distance;
      angles[(i * N + j) * 2] = angles[(j * N + i) * 2] = pair[0];
      angles[(i * N + j) * 2 + 1] = angles[(j * N + i) * 2 + 1] = pair[1];
    }
  }
  return { metric, positions: planes.positions.slice(), matrix, angles, degenerate: planes.positions.filter((_, k) => planes.degenerate[k]) };
}

export interface Neighbour {
  position: number;
  distance: number;
  angles: [number, number];
}

/** The k planes nearest to the plane at position `position` (itself excluded), one row of work. */
export function nearestPlanes(planes: TokenPlanes, position: number, k: number, metric: GrassmannMetric): Neighbour[] {
  const i = planes.positions.indexOf(position);
  if (i < 0) throw new RangeError(`no plane at position ${position} (planes exist at ${planes.positions[0]}..${planes.positions[planes.positions.length - 1]})`);
  if (planes.degenerate[i]) return [];
  const pair = [0, 0];
  const all: Neighbour[] = [];
  for (let j = 0; j < planes.positions.length; j++) {
    if (j === i || planes.degenerate[j]) continue;
    planeAngles(planes, i, j, pair);
    all.push({ position: planes.positions[j], distance: distanceFromAngles(metric, pair), angles: [pair[0], pair[1]] });
  }
  all.sort((x, y) => x.distance - y.distance);
  return all.slice(0, k);
}
