/**
 * Principal angles and Grassmann distances (src/geometry/linalg.ts, angles.ts, planes.ts) against
 * constructed subspaces of known angles, an independent implementation (ml-matrix), the identities
 * of grassmann-math.md §2-3, and the float64 distances of the PyTorch reference (case*.safetensors:
 * distances.layers.0.delta.1.*).
 *
 * Tolerances: constructed angles down to 1e-6 rad within 1e-3 relative (the bound; we get
 * ~1e-9); eigenvalues within 1e-12 of ml-matrix; reference parity: 3e-7 absolute from the
 * reference's z (the reference is stored in float32: values up to ~2.2 round by up to 1.2e-7),
 * 1e-5 from the z our runtime computes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { EigenvalueDecomposition, Matrix as MlMatrix } from 'ml-matrix';
import { distanceFromAngles, GRASSMANN_METRICS, principalAnglesOfRows, type GrassmannMetric } from '../../src/geometry/angles';
import { matrix, orthonormalRows, rowProducts, singularValues, symmetricEigenvalues, type Matrix } from '../../src/geometry/linalg';
import { nearestPlanes, planeAngles, planeDistanceMatrix, tokenPlanes } from '../../src/geometry/planes';
import { planesAtOffset } from '../../src/model/plucker';
import { antisymmetricMatrix, pairIndex, pluckerResidual } from '../../src/geometry/features';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { readFloat32 } from '../../src/checkpoint/tensorData';
import { GrassmannModel } from '../../src/model/grassmann';
import { describeModel } from '../../src/model/spec';
import { seededRandom } from '../../src/model/synthetic';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');

/** A random orthogonal n x n matrix (QR of a Gaussian-ish one), rows orthonormal. */
function randomRotation(n: number, seed: number): Matrix {
  const rand = seededRandom(seed);
  const m = matrix(n, n, Array.from({ length: n * n }, () => rand() - 0.5));
  return orthonormalRows(m).basis;
}

/** Rows a_i R for a [k, n] and a rotation R [n, n]. */
function rotateRows(a: Matrix, rotation: Matrix): Matrix {
  const out = matrix(a.rows, a.cols);
  for (let i = 0; i < a.rows; i++) for (let k = 0; k < a.cols; k++) {
    const v = a.data[i * a.cols + k];
    for (let j = 0; j < a.cols; j++) out.data[i * a.cols + j] += v * rotation.data[k * a.cols + j];
  }
  return out;
}

/** Subspaces A = span(e_0..e_{k-1}) and B = span(cos t_i e_i + sin t_i e_{k+i}), rotated: angles t. */
function constructedPair(n: number, thetas: number[], seed: number): { a: Matrix; b: Matrix } {
  const k = thetas.length;
  const a = matrix(k, n);
  const b = matrix(k, n);
  thetas.forEach((t, i) => {
    a.data[i * n + i] = 1;
    b.data[i * n + i] = Math.cos(t);
    b.data[i * n + k + i] = Math.sin(t);
  });
  const rotation = randomRotation(n, seed);
  return { a: rotateRows(a, rotation), b: rotateRows(b, rotation) };
}

