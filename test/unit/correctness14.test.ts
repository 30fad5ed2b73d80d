/**
 * Issue 14, part 4: small correctness items, each pinned by exact values.
 *   1. --seq-len out of range is a usage error (exit 2, one line naming the flag and the range).
 *   2. An empty or whitespace-only text warns that only the special tokens are analysed.
 *   3. Equal planes give exactly 0 angles and 0 distance for every metric; small angles keep
 *      their relative accuracy (the sine path).
 *   4. run, eval and relevance warn about near-degenerate planes, per layer, with the threshold.
 *   5. The metric definitions are stated with their names in `distances`'s help.
 * The CLI runs from the bundle (dist/cli.js, built by `npm test` first), as in cli.test.ts.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { writeSafetensors } from '../../src/checkpoint/safetensorsWriter';
import { distanceFromAngles, GRASSMANN_METRICS } from '../../src/geometry/angles';
import { nearestPlanes, planeAngles, planeDistanceMatrix, tokenPlanes } from '../../src/geometry/planes';
import { randomGrassmannWeights, seededRandom } from '../../src/model/synthetic';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const tiny = join(root, 'test/fixtures/tiny-grassmann');
const best = join(tiny, 'checkpoints/best.pt');
const tmp = mkdtempSync(join(tmpdir(), 'gl-correctness14-'));

function gl(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(...args: string[]) {
  const r = gl(...args, '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** A usage error: exit 2, the message on the first line, the help hint on the second, nothing else. */
function assertUsageError(r: { code: number | null; stderr: string }, message: string): void {
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(r.stderr.split('\n'), [`grassmann-lens: ${message}`, "Run 'grassmann-lens --help' for usage.", '']);
}

/**
 * A synthetic GrassmannGPT (vocabulary of the tiny fixture's tokenizer) in its own folder with a
 * config.json; `edit` changes the random weights first.
 */
async function syntheticModel(name: string, dims: { layers: number; reducedDim: number; windows: number[] }, edit: (w: ReturnType<typeof randomGrassmannWeights>) => void = () => {}): Promise<string> {
  const full = { vocabSize: 1200, modelDim: 16, layers: dims.layers, reducedDim: dims.reducedDim, ffDim: 32, maxPositions: 32 };
  const weights = randomGrassmannWeights(full, 14);
  edit(weights);
  const dir = join(tmp, name);
  mkdirSync(dir);
  const file = join(dir, 'model.safetensors');
  await writeSafetensors(file, weights);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architecture: 'GrassmannGPT', vocab_size: full.vocabSize, max_seq_len: full.maxPositions, model_dim: full.modelDim,
    num_layers: full.layers, reduced_dim: full.reducedDim, ff_dim: full.ffDim, window_sizes: dims.windows,
  }));
  return file;
}

test('the bundle exists (npm test builds it first)', () => {
  assert.ok(spawnSync(process.execPath, [cli, '--help']).status === 0, `${cli} missing: run npm run build`);
});

describe('1. --seq-len out of range is a usage error', () => {
  const data = join(tiny, 'eval.txt');
  test('eval --seq-len 1, 0, -3 and 129 (the fixture has 128 positions): exit 2, the flag and 2..128', () => {
    for (const n of ['1', '0', '-3', '129']) {
      assertUsageError(gl('eval', best, '--data', data, '--seq-len', n), `--seq-len ${n} must be an integer in 2..128 (the model's position table)`);
    }
    assertUsageError(gl('eval', best, '--data', data, '--seq-len', 'x'), "--seq-len must be an integer, got 'x'");
    // the range's ends still run
    assert.equal(json('eval', best, '--data', data, '--seq-len', '2').seq_len, 2);
    assert.equal(json('eval', best, '--data', data, '--seq-len', '128').seq_len, 128);
  });

  test('prune --seq-len 1 and 129: exit 2, the same message', () => {
    for (const n of ['1', '129']) {
      const out = join(tmp, `prune-${n}`);
      assertUsageError(gl('prune', best, '--data', data, '--seq-len', n, '--criterion', 'magnitude', '--rates', '0.5', '--out', out),
        `--seq-len ${n} must be an integer in 2..128 (the model's position table)`);
    }
  });
});

