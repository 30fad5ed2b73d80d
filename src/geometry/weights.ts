/**
 * Subspaces and spectra of weight matrices (Gr(k, n)): which directions a layer reads or writes,
 * independent of the basis the training happened to pick.
 *
 * A weight W [m, n] spans a subspace on each side: its row space (in R^n, what it reads) and its
 * column space (in R^m, what it writes). The side living in the larger space is the informative
 * one: the other is all of its space when W has full rank (W_red [r, d]: rows; ffn.0 [f, d]:
 * columns). A square W spans everything on both sides.
 */
import { principalAnglesOfBases } from './angles';
import { frobenius, matrix, orthonormalRows, singularValues, transpose, type Matrix, type RowBasis } from './linalg';

export type MatrixSide = 'rows' | 'columns';

/** The side of an [m, n] matrix whose span is a proper subspace (null when square). */
export function informativeSide(shape: readonly number[]): MatrixSide | null {
  const [m, n] = shape;
  return m < n ? 'rows' : m > n ? 'columns' : null;
}

/** Orthonormal basis (rows) of the row or column space of W [m, n] (row-major values). */
export function weightSubspace(values: ArrayLike<number>, shape: readonly number[], side: MatrixSide): RowBasis {
  const [m, n] = shape;
  const w = matrix(m, n, values);
  return orthonormalRows(side === 'rows' ? w : transpose(w));
}

export interface WeightSpectrum {
  /** Singular values, descending. */
  singularValues: number[];
  /** exp(entropy of sigma / sum sigma) (Roy & Vetterli 2007): 1 for rank one, min(m, n) for a flat spectrum. */
  effectiveRank: number;
  /** ||W||_F^2 / ||W||_2^2. */
  stableRank: number;
  /** Singular values above max(m, n) * eps * sigma_max. */
  numericalRank: number;
}

export function weightSpectrum(values: ArrayLike<number>, shape: readonly number[]): WeightSpectrum {
  const [m, n] = shape;
  const sigma = singularValues(matrix(m, n, values));
  const total = sigma.reduce((s, v) => s + v, 0);
  let entropy = 0;
  for (const s of sigma) if (s > 0) entropy -= (s / total) * Math.log(s / total);
  const top = sigma[0] ?? 0;
  const fro = frobenius(values);
  return {
    singularValues: Array.from(sigma),
    effectiveRank: total > 0 ? Math.exp(entropy) : 0,
    stableRank: top > 0 ? (fro * fro) / (top * top) : 0,
    numericalRank: sigma.filter((s) => s > Math.max(m, n) * Number.EPSILON * top).length,
  };
}

/** ||a - b||_F / ||b||_F (Infinity when b = 0 and a is not). */
export function relativeChange(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`relativeChange: ${a.length} and ${b.length} values`);
  let diff = 0;
  let base = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    diff += d * d;
    base += b[i] * b[i];
  }
  return base > 0 ? Math.sqrt(diff / base) : diff > 0 ? Infinity : 0;
}

/**
 * Principal angles (ascending) between two subspaces given as orthonormal bases. The same basis
 * (e.g. a checkpoint compared with itself) gives exactly 0, where the computation would leave
 * float64 rounding (~1e-16).
 */
export function subspaceAngles(a: RowBasis, b: RowBasis): Float64Array {
  if (sameMatrix(a.basis, b.basis)) return new Float64Array(a.basis.rows);
  return principalAnglesOfBases(a.basis, b.basis);
}

function sameMatrix(a: Matrix, b: Matrix): boolean {
  if (a.rows !== b.rows || a.cols !== b.cols) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
