/**
 * The `grassmann-lens` CLI contract, run as a real subprocess from the bundle (dist/cli.js,
 * built by `npm test` before the tests): exit codes, one-line errors, JSON shapes, and values
 * checked against the PyTorch reference.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { readFloat32 } from '../../src/checkpoint/tensorData';
import { writeTorchCheckpoint } from '../../src/checkpoint/torchWriter';
import { randomGrassmannWeights } from '../../src/model/synthetic';
import { inspectReportText } from '../../src/core/reportText';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const tiny = join(root, 'test/fixtures/tiny-grassmann');
const bad = join(root, 'test/fixtures/bad-inputs');
const manifest = JSON.parse(readFileSync(join(tiny, 'reference/manifest.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'gl-cli-'));

function gl(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the bundle exists (npm test builds it first)', () => {
  assert.ok(existsSync(cli), `${cli} missing: run npm run build`);
});

test('inspect --json: format, architecture, dims, metadata of best.pt', () => {
  const r = gl('inspect', join(tiny, 'checkpoints/best.pt'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.format, 'torch-zip');
  assert.equal(report.architecture, 'GrassmannGPT');
  const c = manifest.config;
  assert.deepEqual(
    [report.dims.vocabSize, report.dims.modelDim, report.dims.layers, report.dims.reducedDim, report.dims.ffDim, report.dims.maxPositions],
    [c.vocab_size, c.model_dim, c.num_layers, c.reduced_dim, c.ff_dim, c.max_seq_len],
  );
  assert.deepEqual(report.windowSizes, c.window_sizes);
  assert.equal(report.windowSource, 'config');
  assert.equal(report.metadata.epoch, 3);
  assert.equal(report.metadata.val_ppl, manifest.history[2].val_ppl);
  // Tied lm_head counted once: V*d + Tmax*d + L*(block) + 2d.
  const { vocab_size: V, model_dim: d, reduced_dim: rr, ff_dim: f, max_seq_len: T, num_layers: L } = c;
  const P = (rr * (rr - 1)) / 2;
  const block = 2 * d + (rr * d + rr) + (d * P + d) + (d * 2 * d + d) + 2 * d + 2 * d + (f * d + f) + (d * f + d);
  assert.equal(report.parameterCount, V * d + T * d + L * block + 2 * d);
});

test('inspect: window list from --config, else marked assumed when no config.json is found', () => {
  const withConfig = gl('inspect', join(tiny, 'model.safetensors'), '--json', '--config', join(tiny, 'config.json'));
  assert.equal(withConfig.code, 0, withConfig.stderr);
  assert.equal(JSON.parse(withConfig.stdout).windowSource, 'config');
  // The same weights alone in a folder with no config.json beside or above it.
  const lone = join(tmp, 'lone');
  mkdirSync(lone);
  copyFileSync(join(tiny, 'model.safetensors'), join(lone, 'model.safetensors'));
  const r = gl('inspect', join(lone, 'model.safetensors'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.windowSource, 'assumed');
  assert.ok(report.windowSizes.length > 0);
  assert.match(gl('inspect', join(lone, 'model.safetensors')).stdout, /^Windows: \[.*\] \(assumed\)/m);
});

test('inspect prints the one rendering the Output channel shows too (inspectReportText of its --json report)', () => {
  for (const file of [join(tiny, 'checkpoints/best.pt'), join(tiny, 'model.safetensors')]) {
    const text = gl('inspect', file);
    const json = gl('inspect', file, '--json');
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, `${inspectReportText(JSON.parse(json.stdout))}\n`);
    assert.match(text.stdout, /^Checkpoint: .*\nFormat: /);
    assert.match(text.stdout, /^Architecture: GrassmannGPT/m);
  }
});

test('every bad input: exit 1, one line naming the file and the problem, no stack trace', () => {
  const expected: Record<string, RegExp> = {
    'empty.safetensors': /0 bytes/,
    'truncated.safetensors': /data_offsets end at/,
    'header-larger-than-file.safetensors': /header length field says 1000000000 bytes/,
    'header-not-json.safetensors': /not valid UTF-8 JSON/,
    'unknown-dtype.safetensors': /unknown dtype "Q7"/,
    'random-bytes.pt': /not a checkpoint/,
    'hostile-os-system.pt': /posix\.system/,
  };
  for (const [name, pattern] of Object.entries(expected)) {
    const file = join(bad, name);
    const r = gl('inspect', file);
    assert.equal(r.code, 1, `${name}: exit ${r.code}, stderr ${r.stderr}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${name}: ${r.stderr}`);
    assert.ok(lines[0].includes(file), `${name}: message names the file: ${lines[0]}`);
    assert.match(lines[0], pattern);
  }
  assert.equal(existsSync('/tmp/grassmann-lens-pwned'), false, 'the hostile pickle ran code');
});

test('--debug adds the stack trace; usage errors exit 2', () => {
  const r = gl('inspect', join(bad, 'random-bytes.pt'), '--debug');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\n\s+at /);
  assert.equal(gl('inspect').code, 2);
  assert.equal(gl('frobnicate').code, 2);
  assert.equal(gl('run', join(tiny, 'model.safetensors')).code, 2, 'run without --text/--file');
  assert.equal(gl('inspect', 'x', '--no-such-option').code, 2);
  assert.equal(gl('run', join(tiny, 'model.safetensors'), '--text', 'a', '--backend', 'quantum').code, 2);
  const missing = gl('inspect', join(tmp, 'nope.pt'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.pt: no such file/);
});

test('run: ids equal the reference, top-5 equal the reference logits, --dump equals every reference tap', async () => {
  const c = manifest.cases[3];
  const dump = join(tmp, 'case3.safetensors');
  const r = gl('run', join(tiny, 'checkpoints/best.pt'), '--text', c.text, '--json', '--dump', dump, '--backend', 'cpu');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.ids, c.input_ids);
  assert.deepEqual(report.tokens.map((t: { text: string }) => t.text), c.tokens);
  assert.equal(report.backend, 'cpu');

  const ref = await openSafetensors(join(tiny, c.file));
  const got = await openSafetensors(dump);
  try {
    const refLogits = await readFloat32(ref.tensors.get('logits')!);
    const V = manifest.config.vocab_size;
    report.next.forEach((top: { id: number }[], t: number) => {
      const row = Array.from(refLogits.subarray(t * V, (t + 1) * V));
      const order = row.map((v, id) => ({ v, id })).sort((a, b) => b.v - a.v).slice(0, 5).map((x) => x.id);
      assert.deepEqual(top.map((n) => n.id), order, `top-5 at position ${t}`);
    });
    // Tolerance: 1e-4 absolute, float32 (the parity bar).
    let compared = 0;
    for (const [name, info] of ref.tensors) {
      if (name.startsWith('grad.') || name.startsWith('distances.')) continue;
      const mine = got.tensors.get(name);
      assert.ok(mine, `dump lacks ${name}`);
      assert.deepEqual(mine.shape, info.shape, name);
      const a = await readFloat32(info);
      const b = await readFloat32(mine);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      assert.ok(worst <= 1e-4, `${name}: max abs error ${worst}`);
      compared++;
    }
    assert.ok(compared >= 4 * 9, `compared ${compared} taps`);
  } finally {
    await ref.close();
    await got.close();
  }
});

test('eval: perplexity of eval.txt equals the manifest within 1e-4 relative', () => {
  const r = gl('eval', join(tiny, 'checkpoints/best.pt'), '--data', join(tiny, 'eval.txt'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.chunks, manifest.eval.chunks);
  assert.equal(report.seq_len, manifest.eval.seq_len);
  assert.ok(Math.abs(report.perplexity - manifest.eval.perplexity) / manifest.eval.perplexity <= 1e-4, `perplexity ${report.perplexity}`);
  assert.ok(Math.abs(report.mean_nll - manifest.eval.mean_nll) / manifest.eval.mean_nll <= 1e-4, `mean_nll ${report.mean_nll}`);
});

test('run: text longer than the position table runs the first Tmax tokens and says so', () => {
  const text = readFileSync(join(tiny, 'eval.txt'), 'utf8').slice(0, 3000);
  const r = gl('run', join(tiny, 'model.safetensors'), '--text', text, '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.ids.length, manifest.config.max_seq_len);
  assert.equal(report.truncated.kept, manifest.config.max_seq_len);
  assert.ok(report.truncated.total > manifest.config.max_seq_len);
  assert.ok(report.warnings.some((w: string) => /only the first 128 were run/.test(w)));
});

test('run without a findable tokenizer names the checkpoint and the places searched', () => {
  const r = gl('run', join(bad, 'legacy-format.pt'), '--text', 'hi');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /legacy-format\.pt/);
});

test('backend --json reports the active backend and every attempt', () => {
  const r = gl('backend', '--json', '--native-dir', join(tmp, 'no-native'));
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.ok(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'].includes(report.active));
  const gpu = report.attempts.find((a: { name: string }) => a.name === 'tensorflow-gpu');
  assert.equal(gpu.available, false);
  assert.match(gpu.detail, /not installed.*install-gpu/);
  assert.match(report.reason, /tensorflow-gpu unavailable/);
});

test('a GrassmannGPT of other shapes, wrapped, prefixed, half precision, with a NaN weight', async () => {
  // Nothing about the fixture: d=24, 3 layers, r=6, ff=40, 32 positions, float16 storage,
  // `module.` (DataParallel) names inside {state_dict, step}, and one NaN in a final-norm bias.
  const dims = { vocabSize: 1200, modelDim: 24, layers: 3, reducedDim: 6, ffDim: 40, maxPositions: 32 };
  const weights = randomGrassmannWeights(dims, 11);
  const toHalf = (x: number) => {
    // float32 -> float16 bits (round toward zero is enough for random test weights)
    const f = new Float32Array([x]);
    const u = new Uint32Array(f.buffer)[0];
    const sign = (u >>> 16) & 0x8000;
    const exp = ((u >>> 23) & 0xff) - 127 + 15;
    if ((u & 0x7fffffff) > 0x7f800000) return 0x7e00;
    if (exp <= 0) return sign;
    return sign | (exp << 10) | ((u >>> 13) & 0x3ff);
  };
  const half = weights.map((w) => {
    const data = new Uint16Array(w.data.length);
    (w.data as Float32Array).forEach((v, i) => (data[i] = toHalf(v)));
    if (w.name === 'ln_f.bias') data[3] = 0x7e00; // NaN
    return { name: `module.${w.name}`, dtype: 'F16' as const, shape: w.shape, data };
  });
  const dir = join(tmp, 'other-shape');
  mkdirSync(dir);
  const file = join(dir, 'step_100.pt');
  await writeTorchCheckpoint(file, half, { step: 100 });

  const inspect = gl('inspect', file, '--json');
  assert.equal(inspect.code, 0, inspect.stderr);
  const report = JSON.parse(inspect.stdout);
  assert.equal(report.architecture, 'GrassmannGPT');
  assert.deepEqual(
    [report.dims.modelDim, report.dims.layers, report.dims.reducedDim, report.dims.pairCount, report.dims.ffDim, report.dims.maxPositions],
    [24, 3, 6, 15, 40, 32],
  );
  assert.equal(report.windowSource, 'assumed');
  assert.equal(report.metadata.step, 100);
  assert.ok(report.tensors.every((t: { name: string; dtype: string }) => !t.name.startsWith('module.') && t.dtype === 'F16'));
  assert.ok(report.warnings.some((w: string) => w.includes('module.')), report.warnings.join('\n'));

  const run = gl('run', file, '--text', 'the licensor grants you', '--tokenizer', tiny, '--json', '--backend', 'cpu');
  assert.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.deepEqual(out.ids, [2, 115, 375, 333, 120, 3]);
  assert.ok(out.warnings.some((w: string) => /ln_f\.bias has 1 NaN and 0 infinite values of 24/.test(w)), out.warnings.join('\n'));
});

test('a Hugging Face-style folder opens as one model (config + safetensors weights + tokenizer)', () => {
  const r = gl('inspect', tiny, '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.path, tiny);
  assert.equal(report.format, 'safetensors');
  assert.deepEqual(report.files, [join(tiny, 'model.safetensors')]);
  assert.equal(report.architecture, 'GrassmannGPT');
  assert.equal(report.windowSource, 'config');
  const run = gl('run', tiny, '--text', manifest.cases[2].text, '--json');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout).ids, manifest.cases[2].input_ids);
});
