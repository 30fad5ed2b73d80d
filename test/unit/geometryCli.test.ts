/**
 * The geometry verbs of the CLI (features, distances, drift, compare), run from the bundle like
 * cli.test.ts, against the PyTorch reference taps and distances, independent computations (an
 * SVD from ml-matrix, norms written out here) and invariances.
 *
 * Tolerances: 1e-4 absolute for values derived from the forward pass (the parity bound of the
 * runtime), 1e-5 for distances (the bound), 1e-9 for weight-only geometry in float64.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Matrix as MlMatrix, SingularValueDecomposition } from 'ml-matrix';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { writeSafetensors, type TensorToWrite } from '../../src/checkpoint/safetensorsWriter';
import { readFloat32 } from '../../src/checkpoint/tensorData';
import { openTorchCheckpoint } from '../../src/checkpoint/torch';
import { seededRandom } from '../../src/model/synthetic';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const tiny = join(root, 'test/fixtures/tiny-grassmann');
const manifest = JSON.parse(readFileSync(join(tiny, 'reference/manifest.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'gl-geometry-'));
const case0 = manifest.cases[0] as { file: string; text: string; input_ids: number[] };

function gl(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(...args: string[]) {
  const r = gl(...args, '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function referenceTaps(file: string, names: string[]): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const ref = await openSafetensors(join(tiny, file));
  try {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const n of names) out.set(n, { shape: ref.tensors.get(n)!.shape, data: await readFloat32(ref.tensors.get(n)!) });
    return out;
  } finally {
    await ref.close();
  }
}

/** Principal angles between row spaces, independently: ml-matrix SVD bases, arccos of the singular values of Qa^T Qb. */
function anglesBySvd(a: Float32Array, b: Float32Array, rows: number, cols: number): number[] {
  const basis = (v: Float32Array) => {
    const m = new MlMatrix(Array.from({ length: rows }, (_, i) => Array.from(v.subarray(i * cols, (i + 1) * cols))));
    return new SingularValueDecomposition(m, { autoTranspose: true }).rightSingularVectors.subMatrix(0, cols - 1, 0, rows - 1);
  };
  const cosines = new SingularValueDecomposition(basis(a).transpose().mmul(basis(b))).diagonal;
  return cosines.map((c) => Math.acos(Math.min(1, c))).sort((x, y) => x - y);
}

