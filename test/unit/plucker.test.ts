/**
 * Plücker coordinates of token planes (src/model/plucker.ts) against the identities of
 * grassmann-math.md §2; their parity with PyTorch is in parity.test.ts (layers.l.plucker.d taps).
 * Tolerance: 1e-6 (float32 outputs of float64 arithmetic, coordinates of unit vectors).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planesAtOffset, type PlaneLayout } from '../../src/model/plucker';

function layoutFor(r: number, pairing: 'previous' | 'next'): PlaneLayout {
  return { reducedDim: r, pairing };
}

/** Index of pair (i, j), i < j, in row-major order. */
function pairIndex(r: number, i: number, j: number): number {
  return i * r - (i * (i + 1)) / 2 + (j - i - 1);
}

const sequences = fc
  .record({ r: fc.integer({ min: 4, max: 7 }), T: fc.integer({ min: 2, max: 8 }), offset: fc.integer({ min: 1, max: 9 }), pairing: fc.constantFrom('previous' as const, 'next' as const) })
  .chain(({ r, T, offset, pairing }) =>
    fc.record({
      r: fc.constant(r), T: fc.constant(T), offset: fc.constant(offset), pairing: fc.constant(pairing),
      z: fc.float32Array({ minLength: r * T, maxLength: r * T, min: -4, max: 4, noNaN: true, noDefaultInfinity: true }),
    }),
  );

describe('Plücker coordinates of token planes', () => {
  test('rows are the positions with a partner; ||p||^2 = det Gram; unit rows satisfy the quadratic Plücker relations', () => {
    fc.assert(
      fc.property(sequences, ({ r, T, offset, pairing, z }) => {
        const layout = layoutFor(r, pairing);
        const planes = planesAtOffset(z, T, offset, layout);
        assert.equal(planes.count, Math.max(0, T - offset));
        assert.equal(planes.first, pairing === 'previous' ? offset : 0);
        const P = (r * (r - 1)) / 2;
        assert.equal(planes.coordinates.length, planes.count * P);
        for (let row = 0; row < planes.count; row++) {
          const t = planes.first + row;
          const s = pairing === 'previous' ? t - offset : t + offset;
          const a = Array.from(z.subarray(t * r, (t + 1) * r));
          const b = Array.from(z.subarray(s * r, (s + 1) * r));
          const dot = (u: number[], v: number[]) => u.reduce((acc, x, k) => acc + x * v[k], 0);
          const gram = dot(a, a) * dot(b, b) - dot(a, b) ** 2;
          const norm = planes.norms[row];
          assert.ok(Math.abs(norm * norm - gram) <= 1e-6 * Math.max(1, dot(a, a) * dot(b, b)), `det Gram ${gram} vs ${norm * norm}`);
          const p = planes.coordinates.subarray(row * P, (row + 1) * P);
          if (norm < 1e-3) continue; // nearly parallel: the direction is ill-conditioned
          let length = 0;
          for (let k = 0; k < P; k++) length += p[k] * p[k];
          assert.ok(Math.abs(Math.sqrt(length) - 1) <= 1e-6, `|p_hat| = ${Math.sqrt(length)}`);
          const c = (i: number, j: number) => p[pairIndex(r, i, j)];
          for (let i = 0; i < r; i++) for (let j = i + 1; j < r; j++) for (let k = j + 1; k < r; k++) for (let l = k + 1; l < r; l++) {
            const residual = c(i, j) * c(k, l) - c(i, k) * c(j, l) + c(i, l) * c(j, k);
            assert.ok(Math.abs(residual) <= 1e-6, `Plücker relation (${i},${j},${k},${l}): ${residual}`);
          }
        }
      }),
      { numRuns: 200, seed: 2512 },
    );
  });

  test('coordinates are p_ij = a_i b_j - a_j b_i in pair order; parallel states give a zero plane', () => {
    const r = 4;
    // z_0 = e0 + 2 e1, z_1 = 3 e2 - e3, z_2 = -2 z_0 (parallel to z_0)
    const z = Float32Array.from([1, 2, 0, 0, 0, 0, 3, -1, -2, -4, 0, 0]);
    const layout = layoutFor(r, 'previous');
    const one = planesAtOffset(z, 3, 1, layout);
    // plane (z_1, z_0): a = z_1, b = z_0; pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    const p = [0 * 2 - 0 * 1, 0 * 0 - 3 * 1, 0 * 0 - -1 * 1, 0 * 0 - 3 * 2, 0 * 0 - -1 * 2, 3 * 0 - -1 * 0];
    const norm = Math.hypot(...p);
    assert.ok(Math.abs(one.norms[0] - norm) <= 1e-6);
    p.forEach((v, k) => assert.ok(Math.abs(one.coordinates[k] - v / norm) <= 1e-6, `pair ${k}`));
    const two = planesAtOffset(z, 3, 2, layout); // plane (z_2, z_0): parallel
    assert.equal(two.count, 1);
    assert.equal(two.norms[0], 0);
    assert.ok(two.coordinates.every((v) => v === 0));
    assert.equal(planesAtOffset(z, 3, 3, layout).count, 0);
  });
});
