/**
 * Principal angles between subspaces and the distances on a Grassmannian built from them
 * (grassmann-math.md §3), in float64.
 *
 * Angles come from sines where they are small (Björck & Golub 1973; what
 * scipy.linalg.subspace_angles does): with orthonormal bases Q_A, Q_B (dim A >= dim B), the
 * cosines are the singular values of M = Q_B Q_A^T and the sines those of S = Q_B - M Q_A; an angle
 * whose cosine^2 is at least 1/2 (theta <= 45 degrees) is arcsin(sine), the others arccos(cosine).
 * arccos of a cosine alone would lose every angle below ~1e-8 rad in float64.
 */
import { orthonormalRows, rowProducts, symmetricEigenvalues, type Matrix } from './linalg';

export const GRASSMANN_METRICS = ['geodesic', 'chordal', 'projection', 'projection2', 'binetCauchy', 'fubiniStudy', 'martin'] as const;
export type GrassmannMetric = (typeof GRASSMANN_METRICS)[number];

/**
 * What each metric is, for reports and the CLI help: the formula of the principal angles and the
 * name grassmann-math.md §3 gives it. `chordal` is the Procrustes distance (min over rotations of
 * ||Q_A U - Q_B V||_F); ||sin theta||_2, which Conway, Hardin and Sloane call the chordal distance,
 * is `projection` here.
 */
export const METRIC_FORMULAS: Record<GrassmannMetric, string> = {
  geodesic: '||theta||_2 (arc length)',
  chordal: '2 ||sin(theta/2)||_2 (chordal / Procrustes)',
  projection: '||sin theta||_2 = ||P_A - P_B||_F / sqrt 2 (projection Frobenius)',
  projection2: 'sin theta_max (projection 2-norm)',
  binetCauchy: 'sqrt(1 - prod cos^2 theta) (Binet-Cauchy)',
  fubiniStudy: 'arccos(prod cos theta) (Fubini-Study)',
  martin: 'sqrt(-log prod cos^2 theta) (Martin)',
};

export function isGrassmannMetric(name: string): name is GrassmannMetric {
  return (GRASSMANN_METRICS as readonly string[]).includes(name);
}

/**
 * A distance from principal angles (any order). Products of cosines are formed from sines,
 * 1 - prod cos^2 = -expm1(sum log1p(-sin^2)), so small distances keep their relative accuracy.
 */
export function distanceFromAngles(metric: GrassmannMetric, angles: ArrayLike<number>): number {
  const n = angles.length;
  let sum = 0;
  switch (metric) {
    case 'geodesic':
      for (let i = 0; i < n; i++) sum += angles[i] * angles[i];
      return Math.sqrt(sum);
    case 'projection':
      for (let i = 0; i < n; i++) sum += Math.sin(angles[i]) ** 2;
      return Math.sqrt(sum);
    case 'chordal':
      for (let i = 0; i < n; i++) sum += Math.sin(angles[i] / 2) ** 2;
      return 2 * Math.sqrt(sum);
    case 'projection2':
      for (let i = 0; i < n; i++) sum = Math.max(sum, Math.sin(angles[i]));
      return sum;
    default: {
      // sum log cos^2 = sum log1p(-sin^2)
      for (let i = 0; i < n; i++) sum += Math.log1p(-(Math.sin(angles[i]) ** 2));
      // max(0, .): +0 for equal subspaces, where -expm1(0) and sqrt(-0) would give -0
      if (metric === 'martin') return Math.sqrt(Math.max(0, -sum));
      const oneMinusProduct = Math.max(0, -Math.expm1(sum)); // 1 - prod cos^2
      return metric === 'binetCauchy' ? Math.sqrt(oneMinusProduct) : Math.atan2(Math.sqrt(oneMinusProduct), Math.exp(sum / 2));
    }
  }
}

/** theta from a (cosine, sine) pair of one principal angle, each accurate where it is small. */
export function angleFromCosineAndSine(cosine: number, sine: number): number {
  return cosine * cosine >= 0.5 ? Math.asin(Math.min(1, sine)) : Math.acos(Math.min(1, cosine));
}

/**
 * Principal angles (ascending, min(rank A, rank B) of them) between the row spaces of two
 * orthonormal row sets qa [ka, n] and qb [kb, n] (see orthonormalRows).
 */
export function principalAnglesOfBases(qa: Matrix, qb: Matrix): Float64Array {
  if (qa.cols !== qb.cols) throw new RangeError(`subspaces of R^${qa.cols} and R^${qb.cols} cannot be compared`);
  if (qa.rows < qb.rows) [qa, qb] = [qb, qa];
  const k = qb.rows;
  const n = qa.cols;
  const M = rowProducts(qb, qa); // [kb, ka], M_ij = qb_i . qa_j
  const cosSquared = symmetricEigenvalues(rowProducts(M, M)); // ascending
  const angles = new Float64Array(k);
  let sinSquared: Float64Array | null = null;
  if (k > 0 && cosSquared[k - 1] >= 0.5) {
    // S = Qb - M Qa: the part of each row of Qb outside span(Qa).
    const S: Matrix = { rows: k, cols: n, data: Float64Array.from(qb.data) };
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < qa.rows; j++) {
        const m = M.data[i * qa.rows + j];
        if (m === 0) continue;
        for (let c = 0; c < n; c++) S.data[i * n + c] -= m * qa.data[j * n + c];
      }
    }
    sinSquared = symmetricEigenvalues(rowProducts(S, S)); // ascending
  }
  for (let i = 0; i < k; i++) {
    const cosine = Math.sqrt(Math.max(0, Math.min(1, cosSquared[k - 1 - i])));
    const sine = sinSquared ? Math.sqrt(Math.max(0, sinSquared[i])) : Math.sqrt(Math.max(0, 1 - cosine * cosine));
    angles[i] = angleFromCosineAndSine(cosine, sine);
  }
  return angles.sort();
}

export interface SubspaceComparison {
  /** Ascending principal angles (radians). */
  angles: Float64Array;
  rankA: number;
  rankB: number;
  /** Ambient dimension n. */
  dimension: number;
}

/** Principal angles between the spans of the rows of a [m, n] and of b [p, n]. */
export function principalAnglesOfRows(a: Matrix, b: Matrix, relativeTolerance = 1e-10): SubspaceComparison {
  const qa = orthonormalRows(a, relativeTolerance);
  const qb = orthonormalRows(b, relativeTolerance);
  return { angles: principalAnglesOfBases(qa.basis, qb.basis), rankA: qa.rank, rankB: qb.rank, dimension: a.cols };
}