describe('features', () => {
  test('p_hat and areas equal the reference taps; contributions, shares, blend balance and gate openness equal independent sums', async () => {
    const report = json('features', join(tiny, 'checkpoints/best.pt'), '--text', case0.text, '--layer', '0');
    assert.deepEqual(report.tokens.map((t: { id: number }) => t.id), case0.input_ids);
    const T = case0.input_ids.length;
    const [layer] = report.layers;
    assert.equal(layer.layer, 0);
    assert.deepEqual(layer.offsets.map((o: { offset: number }) => o.offset), [1, 2, 4, 8, 12, 16]);
    const ref = await referenceTaps(case0.file, ['layers.0.mix_in', 'layers.0.g', 'layers.0.alpha', ...[1, 2, 4, 8, 12, 16].map((d) => `layers.0.plucker_norm.${d}`), 'layers.0.plucker.1']);
    const d = ref.get('layers.0.alpha')!.shape[1];
    // W_plu and b_plu of layer 0, to compute ||W_plu p_hat + b_plu|| from the reference p_hat
    const ck = await openTorchCheckpoint(join(tiny, 'checkpoints/best.pt'));
    const W = await readFloat32(ck.tensors.get('blocks.0.grassmann.W_plu.weight')!);
    const bias = await readFloat32(ck.tensors.get('blocks.0.grassmann.W_plu.bias')!);
    await ck.close();
    const P = W.length / d;
    for (const o of layer.offsets) {
      assert.deepEqual(o.positions, Array.from({ length: T - o.offset }, (_, i) => o.offset + i));
      const area = ref.get(`layers.0.plucker_norm.${o.offset}`)!.data;
      o.area.forEach((v: number, i: number) => assert.ok(Math.abs(v - area[i]) <= 1e-4 * Math.max(1, area[i]), `area d=${o.offset} row ${i}`));
      assert.ok(o.degenerate.every((x: boolean) => x === false));
      assert.ok(Math.max(...o.residual) <= 1e-6);
    }
    // ||W_plu p_hat + b_plu|| for offset 1 from the reference p_hat
    const p = ref.get('layers.0.plucker.1')!.data;
    layer.offsets[0].contributionNorm.forEach((v: number, row: number) => {
      let sq = 0;
      for (let o = 0; o < d; o++) {
        let s = bias[o];
        for (let k = 0; k < P; k++) s += W[o * P + k] * p[row * P + k];
        sq += s * s;
      }
      assert.ok(Math.abs(v - Math.sqrt(sq)) <= 1e-4 * Math.max(1, Math.sqrt(sq)), `contribution norm row ${row}`);
    });
    // shares add up to 1 at every position with a partner
    for (let t = 1; t < T; t++) {
      const sum = layer.offsets.reduce((s: number, o: { positions: number[]; share: number[] }) => s + (o.positions.includes(t) ? o.share[o.positions.indexOf(t)] : 0), 0);
      assert.ok(Math.abs(sum - 1) <= 1e-9, `shares at ${t} add up to ${sum}`);
    }
    // gate openness and blend balance from the reference h, g, alpha
    const [h, g, alpha] = ['mix_in', 'g', 'alpha'].map((n) => ref.get(`layers.0.${n}`)!.data);
    for (let t = 0; t < T; t++) {
      let mean = 0, uu = 0, uv = 0, vv = 0;
      for (let i = t * d; i < (t + 1) * d; i++) {
        mean += alpha[i] / d;
        const u = alpha[i] * h[i];
        const v = (1 - alpha[i]) * g[i];
        uu += u * u; uv += u * v; vv += v * v;
      }
      assert.ok(Math.abs(layer.alphaMean[t] - mean) <= 1e-5);
      assert.ok(Math.abs(layer.blend.hShare[t] - (uu + uv) / (uu + 2 * uv + vv)) <= 1e-4, `h share at ${t}`);
    }
    assert.equal(layer.alpha.length, T);
    assert.equal(layer.alpha[0].length, d);
    assert.equal(layer.offsets[0].coordinates, undefined, 'p_hat only with --layer and --window');
  });

  test('with --layer and --window: p_hat per position equals the reference tap', async () => {
    const report = json('features', join(tiny, 'model.safetensors'), '--text', case0.text, '--layer', '0', '--window', '1');
    const [offset] = report.layers[0].offsets;
    const p = (await referenceTaps(case0.file, ['layers.0.plucker.1'])).get('layers.0.plucker.1')!;
    let worst = 0;
    offset.coordinates.forEach((row: number[], i: number) => row.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - p.data[i * p.shape[1] + k])))));
    assert.ok(worst <= 1e-4, `p_hat error ${worst}`);
  });

  test('all layers by default; bad layer or window: exit 1 naming the file', () => {
    const all = json('features', join(tiny, 'model.safetensors'), '--text', 'the licensor grants you');
    assert.deepEqual(all.layers.map((l: { layer: number }) => l.layer), [0, 1, 2, 3]);
    assert.deepEqual(all.layers[0].offsets.map((o: { offset: number }) => o.offset), [1, 2, 4], 'offsets >= T are skipped (T = 6)');
    const badLayer = gl('features', join(tiny, 'model.safetensors'), '--text', 'the', '--layer', '4');
    assert.equal(badLayer.code, 1);
    assert.match(badLayer.stderr, /model\.safetensors: layer 4 does not exist: the model has 4 layers \(0\.\.3\)/);
    const badWindow = gl('features', join(tiny, 'model.safetensors'), '--text', 'the licensor grants you', '--window', '3');
    assert.equal(badWindow.code, 1);
    assert.match(badWindow.stderr, /config\.json: window 3 is not in the model's window list \[1, 2, 4, 8, 12, 16\] \(from config\)/);
    const short = gl('features', join(tiny, 'model.safetensors'), '--text', 'the licensor', '--window', '8');
    assert.equal(short.code, 1);
    assert.match(short.stderr, /window 8 has no planes in a text of 4 tokens/);
  });
});