describe('2. an empty or whitespace-only text warns', () => {
  const warning = 'the text is empty (or only whitespace): analysing just [CLS] [SEP]';
  test('run: the warning in --json and in the text report, for "", spaces and newlines', () => {
    for (const text of ['', '   ', ' \n\t ']) {
      const report = json('run', best, '--text', text);
      assert.deepEqual(report.tokens.map((t: { text: string }) => t.text), ['[CLS]', '[SEP]']);
      assert.equal(report.warnings.filter((w: string) => w === warning).length, 1, report.warnings.join('\n'));
    }
    const r = gl('run', best, '--text', '  ');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split('\n').includes(`warning: ${warning}`), r.stdout);
  });

  test('features, distances and relevance carry it; a text with words does not', () => {
    assert.ok(json('features', best, '--text', ' ').warnings.includes(warning));
    assert.ok(json('distances', best, '--text', ' ', '--layer', '0', '--window', '1').warnings.includes(warning));
    assert.ok(json('relevance', best, '--text', '\n').warnings.includes(warning));
    const r = gl('relevance', best, '--text', '\n');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split('\n').includes(`  warning      ${warning}`), r.stdout);
    const words = json('run', best, '--text', 'the licensor');
    assert.ok(!words.warnings.some((w: string) => w.includes('the text is empty')), words.warnings.join('\n'));
  });

  test('a text of only special tokens says so', () => {
    const report = json('run', best, '--text', '[SEP]');
    assert.deepEqual(report.tokens.map((t: { text: string }) => t.text), ['[CLS]', '[SEP]', '[SEP]']);
    assert.ok(report.warnings.includes('the text gave only special tokens: analysing just [CLS] [SEP] [SEP]'), report.warnings.join('\n'));
  });
});