describe('linear algebra', () => {
  test('symmetric eigenvalues equal ml-matrix within 1e-12 * scale; trace and Frobenius invariants', () => {
    const rand = seededRandom(5);
    for (const n of [1, 2, 3, 7, 40]) {
      const values = Array.from({ length: n * n }, () => rand() - 0.5);
      const s = matrix(n, n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) s.data[i * n + j] = s.data[j * n + i] = values[i * n + j] * (i === j ? 4 : 1);
      const ours = symmetricEigenvalues(s);
      const theirs = new EigenvalueDecomposition(new MlMatrix(Array.from({ length: n }, (_, i) => Array.from(s.data.subarray(i * n, (i + 1) * n)))), { assumeSymmetric: true }).realEigenvalues.sort((x, y) => x - y);
      ours.forEach((v, i) => assert.ok(Math.abs(v - theirs[i]) <= 1e-12 * Math.max(1, Math.abs(theirs[i])), `n=${n} eigenvalue ${i}: ${v} vs ${theirs[i]}`));
      let trace = 0;
      for (let i = 0; i < n; i++) trace += s.data[i * n + i];
      assert.ok(Math.abs(ours.reduce((x, v) => x + v, 0) - trace) <= 1e-12 * n);
    }
    // a diagonal matrix, a repeated eigenvalue, the zero matrix
    assert.deepEqual(Array.from(symmetricEigenvalues(matrix(3, 3, [3, 0, 0, 0, -1, 0, 0, 0, 2]))), [-1, 2, 3]);
    assert.deepEqual(Array.from(symmetricEigenvalues(matrix(2, 2, [0, 0, 0, 0]))), [0, 0]);
    const repeated = symmetricEigenvalues(matrix(3, 3, [2, 1, 1, 1, 2, 1, 1, 1, 2])); // 1, 1, 4
    [1, 1, 4].forEach((v, i) => assert.ok(Math.abs(repeated[i] - v) <= 1e-14));
  });

  test('orthonormalRows: orthonormal to 1e-15, spans the input, finds the rank', () => {
    const rand = seededRandom(6);
    const a = matrix(5, 9, Array.from({ length: 45 }, () => rand() - 0.5));
    // row 3 = row 0 + 2 row 1: rank 4
    for (let k = 0; k < 9; k++) a.data[3 * 9 + k] = a.data[k] + 2 * a.data[9 + k];
    const { basis, rank } = orthonormalRows(a);
    assert.equal(rank, 4);
    const gram = rowProducts(basis, basis);
    for (let i = 0; i < rank; i++) for (let j = 0; j < rank; j++) assert.ok(Math.abs(gram.data[i * rank + j] - (i === j ? 1 : 0)) <= 1e-15);
    // every input row is reproduced by its projection onto the basis
    const coefficients = rowProducts(a, basis);
    for (let i = 0; i < 5; i++) for (let k = 0; k < 9; k++) {
      let back = 0;
      for (let b = 0; b < rank; b++) back += coefficients.data[i * rank + b] * basis.data[b * 9 + k];
      assert.ok(Math.abs(back - a.data[i * 9 + k]) <= 1e-14);
    }
  });

  test('singular values of a matrix with known ones (U diag V^T)', () => {
    const sigma = [5, 2, 0.5, 1e-3];
    const u = randomRotation(6, 7);
    const v = randomRotation(4, 8);
    const a = matrix(6, 4);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 4; k++) a.data[i * 4 + j] += u.data[k * 6 + i] * sigma[k] * v.data[k * 4 + j];
    const got = singularValues(a);
    sigma.forEach((s, i) => assert.ok(Math.abs(got[i] - s) <= 1e-12 * 5, `sigma ${i}: ${got[i]}`));
  });
});