describe('distances', () => {
  test('geodesic matrix and principal angles equal the reference (layer 0, offset 1) within 1e-5', async () => {
    const report = json('distances', join(tiny, 'checkpoints/best.pt'), '--text', case0.text, '--layer', '0', '--window', '1');
    const T = case0.input_ids.length;
    assert.equal(report.metric, 'geodesic');
    assert.deepEqual(report.positions, Array.from({ length: T - 1 }, (_, i) => i + 1));
    const ref = await referenceTaps(case0.file, ['distances.layers.0.delta.1.geodesic', 'distances.layers.0.delta.1.principal_angles']);
    const geodesic = ref.get('distances.layers.0.delta.1.geodesic')!.data;
    const angles = ref.get('distances.layers.0.delta.1.principal_angles')!.data;
    const N = T - 1;
    let worst = 0;
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) {
      worst = Math.max(worst, Math.abs(report.matrix[i][j] - geodesic[i * N + j]));
      worst = Math.max(worst, Math.abs(report.angles[i][j][0] - angles[(i * N + j) * 2]), Math.abs(report.angles[i][j][1] - angles[(i * N + j) * 2 + 1]));
    }
    assert.ok(worst <= 1e-5, `max error ${worst}`);
    assert.deepEqual(report.degenerate, []);
  });

  test('every metric is its formula of the principal angles; bad metric or missing window: exit 2', () => {
    const args = ['distances', join(tiny, 'model.safetensors'), '--text', 'the licensor grants you a worldwide license', '--layer', '2', '--window', '2'];
    const formulas: Record<string, (a: number, b: number) => number> = {
      chordal: (a, b) => 2 * Math.hypot(Math.sin(a / 2), Math.sin(b / 2)),
      projection: (a, b) => Math.hypot(Math.sin(a), Math.sin(b)),
      projection2: (_a, b) => Math.sin(b),
      binetCauchy: (a, b) => Math.sqrt(1 - (Math.cos(a) * Math.cos(b)) ** 2),
      fubiniStudy: (a, b) => Math.acos(Math.cos(a) * Math.cos(b)),
      martin: (a, b) => Math.sqrt(-Math.log((Math.cos(a) * Math.cos(b)) ** 2)),
    };
    for (const [metric, formula] of Object.entries(formulas)) {
      const report = json(...args, '--metric', metric);
      assert.equal(report.metric, metric);
      report.matrix.forEach((row: number[], i: number) => row.forEach((v, j) => {
        if (i === j) return assert.equal(v, 0);
        const [a, b] = report.angles[i][j];
        assert.ok(Math.abs(v - formula(a, b)) <= 1e-9, `${metric} [${i}][${j}]`);
      }));
    }
    const text = gl(...args);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /layer 2, window 2, \d+ planes, geodesic distance = \|\|theta\|\|_2/);
    assert.equal(gl(...args, '--metric', 'cosine').code, 2);
    assert.equal(gl('distances', join(tiny, 'model.safetensors'), '--text', 'the', '--layer', '0').code, 2);
  });
});