describe('3. equal planes: exactly 0; small angles from sines', () => {
  /** A random rotation of R^n (Gram-Schmidt of a seeded matrix), rows orthonormal. */
  function rotation(n: number, seed: number): number[][] {
    const rand = seededRandom(seed);
    const rows: number[][] = [];
    while (rows.length < n) {
      const v = Array.from({ length: n }, () => 2 * rand() - 1);
      for (let pass = 0; pass < 2; pass++) for (const q of rows) {
        const dot = q.reduce((s, x, i) => s + x * v[i], 0);
        for (let i = 0; i < n; i++) v[i] -= dot * q[i];
      }
      const norm = Math.hypot(...v);
      rows.push(v.map((x) => x / norm));
    }
    return rows;
  }
  const apply = (Q: number[][], x: number[]) => Q[0].map((_, j) => x.reduce((s, xi, i) => s + xi * Q[i][j], 0));

  test('a plane and itself, and two spanning pairs of one plane: angles [0, 0], every distance +0', () => {
    const rand = seededRandom(3);
    for (const r of [2, 3, 16, 32]) {
      for (let trial = 0; trial < 40; trial++) {
        // float32 states, and exact integer combinations of them (exact in float64): all four planes are span(a, b)
        const a = Array.from(Float32Array.from({ length: r }, () => 2 * rand() - 1));
        const b = Array.from(Float32Array.from({ length: r }, () => 2 * rand() - 1));
        const c = a.map((v, i) => v + b[i]);
        const d = a.map((v, i) => 3 * v - 2 * b[i]);
        const e = a.map((v, i) => -v + 4 * b[i]);
        const z = Float64Array.from([...a, ...b, ...c, ...d, ...e]);
        const planes = tokenPlanes(z, 5, r, 1, 'previous');
        assert.deepEqual(planes.degenerate, [false, false, false, false]);
        const pair = [NaN, NaN];
        for (let i = 0; i < 4; i++) {
          for (let j = 0; j < 4; j++) {
            planeAngles(planes, i, j, pair);
            assert.deepEqual(pair, [0, 0], `r ${r} trial ${trial} planes ${i}, ${j}`);
          }
        }
        for (const metric of GRASSMANN_METRICS) {
          const m = planeDistanceMatrix(planes, metric);
          for (const v of m.matrix) assert.ok(Object.is(v, 0), `${metric}: ${v}`);
          for (const v of m.angles) assert.ok(Object.is(v, 0), `${metric} angle: ${v}`);
          for (const n of nearestPlanes(planes, 2, 3, metric)) assert.ok(Object.is(n.distance, 0) && Object.is(n.angles[0], 0) && Object.is(n.angles[1], 0), `${metric} nearest`);
          assert.ok(Object.is(distanceFromAngles(metric, [0, 0]), 0), `${metric} of [0, 0]`);
        }
      }
    }
  });

  test('a constructed angle of 1e-6 rad (and 1e-9, 1e-4) comes back to 1e-6 relative, the shared direction as exactly 0', () => {
    for (const [k, theta] of [1e-6, 1e-9, 1e-4].entries()) {
      for (const r of [3, 16, 32]) {
        const Q = rotation(r, 20 + k + r);
        const e = (i: number, s = 1) => Array.from({ length: r }, (_, j) => (j === i ? s : 0));
        // A = span(Q e0, Q e1), B = span(Q e0, Q (cos theta e1 + sin theta e2)): angles [0, theta]
        const u = apply(Q, e(0));
        const v = apply(Q, e(1));
        const w = apply(Q, e(1, Math.cos(theta)).map((x, i) => x + (i === 2 ? Math.sin(theta) : 0)));
        const z = Float64Array.from([...v, ...u, ...w, ...u]);
        const planes = tokenPlanes(z, 4, r, 1, 'previous'); // t=1: (u, v), t=2: (w, u), t=3: (u, w)
        const pair = [NaN, NaN];
        for (const [i, j] of [[0, 1], [0, 2], [1, 0], [2, 0]]) {
          planeAngles(planes, i, j, pair);
          assert.equal(pair[0], 0, `r ${r}: theta1 ${pair[0]}`);
          assert.ok(Math.abs(pair[1] - theta) <= 1e-6 * theta, `r ${r}: theta2 ${pair[1]} vs ${theta}`);
        }
        planeAngles(planes, 1, 2, pair); // span(w, u) and span(u, w): the same plane
        assert.deepEqual(pair, [0, 0]);
        const geodesic = planeDistanceMatrix(planes, 'geodesic');
        assert.ok(Math.abs(geodesic.matrix[1] - theta) <= 1e-6 * theta);
        assert.equal(geodesic.matrix[1 * 3 + 2], 0);
      }
    }
  });

  test('distances --json on Gr(2, 2) (r = 2: every plane is all of R^2): every angle and distance 0, for every metric', async () => {
    const file = await syntheticModel('r2', { layers: 2, reducedDim: 2, windows: [1, 2] });
    for (const metric of GRASSMANN_METRICS) {
      for (const [layer, window] of [['0', '1'], ['1', '2']]) {
        const report = json('distances', file, '--text', 'the licensor grants you a worldwide, royalty-free license', '--tokenizer', tiny, '--layer', layer, '--window', window, '--metric', metric);
        assert.deepEqual(report.degenerate, []);
        const N = report.positions.length;
        assert.equal(N, 13 - Number(window));
        assert.deepEqual(report.matrix, Array.from({ length: N }, () => Array(N).fill(0)), `${metric} layer ${layer}`);
        assert.deepEqual(report.angles, Array.from({ length: N }, () => Array.from({ length: N }, () => [0, 0])), `${metric} layer ${layer} angles`);
      }
    }
  });
});

