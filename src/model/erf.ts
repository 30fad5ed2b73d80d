/**
 * The error function in float64, for the exact (erf) GELU of the host kernels (./hostKernels.ts).
 *
 * `erfReference` is evaluated from its defining series (|x| <= 3) and Laplace's continued fraction
 * of erfc (beyond): accurate to ~1e-16 but slow. `erf` is what the kernels call:
 * a piecewise polynomial built from erfReference when this module loads, by Chebyshev
 * interpolation (degree ERF_DEGREE) on ERF_PIECES intervals of width ERF_PIECE_WIDTH covering
 * [0, 5), with erf(x) = +-1 beyond (erfc(5) = 1.5e-12). Max abs error 1.2e-9 on the real line
 * (test/unit/hostKernels.test.ts checks 2e-9), under float32's resolution (ulp(1) = 1.2e-7), and
 * no Math.exp in the hot loop (V8's Math.exp costs ~10-20 ns; a piece costs one Horner pass).
 */

/**
 * erf(x) by its series of positive terms (|x| <= 3) or the continued fraction of erfc (|x| > 3),
 * in float64 (DLMF 7.6.2 and 7.9.2):
 *   erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1 3 5 ... (2n+1))
 *   erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
 */
export function erfReference(x: number): number {
  const ax = Math.abs(x);
  if (Number.isNaN(ax)) return NaN;
  if (ax <= 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 300; n++) {
      term *= (2 * ax * ax) / (2 * n + 1);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum;
  }
  let fraction = ax;
  for (let k = 80; k >= 1; k--) fraction = ax + k / 2 / fraction;
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / fraction);
}

const ERF_PIECES = 10;
const ERF_PIECE_WIDTH = 0.5;
/** Polynomial degree per piece (Chebyshev interpolation at DEGREE + 1 nodes). */
const ERF_DEGREE = 7;
const ERF_LIMIT = ERF_PIECES * ERF_PIECE_WIDTH;

/**
 * Monomial coefficients, piece by piece: on piece k, with s = (|x| - center_k) / (width / 2) in
 * [-1, 1], erf(|x|) = sum_j c[k * (DEGREE + 1) + j] s^j.
 */
const ERF_COEFFICIENTS = buildPieces();

function buildPieces(): Float64Array {
  const n = ERF_DEGREE + 1;
  const out = new Float64Array(ERF_PIECES * n);
  for (let piece = 0; piece < ERF_PIECES; piece++) {
    const center = (piece + 0.5) * ERF_PIECE_WIDTH;
    const half = ERF_PIECE_WIDTH / 2;
    // Chebyshev coefficients a_j from the values at the nodes s_m = cos(pi (m + 1/2) / n).
    const values = Array.from({ length: n }, (_, m) => erfReference(center + half * Math.cos((Math.PI * (m + 0.5)) / n)));
    const chebyshev = Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let m = 0; m < n; m++) s += values[m] * Math.cos((Math.PI * j * (m + 0.5)) / n);
      return ((j === 0 ? 1 : 2) / n) * s;
    });
    // sum_j a_j T_j(s) in monomials, with T_{j+1} = 2 s T_j - T_{j-1}.
    let previous = new Float64Array(n);
    let current = new Float64Array(n);
    previous[0] = 1; // T_0
    current[1] = 1; // T_1
    const monomial = new Float64Array(n);
    monomial[0] += chebyshev[0];
    if (n > 1) monomial[1] += chebyshev[1];
    for (let j = 2; j < n; j++) {
      const next = new Float64Array(n);
      for (let p = 0; p < n; p++) next[p] = (p > 0 ? 2 * current[p - 1] : 0) - previous[p];
      for (let p = 0; p < n; p++) monomial[p] += chebyshev[j] * next[p];
      previous = current;
      current = next;
    }
    out.set(monomial, piece * n);
  }
  return out;
}

/** erf(x) in float64, max abs error 1.2e-9 (see the file comment). */
export function erf(x: number): number {
  const ax = x < 0 ? -x : x;
  if (!(ax < ERF_LIMIT)) return ax !== ax ? NaN : x < 0 ? -1 : 1;
  const piece = Math.floor(ax / ERF_PIECE_WIDTH);
  const s = (ax - (piece + 0.5) * ERF_PIECE_WIDTH) / (ERF_PIECE_WIDTH / 2);
  const base = piece * (ERF_DEGREE + 1);
  let y = ERF_COEFFICIENTS[base + ERF_DEGREE];
  for (let j = ERF_DEGREE - 1; j >= 0; j--) y = y * s + ERF_COEFFICIENTS[base + j];
  return x < 0 ? -y : y;
}

/**
 * out[i] = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, the exact GELU, for every element: erf() above
 * inlined by hand (8 coefficients per piece of width 1/2), about twice as fast in V8 as calling it.
 */
export function geluInto(x: Float32Array, out: Float32Array): void {
  const c = ERF_COEFFICIENTS;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const u = v * Math.SQRT1_2;
    const au = u < 0 ? -u : u;
    let y = 1;
    if (au < ERF_LIMIT) {
      const piece = (au * 2) | 0;
      const s = au * 4 - (2 * piece + 1); // (|u| - center) / (width / 2)
      const b = piece << 3;
      y = ((((((c[b + 7] * s + c[b + 6]) * s + c[b + 5]) * s + c[b + 4]) * s + c[b + 3]) * s + c[b + 2]) * s + c[b + 1]) * s + c[b];
    } else if (au !== au) {
      y = NaN;
    }
    out[i] = 0.5 * v * (1 + (u < 0 ? -y : y));
  }
}

// geluInto hard-codes the piece layout.
if (ERF_DEGREE !== 7 || ERF_PIECE_WIDTH !== 0.5) throw new Error('geluInto assumes degree 7 pieces of width 1/2');
