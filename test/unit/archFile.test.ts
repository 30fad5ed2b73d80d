/**
 * A researcher's own implementation (issue 12, part 3): architecture description files
 * (grassmann-lens.arch.json), their JSON Schema, `describe-arch`, and what an unrecognised
 * checkpoint says.
 *
 * The renamed copies below hold the fixtures' exact weights under other names (a made-up
 * implementation's), so with a description they must compute exactly what the originals do:
 * logits and taps to 1e-6 (they are bit-identical in practice), eval perplexity equal.
 *
 * Every temporary folder sits four levels below the temporary root, so that the search for a
 * description file (the checkpoint's folder and up to 3 above) never leaves this test's folders.
 * The CLI cases run dist/cli.js (npm run build first, as test/unit/cli.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openCheckpoint } from '../../src/checkpoint/open';
import { readFloat32, readTensorRaw } from '../../src/checkpoint/tensorData';
import { writeSafetensors, type TensorToWrite } from '../../src/checkpoint/safetensorsWriter';
import {
  ACTIVATIONS, AGGREGATIONS, ALPHAXIV, ARCHITECTURE_FILE_NAME, BLOCK_LAYOUTS, BUILT_IN_ARCHITECTURES, DEFAULT_OPTIONS, GLOBAL_ROLES,
  GRASSLM, LAYER_ROLES, LMCONFIG, MAX_ARCHITECTURE_FILE_BYTES, MIX_OUTPUTS, PAIR_INDEX_ROLES, PAIRINGS, POSITION_KINDS, WINDOW_FORMS,
  parseArchitectureFile, requiredRoles, type ArchitectureDescription,
} from '../../src/model/architecture';
import {
  architectureFileCandidates, architectureFileJson, architectureFileText, findArchitectureFile, readArchitectureFile, type ArchitectureFileJson,
} from '../../src/model/archFile';
import { ROLE_SHAPES } from '../../src/model/spec';
import { draftArchitecture } from '../../src/core/describeArch';
import { evaluateFile } from '../../src/core/evaluate';
import { inspectCheckpoint } from '../../src/core/inspect';
import { ModelSession } from '../../src/core/session';
import { isInputError } from '../../src/util/errors';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const TINY = join(root, 'test', 'fixtures', 'tiny-grassmann');
const LIFTING = join(root, 'test', 'fixtures', 'implementations', 'lifting-postnorm');
const GRASSLM_DIR = join(root, 'test', 'fixtures', 'implementations', 'grasslm-tiny');
const SCHEMA = JSON.parse(readFileSync(join(root, 'media', 'grassmann-lens.arch.schema.json'), 'utf8')) as Schema;
const tinyManifest = JSON.parse(readFileSync(join(TINY, 'reference', 'manifest.json'), 'utf8')) as { cases: { input_ids: number[] }[] };
const liftingManifest = JSON.parse(readFileSync(join(LIFTING, 'reference', 'manifest.json'), 'utf8')) as { cases: { input_ids: number[] }[] };

const tmp = mkdtempSync(join(tmpdir(), 'gl-arch-'));
/** Four levels down: no description search from base/<folder>/ reaches above tmp. */
const base = join(tmp, 'a', 'b', 'c');