describe('principal angles and distances', () => {
  test('constructed subspaces: angles from 1e-6 rad to pi/2 come back within 1e-3 relative (Gr(2, 32) and Gr(5, 40))', () => {
    const cases: number[][] = [[1e-6, 0.3], [1e-6, 2e-6], [0, 1e-5], [1e-4, Math.PI / 2], [0.7, 1.2], [1e-6, 1e-3, 0.1, 1.0, 1.5]];
    cases.forEach((thetas, c) => {
      const n = thetas.length === 2 ? 32 : 40;
      const { a, b } = constructedPair(n, thetas, 10 + c);
      const { angles } = principalAnglesOfRows(a, b);
      const expected = [...thetas].sort((x, y) => x - y);
      expected.forEach((t, i) => {
        const err = Math.abs(angles[i] - t);
        assert.ok(t === 0 ? err <= 1e-12 : err <= 1e-3 * t, `case ${c} angle ${i}: ${angles[i]} vs ${t}`);
      });
    });
  });

  test('the 2-plane closed forms agree with the general routine, and keep 1e-6 rad angles', () => {
    const rand = seededRandom(11);
    const r = 12;
    for (let trial = 0; trial < 30; trial++) {
      const thetas = [10 ** (-6 + 6 * rand()), rand() * Math.PI / 2];
      const { a, b } = constructedPair(r, thetas, 100 + trial);
      // planes from (non-orthonormal) spanning pairs: mix each basis by an invertible 2 x 2
      const mix = (m: Matrix, p: number, q: number, s: number, t: number) =>
        [Array.from({ length: r }, (_, k) => p * m.data[k] + q * m.data[r + k]), Array.from({ length: r }, (_, k) => s * m.data[k] + t * m.data[r + k])];
      const [a0, a1] = mix(a, 2, 0.3, -1, 0.5);
      const [b0, b1] = mix(b, 0.1, 3, 1, 1);
      // z rows: t=0: a1, t=1: a0 (plane at t=1 with offset 1 is span(a0, a1)); t=2: b1, t=3: b0
      const z = Float64Array.from([...a1, ...a0, ...b1, ...b0]);
      const planes = tokenPlanes(z, 4, r, 1, 'previous');
      const pair = [0, 0];
      planeAngles(planes, 0, 2, pair);
      const expected = [...thetas].sort((x, y) => x - y);
      pair.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-3 * expected[i], `trial ${trial}: ${pair} vs ${expected}`));
      const general = principalAnglesOfRows(matrix(2, r, [...a0, ...a1]), matrix(2, r, [...b0, ...b1])).angles;
      pair.forEach((v, i) => assert.ok(Math.abs(v - general[i]) <= 1e-9 * Math.max(1, general[i] * 1e3)));
    }
  });

  test('metrics from angles: closed forms, and the Fubini-Study angle from Plücker inner products', () => {
    const angles = [0.3, 1.1];
    const [c1, c2] = angles.map(Math.cos);
    const [s1, s2] = angles.map(Math.sin);
    const expected: Record<GrassmannMetric, number> = {
      geodesic: Math.hypot(0.3, 1.1),
      chordal: 2 * Math.hypot(Math.sin(0.15), Math.sin(0.55)),
      projection: Math.hypot(s1, s2),
      projection2: s2,
      binetCauchy: Math.sqrt(1 - c1 * c1 * c2 * c2),
      fubiniStudy: Math.acos(c1 * c2),
      martin: Math.sqrt(-Math.log(c1 * c1 * c2 * c2)),
    };
    for (const metric of GRASSMANN_METRICS) assert.ok(Math.abs(distanceFromAngles(metric, angles) - expected[metric]) <= 1e-14, metric);
    assert.equal(distanceFromAngles('martin', [0.2, Math.PI / 2]), Infinity);
    // tiny angles keep relative accuracy where 1 - cos^2 would cancel
    assert.ok(Math.abs(distanceFromAngles('binetCauchy', [1e-9, 0]) - 1e-9) <= 1e-18);
    assert.ok(Math.abs(distanceFromAngles('fubiniStudy', [3e-9, 4e-9]) - 5e-9) <= 1e-17);
  });

  const planeSets = fc.record({
    r: fc.integer({ min: 3, max: 8 }),
    T: fc.integer({ min: 4, max: 9 }),
    seed: fc.integer({ min: 1, max: 1e6 }),
  });

  test('plane distance matrices: symmetric, zero diagonal, triangle inequality (geodesic), basis invariance, |<p_hat_A, p_hat_B>| = cos theta1 cos theta2', () => {
    fc.assert(
      fc.property(planeSets, ({ r, T, seed }) => {
        const rand = seededRandom(seed);
        const z = Float64Array.from({ length: T * r }, () => rand() - 0.5);
        const planes = tokenPlanes(z, T, r, 1, 'previous');
        const N = planes.positions.length;
        const { matrix: D, angles } = planeDistanceMatrix(planes, 'geodesic');
        for (let i = 0; i < N; i++) {
          assert.equal(D[i * N + i], 0);
          for (let j = 0; j < N; j++) {
            assert.equal(D[i * N + j], D[j * N + i]);
            for (let k = 0; k < N; k++) assert.ok(D[i * N + k] <= D[i * N + j] + D[j * N + k] + 1e-12, 'triangle inequality');
          }
        }
        // Plücker inner product = product of cosines (grassmann-math.md §2)
        const plucker = planesAtOffset(Float32Array.from(z), T, 1, { reducedDim: r, pairing: 'previous' });
        const P = (r * (r - 1)) / 2;
        for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) {
          let dot = 0;
          for (let k = 0; k < P; k++) dot += plucker.coordinates[i * P + k] * plucker.coordinates[j * P + k];
          const product = Math.cos(angles[(i * N + j) * 2]) * Math.cos(angles[(i * N + j) * 2 + 1]);
          assert.ok(Math.abs(Math.abs(dot) - product) <= 1e-6, `|<p_i, p_j>| ${Math.abs(dot)} vs ${product}`);
          // and the Fubini-Study distance: cos(d_FS) = |<p_hat_A, p_hat_B>| (compared as cosines:
          // arccos of a float32 inner product near 1 is the ill-conditioned way round)
          const fs = distanceFromAngles('fubiniStudy', [angles[(i * N + j) * 2], angles[(i * N + j) * 2 + 1]]);
          assert.ok(Math.abs(Math.cos(fs) - Math.abs(dot)) <= 1e-6, `cos d_FS ${Math.cos(fs)} vs ${Math.abs(dot)}`);
        }
        // Any invertible 2 x 2 change of basis of (z_t, z_{t-1}) leaves every distance unchanged:
        // rebuild each plane from (p z_t + q z_{t-1}, s z_t + u z_{t-1}).
        const [p, q, s, u] = [1 + rand(), rand() - 0.5, rand() - 0.5, 1 + rand()];
        const planesMixed = tokenPlanes(z, T, r, 1, 'previous');
        for (let i = 0; i < N; i++) {
          const t = planes.positions[i];
          const a = Float64Array.from({ length: r }, (_, k) => p * z[t * r + k] + q * z[(t - 1) * r + k]);
          const b = Float64Array.from({ length: r }, (_, k) => s * z[t * r + k] + u * z[(t - 1) * r + k]);
          const pair = tokenPlanes(Float64Array.from([...b, ...a]), 2, r, 1, 'previous');
          planesMixed.bases.set(pair.bases, i * 2 * r);
        }
        const again = planeDistanceMatrix(planesMixed, 'geodesic').matrix;
        for (let k = 0; k < D.length; k++) assert.ok(Math.abs(again[k] - D[k]) <= 1e-9, 'invariant under a change of basis');
      }),
      { numRuns: 60, seed: 2512 },
    );
  });

  test('degenerate planes are flagged and get NaN; nearest planes without the matrix', () => {
    const r = 4;
    // z_2 = 3 z_1: the plane at t = 2 (offset 1) is degenerate
    const z = Float64Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1]);
    const planes = tokenPlanes(z, 5, r, 1, 'previous');
    assert.deepEqual(planes.positions, [1, 2, 3, 4]);
    assert.deepEqual(planes.degenerate, [false, true, false, false]);
    const m = planeDistanceMatrix(planes, 'chordal');
    assert.deepEqual(m.degenerate, [2]);
    assert.ok(Number.isNaN(m.matrix[1 * 4 + 0]) && Number.isNaN(m.matrix[0 * 4 + 1]) && Number.isNaN(m.matrix[1 * 4 + 1]));
    const near = nearestPlanes(planes, 1, 2, 'chordal');
    assert.deepEqual(near.map((n) => n.position), [3, 4].sort((a, b) => m.matrix[0 * 4 + planes.positions.indexOf(a)] - m.matrix[0 * 4 + planes.positions.indexOf(b)]));
    near.forEach((n) => assert.equal(n.distance, m.matrix[planes.positions.indexOf(n.position)]));
    assert.deepEqual(nearestPlanes(planes, 2, 3, 'chordal'), []);
    assert.throws(() => nearestPlanes(planes, 0, 1, 'chordal'), /no plane at position 0/);
  });
});