describe('drift and compare', () => {
  test('drift over the fixture checkpoints folder: ordered by epoch; relative changes and W_red angles equal independent computations', async () => {
    const report = json('drift', join(tiny, 'checkpoints'));
    assert.equal(report.orderedBy, 'epoch');
    assert.deepEqual(report.checkpoints.map((c: { epoch: number }) => c.epoch), [1, 2, 3]);
    assert.match(report.checkpoints[2].path, /best\.pt$/);
    // the training script's scalars, as saved (torch.save dict entries)
    assert.deepEqual(report.checkpoints.map((c: { metrics: Record<string, number> }) => c.metrics), [
      { val_loss: 4.110446929931641, val_ppl: 60.973962569788846 },
      { val_loss: 3.8162331581115723, val_ppl: 45.43274761408276 },
      { val_loss: 3.6884889602661133, val_ppl: 39.984383295399056 },
    ]);
    assert.deepEqual(report.subspaces.map((s: { name: string }) => s.name), [0, 1, 2, 3].map((l) => `blocks.${l}.grassmann.W_red.weight`));
    const [e1, e2, best] = await Promise.all(['epoch_1.pt', 'epoch_2.pt', 'best.pt'].map((f) => openTorchCheckpoint(join(tiny, 'checkpoints', f))));
    try {
      for (const [step, a, b] of [[report.consecutive[0], e1, e2], [report.consecutive[1], e2, best], [report.toLast[0], e1, best]] as const) {
        for (const name of ['blocks.1.ffn.0.weight', 'token_embedding.weight', 'blocks.3.grassmann.W_red.weight']) {
          const entry = step.tensors.find((t: { name: string }) => t.name === name);
          const [va, vb] = [await readFloat32(a.tensors.get(name)!), await readFloat32(b.tensors.get(name)!)];
          let diff = 0, base = 0;
          va.forEach((v, i) => ((diff += (v - vb[i]) ** 2), (base += vb[i] ** 2)));
          assert.ok(Math.abs(entry.relativeChange - Math.sqrt(diff / base)) <= 1e-9, name);
          if (name.includes('W_red')) {
            const expected = anglesBySvd(va, vb, 16, 64);
            entry.subspace.angles.forEach((v: number, i: number) => assert.ok(Math.abs(v - expected[i]) <= 1e-9, `angle ${i}: ${v} vs ${expected[i]}`));
            assert.equal(entry.layer, 3);
            assert.equal(entry.role, 'reduceWeight');
          }
        }
      }
    } finally {
      await Promise.all([e1, e2, best].map((c) => c.close()));
    }
    const text = gl('drift', join(tiny, 'checkpoints'));
    assert.match(text.stdout, /3 checkpoints, ordered by epoch/);
    assert.match(text.stdout, /best\.pt \(epoch 3\)  val_loss 3\.68849, val_ppl 39\.9844/);
    assert.match(text.stdout, /layer 0 .*reduceWeight rows geodesic/);
  });

  test('drift without epochs orders by name, numbers as numbers; one checkpoint is a usage error', () => {
    const dir = join(tmp, 'run');
    mkdirSync(dir);
    copyFileSync(join(tiny, 'model.safetensors'), join(dir, 'step-10.safetensors'));
    copyFileSync(join(tiny, 'model.safetensors'), join(dir, 'step-2.safetensors'));
    const report = json('drift', join(dir, 'step-10.safetensors'), join(dir, 'step-2.safetensors'));
    assert.equal(report.orderedBy, 'name');
    assert.deepEqual(report.checkpoints.map((c: { path: string }) => c.path.slice(dir.length + 1)), ['step-2.safetensors', 'step-10.safetensors']);
    assert.ok(report.consecutive[0].tensors.every((t: { relativeChange: number; subspace?: { maxAngle: number } }) => t.relativeChange === 0 && (!t.subspace || t.subspace.maxAngle <= 1e-7)));
    assert.equal(gl('drift', join(dir, 'step-2.safetensors')).code, 2);
    const lonely = join(tmp, 'lonely');
    mkdirSync(lonely);
    copyFileSync(join(tiny, 'model.safetensors'), join(lonely, 'model.safetensors'));
    const r = gl('drift', lonely);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /lonely: drift needs at least two checkpoints; this folder has 1/);
  });

  test('compare: W_red row spaces are basis-independent (a mixed copy is at distance 0), the diagonal of a model with itself is 0, spectra equal an SVD', async () => {
    // A copy of the model whose W_red rows are mixed by an invertible matrix in every layer.
    const source = await openSafetensors(join(tiny, 'model.safetensors'));
    const tensors: TensorToWrite[] = [];
    const rand = seededRandom(42);
    for (const [name, info] of source.tensors) {
      let data = await readFloat32(info);
      if (name.endsWith('W_red.weight')) {
        const [r, d] = info.shape;
        const mix = Array.from({ length: r * r }, (_, k) => (k % (r + 1) === 0 ? 2 : 0) + rand() - 0.5);
        const mixed = new Float32Array(r * d);
        for (let i = 0; i < r; i++) for (let k = 0; k < r; k++) for (let j = 0; j < d; j++) mixed[i * d + j] += mix[i * r + k] * data[k * d + j];
        data = mixed;
      }
      tensors.push({ name, dtype: 'F32', shape: info.shape, data });
    }
    const redOf0 = await readFloat32(source.tensors.get('blocks.0.grassmann.W_red.weight')!);
    await source.close();
    const dir = join(tmp, 'mixed');
    mkdirSync(dir);
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    copyFileSync(join(tiny, 'config.json'), join(dir, 'config.json'));
    const report = json('compare', join(tiny, 'model.safetensors'), join(dir, 'model.safetensors'), '--tensor', 'blocks.0.grassmann.W_red.weight');
    for (const { reduce } of report.layers) assert.ok(reduce.maxAngle <= 1e-5, `mixed rows span the same space: ${reduce.maxAngle}`);
    assert.ok(report.tensor.relativeChange > 0.5, 'while the weights themselves differ');
    assert.ok(report.tensor.rows.maxAngle <= 1e-5);
    const self = json('compare', join(tiny, 'checkpoints/epoch_1.pt'), join(tiny, 'checkpoints/epoch_1.pt'));
    self.crossLayer.forEach((row: number[], i: number) => assert.ok(row[i] <= 1e-6 && row.every((v, j) => j === i || v > 1)));
    // spectrum of W_red of layer 0 against ml-matrix's SVD
    const sigma = new SingularValueDecomposition(new MlMatrix(Array.from({ length: 16 }, (_, i) => Array.from(redOf0.subarray(i * 64, (i + 1) * 64)))), { autoTranspose: true }).diagonal;
    report.spectra.a[0].reduce.singularValues.forEach((v: number, i: number) => assert.ok(Math.abs(v - sigma[i]) <= 1e-9 * sigma[0], `sigma ${i}`));
    assert.equal(gl('compare', join(tiny, 'model.safetensors')).code, 2);
    const missing = gl('compare', join(tiny, 'model.safetensors'), join(tiny, 'model.safetensors'), '--tensor', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /model\.safetensors: has no tensor nope/);
  });
});