function gl(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// ---------------------------------------------------------------------------------------------
// The renamed copies
// ---------------------------------------------------------------------------------------------

/** The alphaXiv fixture's names -> a made-up implementation's. */
const ALPHAXIV_RENAMES: [RegExp, string][] = [
  [/^token_embedding\.weight$/, 'net.tok_emb.w'],
  [/^position_embedding\.weight$/, 'net.pos_emb.w'],
  [/^ln_f\.weight$/, 'net.norm_out.w'],
  [/^ln_f\.bias$/, 'net.norm_out.b'],
  [/^blocks\.(\d+)\.ln1\.weight$/, 'net.layers.$1.norm_a.w'],
  [/^blocks\.(\d+)\.ln1\.bias$/, 'net.layers.$1.norm_a.b'],
  [/^blocks\.(\d+)\.grassmann\.W_red\.weight$/, 'net.layers.$1.mix.reduce.w'],
  [/^blocks\.(\d+)\.grassmann\.W_red\.bias$/, 'net.layers.$1.mix.reduce.b'],
  [/^blocks\.(\d+)\.grassmann\.W_plu\.weight$/, 'net.layers.$1.mix.lift.w'],
  [/^blocks\.(\d+)\.grassmann\.W_plu\.bias$/, 'net.layers.$1.mix.lift.b'],
  [/^blocks\.(\d+)\.grassmann\.W_gate\.weight$/, 'net.layers.$1.mix.gate.w'],
  [/^blocks\.(\d+)\.grassmann\.W_gate\.bias$/, 'net.layers.$1.mix.gate.b'],
  [/^blocks\.(\d+)\.grassmann\.layer_norm\.weight$/, 'net.layers.$1.mix.norm.w'],
  [/^blocks\.(\d+)\.grassmann\.layer_norm\.bias$/, 'net.layers.$1.mix.norm.b'],
  [/^blocks\.(\d+)\.ln2\.weight$/, 'net.layers.$1.norm_b.w'],
  [/^blocks\.(\d+)\.ln2\.bias$/, 'net.layers.$1.norm_b.b'],
  [/^blocks\.(\d+)\.ffn\.0\.weight$/, 'net.layers.$1.mlp.fc_in.w'],
  [/^blocks\.(\d+)\.ffn\.0\.bias$/, 'net.layers.$1.mlp.fc_in.b'],
  [/^blocks\.(\d+)\.ffn\.3\.weight$/, 'net.layers.$1.mlp.fc_out.w'],
  [/^blocks\.(\d+)\.ffn\.3\.bias$/, 'net.layers.$1.mlp.fc_out.b'],
];

/** What the researcher writes by hand for that implementation. */
const HAND_WRITTEN = {
  name: 'my-grassmann',
  label: 'My GrassmannGPT',
  tensors: {
    tokenEmbedding: 'net.tok_emb.w',
    positionEmbedding: 'net.pos_emb.w',
    finalNormWeight: 'net.norm_out.w',
    finalNormBias: 'net.norm_out.b',
    norm1Weight: 'net.layers.{l}.norm_a.w',
    norm1Bias: 'net.layers.{l}.norm_a.b',
    reduceWeight: 'net.layers.{l}.mix.reduce.w',
    reduceBias: 'net.layers.{l}.mix.reduce.b',
    pluckerWeight: 'net.layers.{l}.mix.lift.w',
    pluckerBias: 'net.layers.{l}.mix.lift.b',
    gateWeight: 'net.layers.{l}.mix.gate.w',
    gateBias: 'net.layers.{l}.mix.gate.b',
    mixNormWeight: 'net.layers.{l}.mix.norm.w',
    mixNormBias: 'net.layers.{l}.mix.norm.b',
    norm2Weight: 'net.layers.{l}.norm_b.w',
    norm2Bias: 'net.layers.{l}.norm_b.b',
    ffnInWeight: 'net.layers.{l}.mlp.fc_in.w',
    ffnInBias: 'net.layers.{l}.mlp.fc_in.b',
    ffnOutWeight: 'net.layers.{l}.mlp.fc_out.w',
    ffnOutBias: 'net.layers.{l}.mlp.fc_out.b',
  },
  options: { block: 'pre-norm', mixOutput: 'blend', mixNorm: true, aggregation: 'project-then-mean', pluckerEps: 1e-8, activation: 'gelu' },
  windows: { form: 'list', default: [1, 2, 4, 8, 12, 16] },
  config: { windows: 'window_sizes', modelDim: 'model_dim', layers: 'num_layers', layerNormEps: 'layer_norm_eps' },
};

/** The LMConfig fixture's names -> another made-up implementation's (lm_head kept as a copy). */
const LIFTING_RENAMES: [RegExp, string][] = [
  [/^token_embedding\.weight$/, 'model.wte.weight'],
  [/^position_embedding\.weight$/, 'model.wpe.weight'],
  [/^output_norm\.(weight|bias)$/, 'model.ln_out.$1'],
  [/^lm_head\.weight$/, 'model.head.weight'],
  [/^transformer_blocks\.(\d+)\.attention_norm\.(weight|bias)$/, 'model.h.$1.ln_geo.$2'],
  [/^transformer_blocks\.(\d+)\.ffn_norm\.(weight|bias)$/, 'model.h.$1.ln_ffn.$2'],
  [/^transformer_blocks\.(\d+)\.attention\.reduce\.(weight|bias)$/, 'model.h.$1.geo.down.$2'],
  [/^transformer_blocks\.(\d+)\.attention\.expand\.(weight|bias)$/, 'model.h.$1.geo.up.$2'],
  [/^transformer_blocks\.(\d+)\.attention\.gate_proj\.(weight|bias)$/, 'model.h.$1.geo.alpha.$2'],
  [/^transformer_blocks\.(\d+)\.attention\.idx_i$/, 'model.h.$1.geo.pair_i'],
  [/^transformer_blocks\.(\d+)\.attention\.idx_j$/, 'model.h.$1.geo.pair_j'],
  [/^transformer_blocks\.(\d+)\.ffn\.layers\.0\.(weight|bias)$/, 'model.h.$1.ff.0.$2'],
  [/^transformer_blocks\.(\d+)\.ffn\.layers\.2\.(weight|bias)$/, 'model.h.$1.ff.2.$2'],
];

/** Writes a checkpoint's tensors under new names as safetensors, sorted by name (as Python's save_file). */
async function writeRenamed(source: string, renames: [RegExp, string][], out: string): Promise<void> {
  const checkpoint = await openCheckpoint(source);
  try {
    const tensors: TensorToWrite[] = [];
    for (const [name, t] of checkpoint.tensors) {
      const rule = renames.find(([re]) => re.test(name));
      assert.ok(rule, `no new name for ${name}`);
      const data = t.dtype === 'I64' ? ((await readTensorRaw(t)) as BigInt64Array) : await readFloat32(t);
      tensors.push({ name: name.replace(rule[0], rule[1]), dtype: t.dtype === 'I64' ? 'I64' : 'F32', shape: t.shape, data });
    }
    tensors.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    mkdirSync(join(out, '..'), { recursive: true });
    await writeSafetensors(out, tensors);
  } finally {
    await checkpoint.close();
  }
}

/** The renamed tiny fixture in its own folder with config.json (and a description, if given). */
async function renamedTiny(folder: string, description?: unknown): Promise<string> {
  const dir = join(base, folder);
  mkdirSync(dir, { recursive: true });
  await writeRenamed(join(TINY, 'model.safetensors'), ALPHAXIV_RENAMES, join(dir, 'model.safetensors'));
  copyFileSync(join(TINY, 'config.json'), join(dir, 'config.json'));
  if (description !== undefined) writeFileSync(join(dir, ARCHITECTURE_FILE_NAME), JSON.stringify(description, null, 2));
  return join(dir, 'model.safetensors');
}

/** Logits and every tap of `ids` through both, to 1e-6. */
async function assertSameForward(a: ModelSession, b: ModelSession, ids: number[]): Promise<void> {
  const [ra, rb] = [await (await a.loadModel()).forward(ids, { taps: true }), await (await b.loadModel()).forward(ids, { taps: true })];
  assert.deepEqual(rb.logitsShape, ra.logitsShape);
  assert.ok(maxAbsDiff(rb.logits, ra.logits) <= 1e-6, `logits differ by ${maxAbsDiff(rb.logits, ra.logits)}`);
  assert.deepEqual([...rb.taps.keys()].sort(), [...ra.taps.keys()].sort());
  assert.ok(ra.taps.size > 20, `taps: ${ra.taps.size}`);
  for (const [name, tap] of ra.taps) {
    const other = rb.taps.get(name)!;
    assert.deepEqual(other.shape, tap.shape, name);
    assert.ok(maxAbsDiff(other.data, tap.data) <= 1e-6, `${name} differs by ${maxAbsDiff(other.data, tap.data)}`);
  }
}

before(async () => {
  mkdirSync(base, { recursive: true });
  await tf.setBackend('cpu');
});

after(() => rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// A description file makes a renamed checkpoint the original
// ---------------------------------------------------------------------------------------------

describe('a renamed copy of tiny-grassmann with a hand-written grassmann-lens.arch.json', () => {
  let ckpt: string;
  let original: ModelSession;
  let renamed: ModelSession;

  before(async () => {
    ckpt = await renamedTiny('own', HAND_WRITTEN);
    original = await ModelSession.open(join(TINY, 'model.safetensors'));
    renamed = await ModelSession.open(ckpt);
  });
  after(async () => {
    await original?.close();
    await renamed?.close();
  });

  test('follows the file found beside it, with the original dimensions, options and windows', () => {
    const spec = renamed.spec;
    assert.deepEqual(spec.implementation, { id: 'my-grassmann', label: 'My GrassmannGPT', source: join(base, 'own', ARCHITECTURE_FILE_NAME) });
    assert.deepEqual(spec.dims, original.spec.dims);
    assert.deepEqual(spec.variant, original.spec.variant);
    assert.deepEqual(spec.windowSizes, [1, 2, 4, 8, 12, 16]);
    assert.equal(spec.windowSource, 'config');
    assert.deepEqual(spec.layerShapes, original.spec.layerShapes);
    assert.equal(spec.roles.layers[2].reduceWeight, 'net.layers.2.mix.reduce.w');
    assert.equal(spec.roles.global.lmHead, null);
    assert.deepEqual(spec.unusedTensors, []);
  });

  test('logits and every tap equal the original (two cases)', async () => {
    await assertSameForward(original, renamed, tinyManifest.cases[0].input_ids);
    await assertSameForward(original, renamed, tinyManifest.cases[2].input_ids);
  });

  test('eval perplexity equals the original', async () => {
    const data = join(TINY, 'eval.txt');
    const a = await evaluateFile(join(TINY, 'model.safetensors'), { data });
    const b = await evaluateFile(ckpt, { data, tokenizer: TINY });
    assert.equal(b.chunks, a.chunks);
    assert.equal(b.perplexity, a.perplexity);
    assert.ok(Math.abs(a.perplexity - 39.9844) < 1e-3, `perplexity ${a.perplexity}`);
  });

  test('inspect names the description file', async () => {
    const report = await inspectCheckpoint(ckpt);
    assert.deepEqual(report.implementation, { id: 'my-grassmann', label: 'My GrassmannGPT', source: join(base, 'own', ARCHITECTURE_FILE_NAME) });
    assert.equal(report.recognised, true);
  });
});

describe('--arch FILE from another folder', () => {
  let ckpt: string;
  let archFile: string;
  before(async () => {
    ckpt = await renamedTiny('elsewhere');
    mkdirSync(join(base, 'descriptions'), { recursive: true });
    archFile = join(base, 'descriptions', 'mine.json');
    writeFileSync(archFile, JSON.stringify(HAND_WRITTEN));
  });

  test('the CLI reads it: inspect says so, eval and run equal the original', () => {
    const inspect = gl('inspect', ckpt, '--arch', archFile, '--json');
    assert.equal(inspect.code, 0, inspect.stderr);
    const report = JSON.parse(inspect.stdout);
    assert.equal(report.implementation.source, archFile);
    assert.equal(report.implementation.id, 'my-grassmann');
    const text = gl('inspect', ckpt, '--arch', archFile);
    assert.match(text.stdout, new RegExp(`described by ${archFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    const evalOriginal = gl('eval', join(TINY, 'model.safetensors'), '--data', join(TINY, 'eval.txt'), '--backend', 'cpu', '--json');
    const evalRenamed = gl('eval', ckpt, '--arch', archFile, '--data', join(TINY, 'eval.txt'), '--tokenizer', TINY, '--backend', 'cpu', '--json');
    assert.equal(evalRenamed.code, 0, evalRenamed.stderr);
    assert.equal(JSON.parse(evalRenamed.stdout).perplexity, JSON.parse(evalOriginal.stdout).perplexity);

    const sentence = 'the licence grants permission to copy';
    const runOriginal = JSON.parse(gl('run', join(TINY, 'model.safetensors'), '--text', sentence, '--backend', 'cpu', '--json').stdout);
    const runRenamed = gl('run', ckpt, '--arch', archFile, '--text', sentence, '--tokenizer', TINY, '--backend', 'cpu', '--json');
    assert.equal(runRenamed.code, 0, runRenamed.stderr);
    assert.deepEqual(JSON.parse(runRenamed.stdout).next, runOriginal.next);
  });

  test('features and relevance take --arch too', () => {
    const f = gl('features', ckpt, '--arch', archFile, '--text', 'the licence', '--tokenizer', TINY, '--layer', '1', '--window', '2', '--backend', 'cpu', '--json');
    assert.equal(f.code, 0, f.stderr);
    const g = gl('features', join(TINY, 'model.safetensors'), '--text', 'the licence', '--layer', '1', '--window', '2', '--backend', 'cpu', '--json');
    assert.deepEqual(JSON.parse(f.stdout).layers, JSON.parse(g.stdout).layers);
    const drift = gl('drift', ckpt, ckpt, '--arch', archFile, '--json');
    assert.equal(drift.code, 0, drift.stderr);
  });

  test('prune takes --arch: each pruned copy keeps the description and evaluates like the original\'s prune', () => {
    const args = ['--data', join(TINY, 'eval.txt'), '--criterion', 'magnitude', '--rates', '0.3', '--mode', 'mask', '--reference-samples', '1', '--backend', 'cpu', '--json'];
    const renamed = gl('prune', ckpt, '--arch', archFile, '--tokenizer', TINY, '--out', join(base, 'pruned-renamed'), ...args);
    assert.equal(renamed.code, 0, renamed.stderr);
    const original = gl('prune', join(TINY, 'model.safetensors'), '--out', join(base, 'pruned-original'), ...args);
    assert.equal(original.code, 0, original.stderr);
    const [a, b] = [JSON.parse(renamed.stdout), JSON.parse(original.stdout)];
    assert.equal(a.steps.length, 1);
    // The same weights under other names: the same units go, and the same perplexity results.
    assert.deepEqual(a.steps[0].removed, b.steps[0].removed);
    assert.equal(a.steps[0].perplexity, b.steps[0].perplexity);
    const copied = join(a.steps[0].output, ARCHITECTURE_FILE_NAME);
    assert.deepEqual(JSON.parse(readFileSync(copied, 'utf8')), HAND_WRITTEN);
    assert.ok(a.steps[0].files.includes(copied));
    const reopened = gl('inspect', join(a.steps[0].output, 'model.safetensors'), '--json');
    assert.equal(JSON.parse(reopened.stdout).implementation.source, copied);
  });

  test('without it the checkpoint is not recognised: the message names the missing roles and describe-arch', () => {
    const r = gl('eval', ckpt, '--data', join(TINY, 'eval.txt'), '--tokenizer', TINY, '--backend', 'cpu');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a runnable GrassmannGPT checkpoint/);
    assert.match(r.stderr, /roles with no tensor under GrassmannGPT \(alphaXiv reproduction\)'s names: tokenEmbedding \(token_embedding\.weight\), .*reduceWeight \(blocks\.\{l\}\.grassmann\.W_red\.weight\)/);
    assert.match(r.stderr, /grassmann-lens describe-arch/);
    assert.match(r.stderr, /Describe Model Architecture…/);
  });

  test('a missing --arch file is an InputError naming it', () => {
    const r = gl('inspect', ckpt, '--arch', join(base, 'descriptions', 'nope.json'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope\.json: no such architecture description file/);
  });
});

describe('an unrecognised checkpoint', () => {
  test('names the roles its closest description misses and points to describe-arch', async () => {
    const ckpt = await renamedTiny('bare');
    const session = await ModelSession.open(ckpt);
    try {
      assert.equal(session.description.recognized, false);
      const problems = session.description.recognized ? [] : session.description.problems;
      const roles = problems.find((p) => p.startsWith('roles with no tensor'));
      assert.ok(roles, problems.join('\n'));
      for (const role of ['tokenEmbedding', 'positionEmbedding', 'finalNormWeight', 'norm1Weight', 'reduceWeight', 'pluckerWeight', 'gateWeight', 'mixNormWeight', 'norm2Weight', 'ffnInWeight', 'ffnOutWeight']) {
        assert.match(roles, new RegExp(`\\b${role} \\(`), role);
      }
      // Optional biases are not "missing".
      assert.doesNotMatch(roles, /reduceBias/);
      assert.match(problems.at(-1)!, /Describe your own with 'grassmann-lens describe-arch' \(VS Code: Describe Model Architecture…\)/);
      assert.throws(() => session.spec, (e: unknown) => isInputError(e) && /describe-arch/.test((e as Error).message) && (e as Error).message.startsWith(ckpt));
    } finally {
      await session.close();
    }
  });

  test('an explicit description that does not fit says so, with its problems', async () => {
    const file = join(base, 'descriptions', 'alphaxiv-names.json');
    mkdirSync(join(base, 'descriptions'), { recursive: true });
    writeFileSync(file, architectureFileText(architectureFileJson(ALPHAXIV)));
    const session = await ModelSession.open(join(base, 'bare', 'model.safetensors'), { arch: file });
    try {
      assert.equal(session.description.recognized, false);
      const problems = session.description.recognized ? [] : session.description.problems;
      assert.ok(problems.includes('no token_embedding.weight'), problems.join('\n'));
      assert.match(problems.at(-1)!, new RegExp(`the description ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not fit these tensors`));
    } finally {
      await session.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Finding description files
// ---------------------------------------------------------------------------------------------

describe('finding grassmann-lens.arch.json', () => {
  test('beside the checkpoint or up to 3 folders above, not 4', async () => {
    const deep = join(base, 'up', 'x', 'y', 'z');
    mkdirSync(deep, { recursive: true });
    const ckpt = join(deep, 'model.safetensors');
    writeFileSync(ckpt, '');
    assert.deepEqual(await architectureFileCandidates(ckpt), [
      join(deep, ARCHITECTURE_FILE_NAME), join(base, 'up', 'x', 'y', ARCHITECTURE_FILE_NAME), join(base, 'up', 'x', ARCHITECTURE_FILE_NAME), join(base, 'up', ARCHITECTURE_FILE_NAME),
    ]);
    assert.equal(await findArchitectureFile(ckpt), null);
    writeFileSync(join(base, ARCHITECTURE_FILE_NAME), '{}'); // 4 folders above: not looked at
    assert.equal(await findArchitectureFile(ckpt), null);
    rmSync(join(base, ARCHITECTURE_FILE_NAME));
    writeFileSync(join(base, 'up', ARCHITECTURE_FILE_NAME), '{}');
    assert.equal(await findArchitectureFile(ckpt), join(base, 'up', ARCHITECTURE_FILE_NAME));
    writeFileSync(join(deep, ARCHITECTURE_FILE_NAME), '{}');
    assert.equal(await findArchitectureFile(ckpt), join(deep, ARCHITECTURE_FILE_NAME), 'the nearest wins');
    // A folder model: its own folder first.
    assert.equal((await architectureFileCandidates(deep))[0], join(deep, ARCHITECTURE_FILE_NAME));
  });

  test('a found file with a problem is a warning and ignored: the built-in description is followed', async () => {
    const dir = join(base, 'found-bad');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(TINY, 'model.safetensors'), join(dir, 'model.safetensors'));
    copyFileSync(join(TINY, 'config.json'), join(dir, 'config.json'));
    writeFileSync(join(dir, ARCHITECTURE_FILE_NAME), JSON.stringify({ ...HAND_WRITTEN, options: { block: 'sandwich' } }));
    const report = await inspectCheckpoint(join(dir, 'model.safetensors'));
    assert.equal(report.recognised, true);
    assert.equal(report.implementation?.id, 'alphaxiv');
    assert.ok(report.warnings.includes(`ignored ${join(dir, ARCHITECTURE_FILE_NAME)}: not a valid architecture description: options.block must be one of pre-norm, post-norm, post-norm-no-mix-residual, got "sandwich"`), report.warnings.join('\n'));
  });

  test('a found file that does not fit these tensors gives way to a built-in that does, with a warning', async () => {
    const dir = join(base, 'found-misfit');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(TINY, 'model.safetensors'), join(dir, 'model.safetensors'));
    copyFileSync(join(TINY, 'config.json'), join(dir, 'config.json'));
    writeFileSync(join(dir, ARCHITECTURE_FILE_NAME), JSON.stringify(HAND_WRITTEN));
    const report = await inspectCheckpoint(join(dir, 'model.safetensors'));
    assert.equal(report.implementation?.id, 'alphaxiv');
    const warning = report.warnings.find((w) => w.startsWith(`${join(dir, ARCHITECTURE_FILE_NAME)} does not fit these tensors (`));
    assert.ok(warning, report.warnings.join('\n'));
    assert.match(warning, /no net\.tok_emb\.w/);
    assert.match(warning, /followed the built-in description GrassmannGPT \(alphaXiv reproduction\)$/);
  });
});

// ---------------------------------------------------------------------------------------------
// Bad description files
// ---------------------------------------------------------------------------------------------

describe('a bad description file is an InputError naming the file and the field', () => {
  const cases: { name: string; json?: unknown; text?: string; problem: RegExp; schema: boolean }[] = [
    { name: 'unknown role', json: { ...HAND_WRITTEN, tensors: { ...HAND_WRITTEN.tensors, attentionWeight: 'net.layers.{l}.attn.w' } }, problem: /tensors has an unknown role 'attentionWeight' \(roles: tokenEmbedding, /, schema: true },
    { name: 'per-block role without {l}', json: { ...HAND_WRITTEN, tensors: { ...HAND_WRITTEN.tensors, norm2Weight: 'net.layers.norm_b.w' } }, problem: /tensors\.norm2Weight = "net\.layers\.norm_b\.w" must contain \{l\} \(the block index\) exactly once/, schema: true },
    { name: 'global role with {l}', json: { ...HAND_WRITTEN, tensors: { ...HAND_WRITTEN.tensors, tokenEmbedding: 'net.{l}.tok' } }, problem: /tensors\.tokenEmbedding = "net\.\{l\}\.tok" is outside the blocks and must not contain \{l\}/, schema: true },
    { name: 'bad option value', json: { ...HAND_WRITTEN, options: { ...HAND_WRITTEN.options, mixOutput: 'concat' } }, problem: /options\.mixOutput must be one of blend, additive, gated-geometry, got "concat"/, schema: true },
    { name: 'unknown option', json: { ...HAND_WRITTEN, options: { ...HAND_WRITTEN.options, heads: 4 } }, problem: /options has an unknown option 'heads'/, schema: true },
    { name: 'missing required role', json: { ...HAND_WRITTEN, tensors: { ...HAND_WRITTEN.tensors, gateWeight: undefined } }, problem: /tensors has no template for gateWeight/, schema: true },
    { name: 'bad window default', json: { ...HAND_WRITTEN, windows: { form: 'list', default: [1, 0] } }, problem: /windows\.default must be a non-empty list of positive integers/, schema: true },
    { name: 'bad window form', json: { ...HAND_WRITTEN, windows: { form: 'per-layer' } }, problem: /windows\.form must be one of list, one-per-block/, schema: true },
    { name: 'bad config key list', json: { ...HAND_WRITTEN, config: { windows: 7 } }, problem: /config\.windows must be a key name or a list of key names, got 7/, schema: true },
    { name: 'unknown top-level field', json: { ...HAND_WRITTEN, layers: 4 }, problem: /unknown field 'layers'/, schema: true },
    { name: 'not JSON', text: '{"name": "x",', problem: /not valid JSON/, schema: false },
    { name: 'too big', text: JSON.stringify({ ...HAND_WRITTEN, undecided: ['x'.repeat(MAX_ARCHITECTURE_FILE_BYTES)] }), problem: new RegExp(`is \\d+ bytes, more than the ${MAX_ARCHITECTURE_FILE_BYTES} an architecture description may have`), schema: false },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const file = join(base, 'bad', `${c.name.replace(/\W+/g, '-')}.json`);
      mkdirSync(join(base, 'bad'), { recursive: true });
      writeFileSync(file, c.text ?? JSON.stringify(c.json));
      await assert.rejects(readArchitectureFile(file), (e: unknown) => {
        assert.ok(isInputError(e), String(e));
        assert.equal((e as { file: string }).file, file);
        assert.match((e as Error).message, c.problem);
        assert.ok((e as Error).message.startsWith(`${file}: `));
        return true;
      });
      if (c.schema) assert.notDeepEqual(validate(SCHEMA, JSON.parse(c.text ?? JSON.stringify(c.json))), [], 'the schema rejects it too');
    });
  }

  test('through the CLI: exit 1, one line naming the file and the field', async () => {
    const ckpt = join(base, 'bare', 'model.safetensors');
    if (!existsSync(ckpt)) await renamedTiny('bare');
    const file = join(base, 'bad', 'cli.json');
    writeFileSync(file, JSON.stringify({ ...HAND_WRITTEN, options: { block: 'sandwich' } }));
    const r = gl('inspect', ckpt, '--arch', file);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `grassmann-lens: ${file}: not a valid architecture description: options.block must be one of pre-norm, post-norm, post-norm-no-mix-residual, got "sandwich"`);
  });
});

// ---------------------------------------------------------------------------------------------
// describe-arch
// ---------------------------------------------------------------------------------------------

describe('describe-arch', () => {
  test('on the renamed copy: finds every role, lists what shapes cannot tell; filled in, it runs equal to the original', async () => {
    const ckpt = await renamedTiny('drafted');
    const out = join(base, 'drafted', 'draft.json');
    const r = gl('describe-arch', ckpt, '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.out, out);
    assert.equal(report.builtIn, null);
    assert.equal(report.fits, true, report.problems.join('; '));
    assert.deepEqual(report.unused, []);
    const written = JSON.parse(readFileSync(out, 'utf8')) as ArchitectureFileJson;
    assert.deepEqual(written, report.file);
    // The roles it found are the hand-written ones.
    assert.deepEqual(written.tensors, HAND_WRITTEN.tensors);
    assert.equal(written.options.mixNorm, true);
    assert.equal(written.options.positions, 'learned');
    assert.equal(written.options.layerNormEps, 1e-5);
    assert.deepEqual(written.config, {
      vocabSize: ['vocab_size'], modelDim: ['model_dim'], layers: ['num_layers'], reducedDim: ['reduced_dim'], ffDim: ['ff_dim'],
      maxPositions: ['max_seq_len'], windows: ['window_sizes'], layerNormEps: ['layer_norm_eps'], tiedHead: ['tie_weights'],
    });
    assert.deepEqual(written.windows, { form: 'list' });
    const undecided = written.undecided!;
    assert.deepEqual(undecided, report.undecided);
    for (const what of ['options.block', 'options.mixOutput', 'options.aggregation', 'options.pluckerEps', 'which LayerNorm is which']) {
      assert.ok(undecided.some((u) => u.startsWith(what)), `${what} in ${undecided.join('\n')}`);
    }
    assert.ok(undecided.find((u) => u.startsWith('which LayerNorm'))!.includes('norm1 (the mixing sub-layer\'s) = net.layers.{l}.norm_a'));
    assert.ok(report.decided.some((d: string) => d.startsWith('mixNormWeight = net.layers.{l}.mix.norm.w [64]: a LayerNorm inside the mixing module net.layers.{l}.mix.*')));
    assert.ok(report.decided.includes('options.activation = gelu: activation in ' + join(base, 'drafted', 'config.json')));

    // The researcher fills in what was undecided (here: the alphaXiv block) and deletes the list.
    const filled = { ...written, options: { ...written.options, block: 'pre-norm', mixOutput: 'blend', aggregation: 'project-then-mean', pluckerEps: 1e-8 } };
    delete filled.undecided;
    writeFileSync(join(base, 'drafted', ARCHITECTURE_FILE_NAME), architectureFileText(filled));
    const [original, drafted] = [await ModelSession.open(join(TINY, 'model.safetensors')), await ModelSession.open(ckpt)];
    try {
      assert.equal(drafted.spec.implementation.source, join(base, 'drafted', ARCHITECTURE_FILE_NAME));
      assert.deepEqual(drafted.spec.variant, original.spec.variant);
      assert.deepEqual(drafted.spec.windowSizes, original.spec.windowSizes);
      await assertSameForward(original, drafted, tinyManifest.cases[1].input_ids);
    } finally {
      await original.close();
      await drafted.close();
    }
  });

  test('writes beside the checkpoint by default, refuses to overwrite without --force, and prints what it decided and not', async () => {
    const ckpt = await renamedTiny('default-out');
    const beside = join(base, 'default-out', ARCHITECTURE_FILE_NAME);
    const first = gl('describe-arch', ckpt);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(existsSync(beside));
    assert.match(first.stdout, new RegExp(`^wrote ${beside.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    assert.match(first.stdout, /\ndecided:\n {2}blocks: 4 under net\.layers\.\{l\}\./);
    assert.match(first.stdout, /\nundecided \(5; also listed in the file's "undecided"\):\n {2}- which LayerNorm is which/);
    const again = gl('describe-arch', ckpt);
    assert.equal(again.code, 1);
    assert.equal(again.stderr.trim(), `grassmann-lens: ${beside}: already exists: pass --force to overwrite it, or --out to write elsewhere`);
    writeFileSync(beside, '{"edited": true}');
    const forced = gl('describe-arch', ckpt, '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(JSON.parse(readFileSync(beside, 'utf8')).name, 'custom');
    // The written draft (guesses as they are) is found and followed.
    const inspect = JSON.parse(gl('inspect', ckpt, '--json').stdout);
    assert.equal(inspect.recognised, true);
    assert.equal(inspect.implementation.source, beside);
  });

  test('on a renamed LMConfig checkpoint: roles by shape and name, the pre_norm switch; filled in, equal to the original', async () => {
    const dir = join(base, 'lifting');
    const ckpt = join(dir, 'model.safetensors');
    await writeRenamed(join(LIFTING, 'checkpoints', 'model.pt'), LIFTING_RENAMES, ckpt);
    copyFileSync(join(LIFTING, 'config.json'), join(dir, 'config.json'));
    const draft = await draftArchitecture(ckpt);
    assert.equal(draft.builtIn, null);
    assert.equal(draft.fits, true, draft.problems.join('; '));
    assert.deepEqual(draft.file.tensors, {
      tokenEmbedding: 'model.wte.weight', positionEmbedding: 'model.wpe.weight', finalNormWeight: 'model.ln_out.weight', finalNormBias: 'model.ln_out.bias',
      lmHead: 'model.head.weight',
      norm1Weight: 'model.h.{l}.ln_geo.weight', norm1Bias: 'model.h.{l}.ln_geo.bias',
      reduceWeight: 'model.h.{l}.geo.down.weight', reduceBias: 'model.h.{l}.geo.down.bias',
      pluckerWeight: 'model.h.{l}.geo.up.weight', pluckerBias: 'model.h.{l}.geo.up.bias',
      gateWeight: 'model.h.{l}.geo.alpha.weight', gateBias: 'model.h.{l}.geo.alpha.bias',
      norm2Weight: 'model.h.{l}.ln_ffn.weight', norm2Bias: 'model.h.{l}.ln_ffn.bias',
      ffnInWeight: 'model.h.{l}.ff.0.weight', ffnInBias: 'model.h.{l}.ff.0.bias',
      ffnOutWeight: 'model.h.{l}.ff.2.weight', ffnOutBias: 'model.h.{l}.ff.2.bias',
      pairFirst: 'model.h.{l}.geo.pair_i', pairSecond: 'model.h.{l}.geo.pair_j',
    });
    assert.equal(draft.file.options.mixNorm, false);
    assert.equal(draft.file.options.block, 'post-norm', 'pre_norm = false in config.json');
    assert.deepEqual(draft.file.config, {
      vocabSize: ['vocab_size'], modelDim: ['d_model'], layers: ['num_layers'], reducedDim: ['d_low'], maxPositions: ['max_context_len'],
      ffMultiplier: ['expansion_ratio'], windows: ['lags'], tiedHead: ['weight_tying'],
      switches: { pre_norm: { values: { true: { block: 'pre-norm' }, false: { block: 'post-norm' } }, default: 'false' } },
    });
    assert.ok(draft.undecided.some((u) => u.startsWith('windows.form = list is a guess: lags has one entry per block (3)')), draft.undecided.join('\n'));
    assert.ok(draft.undecided.some((u) => u.startsWith('options.block: pre_norm = false')));
    assert.ok(draft.decided.some((d) => d.startsWith('norm1Weight = model.h.{l}.ln_geo.weight [48]: the mixing sub-layer\'s LayerNorm (by the name of model.h.{l}.ln_ffn)')), draft.decided.join('\n'));
    assert.ok(!draft.undecided.some((u) => u.startsWith('which LayerNorm')), 'named: not a guess');

    // Filled in from LMConfig's forward(): alpha * g, g = W_plu mean(p_hat) + b, eps 1e-6.
    const filled = { ...draft.file, options: { ...draft.file.options, mixOutput: 'gated-geometry', aggregation: 'mean-then-project', pluckerEps: 1e-6 } };
    delete filled.undecided;
    writeFileSync(join(dir, ARCHITECTURE_FILE_NAME), architectureFileText(filled));
    const [original, renamed] = [await ModelSession.open(join(LIFTING, 'checkpoints', 'model.pt')), await ModelSession.open(ckpt)];
    try {
      assert.equal(original.spec.implementation.id, 'lmconfig');
      assert.equal(renamed.spec.implementation.source, join(dir, ARCHITECTURE_FILE_NAME));
      assert.deepEqual(renamed.spec.variant, original.spec.variant);
      assert.deepEqual(renamed.spec.windowSizes, [1, 2, 4]);
      assert.equal(renamed.spec.variant.tiedLmHead, true, 'model.head.weight holds the embedding\'s values');
      await assertSameForward(original, renamed, liftingManifest.cases[0].input_ids);
    } finally {
      await original.close();
      await renamed.close();
    }
  });

  test('on a checkpoint a built-in description fits: starts from the built-in and says so', async () => {
    const tiny = await draftArchitecture(join(TINY, 'model.safetensors'));
    assert.deepEqual(tiny.builtIn, { id: 'alphaxiv', label: ALPHAXIV.label });
    assert.deepEqual(tiny.undecided, []);
    assert.match(tiny.decided[0], /fit the built-in description GrassmannGPT \(alphaXiv reproduction\)/);
    assert.deepEqual(tiny.file, { ...architectureFileJson(ALPHAXIV), undecided: [] });
    const grasslm = await draftArchitecture(join(GRASSLM_DIR, 'checkpoints', 'best_model.pt'));
    assert.equal(grasslm.builtIn?.id, 'grasslm');
    assert.equal(grasslm.file.windows.form, 'one-per-block');

    const out = join(base, 'builtin.json');
    const r = gl('describe-arch', join(TINY, 'model.safetensors'), '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /fits the built-in description GrassmannGPT \(alphaXiv reproduction\) \(alphaxiv\): the file starts from it/);
    assert.deepEqual(withoutSource(await readArchitectureFile(out)), withoutSource(ALPHAXIV));
  });

  test('takes no --arch (usage error, exit 2)', () => {
    const r = gl('describe-arch', join(TINY, 'model.safetensors'), '--arch', 'x.json');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /describe-arch writes a description: it takes no --arch/);
  });
});

// ---------------------------------------------------------------------------------------------
// The JSON Schema and the file format
// ---------------------------------------------------------------------------------------------

type Schema = { [key: string]: unknown };

/** A draft-07 validator for the keywords media/grassmann-lens.arch.schema.json uses. */
function validate(schema: Schema, value: unknown, rootSchema: Schema = schema, at = '$'): string[] {
  const errors: string[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (typeof schema.$ref === 'string') {
    const target = (schema.$ref as string).replace(/^#\//, '').split('/').reduce<unknown>((o, k) => (o as Schema)[k], rootSchema) as Schema;
    errors.push(...validate(target, value, rootSchema, at));
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const is = (t: string): boolean =>
      t === 'null' ? value === null : t === 'array' ? Array.isArray(value) : t === 'object' ? isObj(value) : t === 'integer' ? Number.isInteger(value) : typeof value === t;
    if (!types.some(is)) return [...errors, `${at}: expected ${types.join(' or ')}`];
  }
  if (schema.enum && !(schema.enum as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(value))) errors.push(`${at}: not one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) errors.push(`${at}: not ${JSON.stringify(schema.const)}`);
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) errors.push(`${at}: too short`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) errors.push(`${at}: too long`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: does not match ${schema.pattern}`);
  }
  if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: below ${schema.minimum}`);
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) errors.push(`${at}: too few items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) errors.push(`${at}: too many items`);
    if (isObj(schema.items)) value.forEach((v, i) => errors.push(...validate(schema.items as Schema, v, rootSchema, `${at}[${i}]`)));
  }
  if (isObj(value)) {
    for (const k of (schema.required as string[] | undefined) ?? []) if (!(k in value)) errors.push(`${at}: missing ${k}`);
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    const patterns = Object.entries((schema.patternProperties ?? {}) as Record<string, Schema>);
    for (const [k, v] of Object.entries(value)) {
      let known = false;
      if (k in props) {
        known = true;
        errors.push(...validate(props[k], v, rootSchema, `${at}.${k}`));
      }
      for (const [p, s] of patterns) {
        if (new RegExp(p).test(k)) {
          known = true;
          errors.push(...validate(s, v, rootSchema, `${at}.${k}`));
        }
      }
      if (!known && schema.additionalProperties === false) errors.push(`${at}: unknown property ${k}`);
      if (!known && isObj(schema.additionalProperties)) errors.push(...validate(schema.additionalProperties as Schema, v, rootSchema, `${at}.${k}`));
    }
  }
  for (const s of (schema.allOf as Schema[] | undefined) ?? []) errors.push(...validate(s, value, rootSchema, at));
  if (schema.oneOf) {
    const passing = (schema.oneOf as Schema[]).filter((s) => validate(s, value, rootSchema, at).length === 0).length;
    if (passing !== 1) errors.push(`${at}: matches ${passing} of oneOf`);
  }
  if (isObj(schema.if)) {
    const branch = validate(schema.if as Schema, value, rootSchema, at).length === 0 ? schema.then : schema.else;
    if (isObj(branch)) errors.push(...validate(branch as Schema, value, rootSchema, at));
  }
  return errors;
}

/** A description without where it came from (built-in, or a file's path). */
function withoutSource(d: ArchitectureDescription): unknown {
  return { ...d, source: '-', defaultWindows: { ...d.defaultWindows, source: '-' } };
}

describe('media/grassmann-lens.arch.schema.json', () => {
  const defs = SCHEMA.definitions as Record<string, Schema>;
  const options = (defs.options.properties) as Record<string, Schema>;
  const tensors = ((SCHEMA.properties as Record<string, Schema>).tensors.properties) as Record<string, Schema>;

  test('is draft-07, and its enums are the TypeScript constants', () => {
    assert.equal(SCHEMA.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.deepEqual(options.block.enum, [...BLOCK_LAYOUTS]);
    assert.deepEqual(options.mixOutput.enum, [...MIX_OUTPUTS]);
    assert.deepEqual(options.aggregation.enum, [...AGGREGATIONS]);
    assert.deepEqual(options.activation.enum, [...ACTIVATIONS]);
    assert.deepEqual(options.pairing.enum, [...PAIRINGS]);
    assert.deepEqual(options.positions.enum, [...POSITION_KINDS]);
    const windows = (SCHEMA.properties as Record<string, Schema>).windows.properties as Record<string, Schema>;
    assert.deepEqual(windows.form.enum, [...WINDOW_FORMS]);
    assert.deepEqual(Object.keys(options).sort(), Object.keys(DEFAULT_OPTIONS).sort());
    assert.deepEqual(Object.keys(defs.partialOptions.properties as object), Object.keys(options));
    for (const [name, o] of Object.entries(options)) {
      assert.ok(typeof o.description === 'string' && o.description.length > 10, name);
      if (o.enum) assert.equal((o.enumDescriptions as string[]).length, (o.enum as string[]).length, `${name}: one description per value`);
    }
  });

  test('its roles are the roles, each described with its shape', () => {
    assert.deepEqual(Object.keys(tensors), [...GLOBAL_ROLES, ...LAYER_ROLES, ...PAIR_INDEX_ROLES]);
    const symbol = (s: string): string => (s === 'twoD' ? '2d' : s === 'P' ? 'r(r-1)/2' : s);
    for (const [role, axes] of Object.entries(ROLE_SHAPES)) {
      assert.ok((tensors[role].description as string).includes(`Shape [${axes.map((a) => symbol(a.symbol)).join(', ')}].`), `${role}: ${tensors[role].description}`);
    }
    // Always required: what requiredRoles asks for without positions and without mixNorm.
    const always = requiredRoles({ options: { ...DEFAULT_OPTIONS, positions: 'none', mixNorm: false } });
    assert.deepEqual([...((SCHEMA.properties as Record<string, Schema>).tensors.required as string[])].sort(), [...always.global, ...always.layer].sort());
    const withAll = requiredRoles({ options: DEFAULT_OPTIONS });
    assert.deepEqual([...withAll.global, ...withAll.layer].filter((r) => !(always.global as string[]).includes(r) && !(always.layer as string[]).includes(r)).sort(), ['mixNormBias', 'mixNormWeight', 'positionEmbedding']);
  });

  test('its top-level and config fields are what parseArchitectureFile accepts', () => {
    const top = Object.keys(SCHEMA.properties as object);
    assert.deepEqual(top, ['$schema', 'name', 'label', 'tensors', 'options', 'windows', 'config', 'undecided']);
    const everyField = { ...HAND_WRITTEN, $schema: './media/grassmann-lens.arch.schema.json', undecided: ['ignored on read'] };
    assert.deepEqual(Object.keys(everyField).sort(), [...top].sort());
    assert.equal(parseArchitectureFile('f.json', everyField).id, 'my-grassmann');
    for (const field of top.filter((f) => !['tensors'].includes(f))) {
      assert.throws(() => parseArchitectureFile('f.json', { ...HAND_WRITTEN, [field + 'X']: 1 }), /unknown field/);
    }
    const config = ((SCHEMA.properties as Record<string, Schema>).config.properties) as Record<string, Schema>;
    for (const key of Object.keys(config).filter((k) => k !== 'switches' && k !== 'require')) {
      const parsed = parseArchitectureFile('f.json', { ...HAND_WRITTEN, config: { [key]: 'some_key' } });
      assert.deepEqual((parsed.config as Record<string, unknown>)[key], ['some_key'], key);
    }
    assert.throws(() => parseArchitectureFile('f.json', { ...HAND_WRITTEN, config: { hiddenSize: 'x' } }), /config has an unknown field 'hiddenSize'/);
  });

  test('each built-in description, as a file, validates and parses back to an equal description', () => {
    assert.equal(BUILT_IN_ARCHITECTURES.length, 3);
    for (const builtIn of BUILT_IN_ARCHITECTURES) {
      const json = JSON.parse(architectureFileText(architectureFileJson(builtIn)));
      assert.deepEqual(validate(SCHEMA, json), [], builtIn.id);
      const parsed = parseArchitectureFile(`${builtIn.id}.json`, json);
      assert.equal(parsed.source, `${builtIn.id}.json`);
      assert.deepEqual(withoutSource(parsed), withoutSource(builtIn), builtIn.id);
    }
    // The default-window rules survive: GrassLM's one offset per block at other depths.
    const grasslm = parseArchitectureFile('g.json', architectureFileJson(GRASSLM));
    assert.deepEqual(grasslm.defaultWindows, { byDepth: GRASSLM.defaultWindows.byDepth, otherwise: 'ones', source: 'g.json' });
    assert.equal(parseArchitectureFile('l.json', architectureFileJson(LMCONFIG)).config.switches?.pre_norm.default, 'false');
  });

  test('accepts the hand-written file and what describe-arch writes (nulls flagged for roles to fill in)', async () => {
    assert.deepEqual(validate(SCHEMA, HAND_WRITTEN), []);
    const drafted = await draftArchitecture(await renamedTiny('schema-draft'));
    assert.deepEqual(validate(SCHEMA, JSON.parse(architectureFileText(drafted.file))), []);
    const unfilled = { ...HAND_WRITTEN, tensors: { ...HAND_WRITTEN.tensors, gateWeight: null } };
    assert.deepEqual(validate(SCHEMA, unfilled), ['$.tensors.gateWeight: expected string']);
    // Without options.mixNorm (default true) the mixing module's LayerNorm is required.
    const { mixNormWeight: _w, mixNormBias: _b, ...noMixNorm } = HAND_WRITTEN.tensors;
    assert.deepEqual(validate(SCHEMA, { ...HAND_WRITTEN, tensors: noMixNorm, options: {} }), ['$.tensors: missing mixNormWeight', '$.tensors: missing mixNormBias']);
    assert.deepEqual(validate(SCHEMA, { ...HAND_WRITTEN, tensors: noMixNorm, options: { mixNorm: false } }), []);
    const { positionEmbedding: _p, ...noPositions } = HAND_WRITTEN.tensors;
    assert.deepEqual(validate(SCHEMA, { ...HAND_WRITTEN, tensors: noPositions, options: { positions: 'none' } }), []);
    assert.deepEqual(validate(SCHEMA, { ...HAND_WRITTEN, tensors: noPositions }), ['$.tensors: missing positionEmbedding']);
  });

  test('package.json validates grassmann-lens.arch.json with it, contributes the command and the setting; the package ships it', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    assert.deepEqual(manifest.contributes.jsonValidation, [{ fileMatch: ARCHITECTURE_FILE_NAME, url: './media/grassmann-lens.arch.schema.json' }]);
    const command = manifest.contributes.commands.find((c: { command: string }) => c.command === 'grassmannLens.describeArchitecture');
    assert.deepEqual(command, { command: 'grassmannLens.describeArchitecture', title: 'Describe Model Architecture…', category: 'Grassmann Lens' });
    const menu = manifest.contributes.menus['explorer/context'].find((m: { command: string }) => m.command === 'grassmannLens.describeArchitecture');
    const inspectMenu = manifest.contributes.menus['explorer/context'].find((m: { command: string }) => m.command === 'grassmannLens.inspectCheckpoint');
    assert.equal(menu.when, inspectMenu.when);
    const setting = manifest.contributes.configuration.properties['grassmannLens.architectureFile'];
    assert.equal(setting.type, 'string');
    assert.equal(setting.default, '');
    const ignore = readFileSync(join(root, '.vscodeignore'), 'utf8').split('\n').map((l) => l.trim());
    assert.ok(ignore.includes('!media/**'), '.vscodeignore re-includes media/');
    assert.ok(!ignore.some((l) => /^media|grassmann-lens\.arch\.schema/.test(l)), 'nothing excludes the schema after it');
  });
});