describe('Plücker vectors as matrices and their residual', () => {
  test('p_hat as an antisymmetric matrix is a b^T - b a^T, and X^3 = -X for orthonormal a, b', () => {
    const r = 6;
    const rand = seededRandom(21);
    const z = Float32Array.from({ length: 2 * r }, () => rand() - 0.5);
    const { coordinates } = planesAtOffset(z, 2, 1, { reducedDim: r, pairing: 'previous' });
    const x = antisymmetricMatrix(coordinates, 0, r);
    const a = Array.from(z.subarray(r, 2 * r)); // z_1
    const b = Array.from(z.subarray(0, r)); // z_0
    const pairNorm = Math.sqrt(a.reduce((s, v) => s + v * v, 0) * b.reduce((s, v) => s + v * v, 0) - a.reduce((s, v, i) => s + v * b[i], 0) ** 2);
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) {
      assert.ok(Math.abs(x[i * r + j] - (a[i] * b[j] - b[i] * a[j]) / pairNorm) <= 1e-6);
      assert.equal(x[i * r + j] + x[j * r + i], 0);
    }
    assert.equal(x[2 * r + 4], coordinates[pairIndex(r, 2, 4)]);
    const x2 = new Float64Array(r * r);
    const x3 = new Float64Array(r * r);
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) for (let k = 0; k < r; k++) x2[i * r + j] += x[i * r + k] * x[k * r + j];
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) for (let k = 0; k < r; k++) x3[i * r + j] += x2[i * r + k] * x[k * r + j];
    for (let k = 0; k < r * r; k++) assert.ok(Math.abs(x3[k] + x[k]) <= 1e-6, 'X^3 = -X');
  });

  test('the residual is ~0 on planes and 1 on e0^e1 + e2^e3, which is not a plane', () => {
    const r = 5;
    const P = (r * (r - 1)) / 2;
    const rand = seededRandom(22);
    const z = Float32Array.from({ length: 4 * r }, () => rand() - 0.5);
    const { coordinates } = planesAtOffset(z, 4, 1, { reducedDim: r, pairing: 'previous' });
    for (let row = 0; row < 3; row++) assert.ok(pluckerResidual(coordinates, row * P, r) <= 1e-7);
    const bivector = new Float64Array(P);
    bivector[pairIndex(r, 0, 1)] = 1;
    bivector[pairIndex(r, 2, 3)] = 1;
    assert.equal(pluckerResidual(bivector, 0, r), 1);
  });
});