describe('4. run, eval and relevance warn about near-degenerate planes', () => {
  // layer 0: W_red = 0, so z_t = b_red at every t and every plane is degenerate; layer 1: random
  const degenerateModel = () => syntheticModel('degenerate', { layers: 2, reducedDim: 4, windows: [1, 2] }, (weights) => {
    (weights.find((w) => w.name === 'blocks.0.grassmann.W_red.weight')!.data as Float32Array).fill(0);
  });
  const text = 'the licensor grants you'; // [CLS] the licensor grants you [SEP]: T = 6, planes 5 + 4 = 9 per layer
  const threshold = 'near-degenerate planes (sin of the angle between the two states < 0.0001)';
  let file: string;

  test('run (--json and text), relevance: counted on every plane of the text', async () => {
    file = await degenerateModel();
    const expected = `${threshold}: layer 0: 9 of 9, layer 1: 0 of 9, counted on every plane of the 6 tokens`;
    const run = json('run', file, '--text', text, '--tokenizer', tiny);
    assert.deepEqual(run.ids, [2, 115, 375, 333, 120, 3]);
    assert.deepEqual(run.warnings.filter((w: string) => w.startsWith('near-degenerate')), [expected]);
    const runText = gl('run', file, '--text', text, '--tokenizer', tiny);
    assert.ok(runText.stdout.split('\n').includes(`warning: ${expected}`), runText.stdout);
    // --dump takes every tap: the same count
    const dumped = json('run', file, '--text', text, '--tokenizer', tiny, '--dump', join(tmp, 'dump.safetensors'));
    assert.deepEqual(dumped.warnings.filter((w: string) => w.startsWith('near-degenerate')), [expected]);
    const relevance = json('relevance', file, '--text', text, '--tokenizer', tiny);
    assert.deepEqual(relevance.warnings.filter((w: string) => w.startsWith('near-degenerate')), [expected]);
    const relevanceText = gl('relevance', file, '--text', text, '--tokenizer', tiny);
    assert.ok(relevanceText.stdout.split('\n').includes(`  warning      ${expected}`), relevanceText.stdout);
    // features says the same per plane
    const features = json('features', file, '--text', text, '--tokenizer', tiny);
    assert.deepEqual(features.layers.map((l: { offsets: { degenerate: boolean[] }[] }) => l.offsets.flatMap((o) => o.degenerate).filter(Boolean).length), [9, 0]);
  });

  test('eval: counted on the first chunk only (a bounded sample), in --json and in the text report', () => {
    const data = join(tmp, 'eval-data.txt');
    writeFileSync(data, 'the licensor grants you a worldwide, royalty-free license. '.repeat(4));
    const report = json('eval', file, '--data', data, '--seq-len', '8', '--tokenizer', tiny);
    assert.ok(report.chunks > 1);
    const expected = `${threshold}: layer 0: 13 of 13, layer 1: 0 of 13, counted on the first chunk of 8 tokens only (of ${report.chunks})`;
    assert.deepEqual(report.warnings.filter((w: string) => w.startsWith('near-degenerate')), [expected]);
    const r = gl('eval', file, '--data', data, '--seq-len', '8', '--tokenizer', tiny);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split('\n').includes(`warning: ${expected}`), r.stdout);
  });

  test('the fixture has no near-degenerate planes on its cases: no such warning', () => {
    const run = json('run', best, '--text', 'the licensor grants you a worldwide, royalty-free license');
    assert.deepEqual(run.warnings.filter((w: string) => w.startsWith('near-degenerate')), []);
    const e = json('eval', best, '--data', join(tiny, 'eval.txt'));
    assert.deepEqual(e.warnings.filter((w: string) => w.startsWith('near-degenerate')), []);
  });
});

describe('5. the metric definitions in distances\'s help', () => {
  test('--help names each metric with its formula', () => {
    const help = gl('--help').stdout;
    for (const line of [
      'geodesic      ||theta||_2 (arc length)',
      'chordal       2 ||sin(theta/2)||_2 (chordal / Procrustes)',
      'projection    ||sin theta||_2 = ||P_A - P_B||_F / sqrt 2 (projection Frobenius)',
      'projection2   sin theta_max (projection 2-norm)',
      'binetCauchy   sqrt(1 - prod cos^2 theta) (Binet-Cauchy)',
      'fubiniStudy   arccos(prod cos theta) (Fubini-Study)',
      'martin        sqrt(-log prod cos^2 theta) (Martin)',
    ]) assert.ok(help.split('\n').some((l) => l.trim() === line), `help lacks '${line}'`);
  });
});
