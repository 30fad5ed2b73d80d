/**
 * The checkpoint editor's analyses (src/core/analysis.ts) on the cpu backend: tensor summaries
 * against direct computations and a known spectrum; `analyze` streams the run first, then each
 * layer, with the same values as the `features` operation; planes and distances equal the
 * reference; cancellation stops between layers; `forget` re-reads a changed file. Also the CSV
 * writer of the exports.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { writeSafetensors } from '../../src/checkpoint/safetensorsWriter';
import { readFloat32 } from '../../src/checkpoint/tensorData';
import { AnalysisCache, summariseTensor, type AnalysisPiece } from '../../src/core/analysis';
import { featuresOfText } from '../../src/core/features';
import { orthonormalRows, matrix } from '../../src/geometry/linalg';
import { uniformValues } from '../../src/model/synthetic';
import { toCsv } from '../../webview/csv';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'reference', 'manifest.json'), 'utf8'));
const case0 = manifest.cases[0] as { file: string; text: string; input_ids: number[] };

before(async () => {
  await tf.setBackend('cpu');
});

describe('tensor summaries', () => {
  test('statistics and histogram equal direct sums; NaN and infinities are counted apart', async () => {
    const values = Float32Array.from([1, -2, 3.5, 0, 0, NaN, Infinity, 2]);
    const s = await summariseTensor('t', 'F32', [8], values);
    const finite = [1, -2, 3.5, 0, 0, 2];
    const mean = finite.reduce((a, v) => a + v, 0) / 6;
    assert.equal(s.min, -2);
    assert.equal(s.max, 3.5);
    assert.ok(Math.abs(s.mean - mean) <= 1e-12);
    assert.ok(Math.abs(s.std - Math.sqrt(finite.reduce((a, v) => a + (v - mean) ** 2, 0) / 6)) <= 1e-12);
    assert.deepEqual([s.nan, s.infinite, s.zeros, s.count], [1, 1, 2, 8]);
    assert.equal(s.histogram.counts.reduce((a, c) => a + c, 0), 6);
    assert.equal(s.histogram.edges[0], -2);
    assert.equal(s.histogram.edges.at(-1), 3.5);
    assert.equal(s.spectrum, null);
    assert.match(s.spectrumNote, /1 dimension/);
  });

  test('the spectrum of U diag(sigma) V^T is sigma (float32 Gram: within 1e-4 relative)', async () => {
    const sigma = [9, 4, 1.5, 0.5];
    const [m, n] = [6, 5];
    const u = orthonormalRows(matrix(4, m, uniformValues(4 * m, 1))).basis;
    const v = orthonormalRows(matrix(4, n, uniformValues(4 * n, 2))).basis;
    assert.equal(u.rows + v.rows, 8);
    const values = new Float32Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let k = 0; k < 4; k++) values[i * n + j] += u.data[k * m + i] * sigma[k] * v.data[k * n + j];
    for (const [shape, data] of [[[m, n], values], [[n, m], transpose(values, m, n)]] as const) {
      const s = await summariseTensor('w', 'F32', [...shape], data);
      assert.ok(s.spectrum, s.spectrumNote);
      sigma.forEach((x, i) => assert.ok(Math.abs(s.spectrum![i] - x) <= 1e-4 * x, `${shape} sigma ${i}: ${s.spectrum![i]}`));
      assert.ok(s.spectrum![4] <= 1e-3, 'rank 4');
    }
  });
});

function transpose(values: Float32Array, m: number, n: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = values[i * n + j];
  return out;
}

describe('the analysis cache', () => {
  const cache = new AnalysisCache();
  const ref = { path: join(FIXTURE, 'model.safetensors') };
  after(() => cache.dispose());

  test('analyze streams the run, then every layer, with the values of features', async () => {
    const pieces: AnalysisPiece[] = [];
    const progress: number[] = [];
    const result = await cache.analyze({ ...ref, text: case0.text }, { cancelled: false, progress: (p) => progress.push(p.done), partial: (d) => pieces.push(d as AnalysisPiece) });
    assert.deepEqual(pieces.map((p) => p.kind), ['run', 'layer', 'layer', 'layer', 'layer']);
    assert.deepEqual(progress, [1, 2, 3, 4]);
    assert.deepEqual(result.run.ids, case0.input_ids);
    const reference = await openSafetensors(join(FIXTURE, case0.file));
    const nll = await readFloat32(reference.tensors.get('nll')!);
    await reference.close();
    result.run.loss.forEach((v, i) => assert.ok(Math.abs(v - nll[i]) <= 1e-4, `loss ${i}`));
    const features = await featuresOfText(ref.path, { text: case0.text, layer: 2 });
    const [expected] = features.layers;
    const got = result.layers[2];
    assert.deepEqual(got.alphaMean, expected.alphaMean);
    got.offsets.forEach((o, k) => {
      assert.deepEqual(o.area, expected.offsets[k].area);
      assert.deepEqual(o.share, expected.offsets[k].share);
      assert.deepEqual(o.residual, [], 'the editor skips the residuals here (the Plücker view has them)');
    });
    // the same text again: served from the cache, same objects
    const again = await cache.analyze({ ...ref, text: case0.text });
    assert.equal(again.run, result.run);
    assert.equal(again.layers[1], result.layers[1]);
  });

  test('planes and distances of a (layer, offset) equal the reference taps and distances', async () => {
    const reference = await openSafetensors(join(FIXTURE, case0.file));
    try {
      const planes = await cache.planes({ ...ref, text: case0.text, layer: 0, offset: 1 });
      const p = await readFloat32(reference.tensors.get('layers.0.plucker.1')!);
      let worst = 0;
      p.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - planes.coordinates[i]))));
      assert.ok(worst <= 1e-4, `p_hat ${worst}`);
      assert.ok(Math.max(...planes.residual) <= 1e-6);
      const distances = await cache.distances({ ...ref, text: case0.text, layer: 0, offset: 1, metric: 'geodesic' });
      const geodesic = await readFloat32(reference.tensors.get('distances.layers.0.delta.1.geodesic')!);
      worst = 0;
      geodesic.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - distances.matrix[i]))));
      assert.ok(worst <= 1e-5, `geodesic ${worst}`);
      const near = await cache.nearest({ ...ref, text: case0.text, layer: 0, offset: 1, position: 5, k: 3, metric: 'geodesic' });
      const N = distances.positions.length;
      const row = Array.from(distances.matrix.subarray(4 * N, 5 * N)).map((d, j) => ({ d, t: distances.positions[j] })).filter((x) => x.t !== 5).sort((a, b) => a.d - b.d);
      assert.deepEqual(near.map((x) => x.position), row.slice(0, 3).map((x) => x.t));
      await assert.rejects(cache.planes({ ...ref, text: case0.text, layer: 9, offset: 1 }), /layer 9 does not exist/);
    } finally {
      await reference.close();
    }
  });

  test('a cancelled analysis stops before the next layer', async () => {
    let layers = 0;
    const control = { cancelled: false, progress: () => undefined, partial: (d: unknown) => { if ((d as AnalysisPiece).kind === 'layer' && ++layers === 2) control.cancelled = true; } };
    await assert.rejects(cache.analyze({ ...ref, text: 'a different text, so nothing is cached' }, control), (e: Error) => e.name === 'OperationCancelled');
    assert.equal(layers, 2);
  });

  test('forget drops a file that changed on disk: the next request reads the new weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gl-analysis-'));
    try {
      const path = join(dir, 'model.safetensors');
      copyFileSync(join(FIXTURE, 'model.safetensors'), path);
      copyFileSync(join(FIXTURE, 'config.json'), join(dir, 'config.json'));
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt']) copyFileSync(join(FIXTURE, f), join(dir, f));
      const before = await cache.tensor({ path, name: 'ln_f.bias' });
      const source = await openSafetensors(path);
      const tensors = await Promise.all([...source.tensors.values()].map(async (t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: (await readFloat32(t)).map((v) => (t.name === 'ln_f.bias' ? v + 1 : v)) })));
      await source.close();
      await writeSafetensors(path, tensors);
      // (the cached header no longer matches the file: the editor forgets on every change)
      await cache.forget(path);
      const after = await cache.tensor({ path, name: 'ln_f.bias' });
      assert.ok(Math.abs(after.mean - (before.mean + 1)) <= 1e-6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CSV export', () => {
  test('quotes what needs quoting, leaves non-finite numbers empty', () => {
    assert.equal(toCsv([{ a: 1, b: 'x,y', c: 'say "hi"' }, { a: NaN, b: null, c: 'line\nbreak' }]), 'a,b,c\n1,"x,y","say ""hi"""\n,,"line\nbreak"\n');
    assert.equal(toCsv([]), '');
  });
});