describe('parity with the PyTorch reference distances (layer 0, offset 1)', () => {
  const manifest = require(join(FIXTURE, 'reference', 'manifest.json')) as { cases: { file: string }[] };
  for (const c of manifest.cases) {
    test(`${c.file}: geodesic and principal angles from the reference z equal the reference to its float32 rounding`, async () => {
      const ref = await openSafetensors(join(FIXTURE, c.file));
      try {
        const z = await readFloat32(ref.tensors.get('layers.0.z')!);
        const [T, r] = ref.tensors.get('layers.0.z')!.shape;
        const geodesic = await readFloat32(ref.tensors.get('distances.layers.0.delta.1.geodesic')!);
        const angles = await readFloat32(ref.tensors.get('distances.layers.0.delta.1.principal_angles')!);
        const ours = planeDistanceMatrix(tokenPlanes(z, T, r, 1, 'previous'), 'geodesic');
        assert.equal(ours.matrix.length, geodesic.length);
        let worst = 0;
        let worstAngle = 0;
        for (let k = 0; k < geodesic.length; k++) worst = Math.max(worst, Math.abs(ours.matrix[k] - geodesic[k]));
        for (let k = 0; k < angles.length; k++) worstAngle = Math.max(worstAngle, Math.abs(ours.angles[k] - angles[k]));
        console.log(`[${c.file}] max |geodesic - reference| ${worst.toExponential(2)}, angles ${worstAngle.toExponential(2)}`);
        // the reference is stored as float32: 1e-9 is float32 rounding of values up to 2.2
        assert.ok(worst <= 3e-7 && worstAngle <= 2e-7, `${worst} ${worstAngle}`);
      } finally {
        await ref.close();
      }
    });
  }

  test('from the z our runtime computes (cpu backend): every case within 1e-5', async () => {
    await tf.setBackend('cpu');
    const checkpoint = await openSafetensors(join(FIXTURE, 'model.safetensors'));
    const described = await describeModel(checkpoint);
    assert.ok(described.recognized);
    const model = await GrassmannModel.load(checkpoint, described.spec);
    try {
      for (const c of manifest.cases as { file: string; input_ids: number[] }[]) {
        const ref = await openSafetensors(join(FIXTURE, c.file));
        const geodesic = await readFloat32(ref.tensors.get('distances.layers.0.delta.1.geodesic')!);
        const angles = await readFloat32(ref.tensors.get('distances.layers.0.delta.1.principal_angles')!);
        await ref.close();
        const z = (await model.forward(c.input_ids, { taps: ['layers.0.z'] })).taps.get('layers.0.z')!;
        const ours = planeDistanceMatrix(tokenPlanes(z.data, z.shape[0], z.shape[1], 1, 'previous'), 'geodesic');
        let worst = 0;
        for (let k = 0; k < geodesic.length; k++) worst = Math.max(worst, Math.abs(ours.matrix[k] - geodesic[k]));
        for (let k = 0; k < angles.length; k++) worst = Math.max(worst, Math.abs(ours.angles[k] - angles[k]));
        console.log(`[${c.file}] from the runtime's z: max error ${worst.toExponential(2)}`);
        assert.ok(worst <= 1e-5, `${c.file}: ${worst}`);
      }
    } finally {
      model.dispose();
      await checkpoint.close();
    }
  });
});
