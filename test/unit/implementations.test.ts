/**
 * The two checkpoints of other public GrassmannGPT implementations (test/fixtures/implementations:
 * GrassLM's `grasslm-tiny`, the LMConfig reproduction's `lifting-postnorm`) open and run against
 * their PyTorch references, with no flags: the architecture, the config (GrassLM's is saved inside
 * best_model.pt, LMConfig's is config.json one folder above model.pt) and the tokenizer are found
 * on their own.
 *
 *  (a) through the built CLI (dist/cli.js, `npm run build`): `run <ckpt> --text T --dump OUT` and
 *      `eval <ckpt> --data eval.txt`;
 *  (b) through the model API (describeModel + GrassmannModel) on the cpu and wasm backends, with
 *      the host kernels and with the composite TensorFlow.js ops.
 *
 * Tolerances (float32 against float32 PyTorch):
 *  - every reference tap (layers.{l}.mix_in, .z, .plucker.{d}, .g, .alpha, .mix_out, .block_out,
 *    logits, nll): 1e-4 absolute;
 *  - perplexity of eval.txt under the manifest's protocol: 1e-4 relative to manifest eval.perplexity.
 *
 * Encoding each case's `text` gives its `input_ids` except for two cases of each manifest, whose
 * text encodes to more ids than the model has positions: their `input_ids` are the first
 * max_seq_len ids of the text (checked below), which is what `run` keeps of a longer text (with a
 * warning and `truncated` in its report), so every case runs through the CLI from its text; part
 * (b) runs every case from its `input_ids`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { openCheckpoint } from '../../src/checkpoint/open';
import { readFloat32 } from '../../src/checkpoint/tensorData';
import type { Checkpoint } from '../../src/checkpoint/types';
import type { BlockOpsKind } from '../../src/model/blockOps';
import { GrassmannModel } from '../../src/model/grassmann';
import { describeModel, type GrassmannSpec } from '../../src/model/spec';
import { loadTokenizer } from '../../src/tokenizer/load';
import { maxAbsDiff, useBackend } from '../support/numeric';
import { compareWithReference as compareTaps, tapKind } from '../../bench/parity';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const FIXTURES = join(__dirname, '..', 'fixtures', 'implementations');
const ABS_TOL = 1e-4;
const PPL_REL_TOL = 1e-4;

interface Manifest {
  implementation: string;
  constructor: Record<string, unknown>;
  cases: { file: string; text: string; input_ids: number[] }[];
  eval: { file: string; seq_len: number; chunks: number; mean_nll: number; perplexity: number };
}

/** Each fixture, its checkpoint, and what recognition must say about it. */
const FOLDERS = [
  {
    folder: 'grasslm-tiny',
    checkpoint: 'checkpoints/best_model.pt',
    implementation: 'grasslm',
    block: 'post-norm-no-mix-residual',
    windowsKey: 'window_schedule',
    /** The config saved inside best_model.pt (its top-level `config`). */
    configPath: (ckpt: string) => `${ckpt}#config`,
  },
  {
    folder: 'lifting-postnorm',
    checkpoint: 'checkpoints/model.pt',
    implementation: 'lmconfig',
    block: 'post-norm',
    windowsKey: 'lags',
    configPath: () => join(FIXTURES, 'lifting-postnorm', 'config.json'),
  },
] as const;

const manifestOf = (folder: string): Manifest => JSON.parse(readFileSync(join(FIXTURES, folder, 'reference', 'manifest.json'), 'utf8')) as Manifest;


/** The tap names a reference of this implementation must hold for `T` tokens (so that none is skipped). */
function expectedTapNames(manifest: Manifest, T: number): string[] {
  const c = manifest.constructor;
  const layers = (c.n_layers ?? c.num_layers) as number;
  const names: string[] = [];
  for (let l = 0; l < layers; l++) {
    const offsets = c.window_schedule ? [(c.window_schedule as number[])[l]] : (c.lags as number[]);
    names.push(`layers.${l}.mix_in`, `layers.${l}.z`, ...[...new Set(offsets)].filter((d) => d < T).map((d) => `layers.${l}.plucker.${d}`));
    names.push(`layers.${l}.g`, `layers.${l}.alpha`, `layers.${l}.mix_out`, `layers.${l}.block_out`);
  }
  return [...names, 'logits', 'nll'].sort();
}

/**
 * Compares every tensor of the reference file with `ours(name)` (bench/parity.ts, the comparison
 * `npm run gpu-check` runs too); returns the names compared and records the largest error per tap
 * kind in `worst`.
 */
async function compareWithReference(referenceFile: string, ours: (name: string) => { shape: number[]; data: ArrayLike<number> } | undefined, worst: Map<string, number>): Promise<string[]> {
  const compared = await compareTaps(referenceFile, ours, worst);
  for (const t of compared) {
    assert.ok(t.problem !== 'missing', `tap ${t.name} missing`);
    assert.deepEqual(t.shape, t.expectedShape, `${t.name} shape`);
    assert.ok(t.error <= ABS_TOL, `${t.name}: max abs error ${t.error}`);
  }
  return compared.map((t) => t.name);
}

const report = (worst: Map<string, number>): string => [...worst].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ');

function gl(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'gl-impl-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// The case texts and their ids
// ---------------------------------------------------------------------------------------------

const encode = (folder: string, text: string): number[] => loadTokenizer(join(FIXTURES, folder)).encode(text).map((t) => t.id);
const encodedLength = (folder: string, text: string): number => encode(folder, text).length;

/** Per folder, whether encoding case k's text gives exactly its input_ids. */
const textGivesIds = new Map<string, boolean[]>();
for (const { folder } of FOLDERS) {
  textGivesIds.set(folder, manifestOf(folder).cases.map((c) => JSON.stringify(encode(folder, c.text)) === JSON.stringify(c.input_ids)));
}

describe('the case texts of the manifests', () => {
  for (const { folder } of FOLDERS) {
    test(`${folder}: each text encodes to its input_ids, or input_ids are its first max_seq_len ids`, () => {
      const manifest = manifestOf(folder);
      const Tmax = (manifest.constructor.max_seq_len ?? manifest.constructor.max_context_len) as number;
      manifest.cases.forEach((c, k) => {
        const ids = encode(folder, c.text);
        if (textGivesIds.get(folder)![k]) return;
        // Cut to the position table: the same ids, then more than the model can read.
        assert.equal(c.input_ids.length, Tmax, `case ${k}: input_ids differ from the encoded text and are not a cut to ${Tmax}`);
        assert.ok(ids.length > Tmax, `case ${k}: the text encodes to ${ids.length} ids`);
        assert.deepEqual(ids.slice(0, Tmax), c.input_ids, `case ${k}: input_ids are not the first ${Tmax} ids of the text`);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (a) the CLI, no flags
// ---------------------------------------------------------------------------------------------

describe('the CLI with no flags', () => {
  test('the bundle exists (npm run build)', () => {
    assert.ok(existsSync(CLI), `${CLI} missing: run npm run build`);
  });

  for (const { folder, checkpoint } of FOLDERS) {
    const manifest = manifestOf(folder);
    const ckpt = join(FIXTURES, folder, checkpoint);
    const worst = new Map<string, number>();
    after(() => console.log(`[cli ${folder}] max errors: ${report(worst)}`));

    manifest.cases.forEach((c, k) => {
      test(`${folder} ${c.file}: run --text --dump, every tap within ${ABS_TOL}`, async () => {
        const out = join(tmp, `${folder}-case${k}.safetensors`);
        const r = gl('run', ckpt, '--text', c.text, '--dump', out, '--json');
        assert.equal(r.code, 0, r.stderr);
        const run = JSON.parse(r.stdout) as { ids: number[]; truncated: { total: number; kept: number } | null };
        assert.deepEqual(run.ids, c.input_ids);
        // A text longer than the position table: the first Tmax ids, said so (the reference's own cut).
        if (textGivesIds.get(folder)![k]) assert.equal(run.truncated, null);
        else assert.deepEqual(run.truncated, { total: encodedLength(folder, c.text), kept: c.input_ids.length });
        const dump = await openSafetensors(out);
        try {
          assert.deepEqual(JSON.parse(String(dump.metadata.input_ids)), c.input_ids);
          const values = new Map<string, { shape: number[]; data: Float32Array }>();
          for (const [name, info] of dump.tensors) values.set(name, { shape: [...info.shape], data: await readFloat32(info) });
          const compared = await compareWithReference(join(FIXTURES, folder, c.file), (name) => values.get(name), worst);
          assert.deepEqual(compared, expectedTapNames(manifest, c.input_ids.length));
        } finally {
          await dump.close();
        }
      });
    });

    test(`${folder}: eval --data eval.txt within ${PPL_REL_TOL} relative of the manifest perplexity`, () => {
      const r = gl('eval', ckpt, '--data', join(FIXTURES, folder, manifest.eval.file), '--json');
      assert.equal(r.code, 0, r.stderr);
      const result = JSON.parse(r.stdout) as { perplexity: number; mean_nll: number; chunks: number; seq_len: number };
      assert.equal(result.seq_len, manifest.eval.seq_len);
      assert.equal(result.chunks, manifest.eval.chunks);
      const rel = Math.abs(result.perplexity - manifest.eval.perplexity) / manifest.eval.perplexity;
      console.log(`[cli eval ${folder}] perplexity ${result.perplexity} (reference ${manifest.eval.perplexity}, rel ${rel.toExponential(2)})`);
      assert.ok(rel <= PPL_REL_TOL, `perplexity ${result.perplexity} vs ${manifest.eval.perplexity}`);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (b) the model API, every backend and ops kind
// ---------------------------------------------------------------------------------------------



const configurations: Array<{ backend: 'cpu' | 'wasm'; ops: BlockOpsKind }> = [
  { backend: 'wasm', ops: 'host' },
  { backend: 'wasm', ops: 'composite' },
  { backend: 'cpu', ops: 'host' },
  { backend: 'cpu', ops: 'composite' },
];

for (const fixture of FOLDERS) {
  const { folder } = fixture;
  const manifest = manifestOf(folder);
  const ckptPath = join(FIXTURES, folder, fixture.checkpoint);

  for (const { backend, ops } of configurations) {
    const label = `${folder}, ${backend} backend, ${ops} ops`;
    describe(`the model API: ${label}`, () => {
      let checkpoint: Checkpoint;
      let spec: GrassmannSpec;
      let model: GrassmannModel;
      const worst = new Map<string, number>();

      before(async () => {
        await useBackend(backend);
        checkpoint = await openCheckpoint(ckptPath);
        const described = await describeModel(checkpoint);
        assert.ok(described.recognized, described.recognized ? '' : described.problems.join('; '));
        spec = described.spec;
        model = await GrassmannModel.load(checkpoint, spec);
      });
      after(async () => {
        model?.dispose();
        await checkpoint?.close();
        console.log(`[api ${label}] max errors: ${report(worst)}`);
      });

      test('recognised as its implementation, windows from its own config', () => {
        assert.equal(spec.implementation.id, fixture.implementation);
        assert.equal(spec.variant.block, fixture.block);
        assert.equal(spec.windowSource, 'config');
        assert.equal(spec.configPath, fixture.configPath(ckptPath));
        const windows = manifest.constructor[fixture.windowsKey] as number[];
        assert.deepEqual(spec.windowSizes, windows);
        spec.layerShapes.forEach((shape, l) => assert.deepEqual(shape.windowSizes, fixture.windowsKey === 'window_schedule' ? [windows[l]] : windows));
      });

      for (const c of manifest.cases) {
        test(`${c.file} (input_ids): logits and every tap within ${ABS_TOL}`, async () => {
          const before = tf.memory().numTensors;
          const result = await model.forward(c.input_ids, { taps: true, ops });
          assert.equal(tf.memory().numTensors, before, 'forward leaves no tensors behind');
          assert.deepEqual(result.logitsShape, [c.input_ids.length, spec.dims.vocabSize]);
          const compared = await compareWithReference(join(FIXTURES, folder, c.file), (name) => result.taps.get(name), worst);
          assert.deepEqual(compared, expectedTapNames(manifest, c.input_ids.length));
          assert.equal(maxAbsDiff(result.logits, result.taps.get('logits')!.data), 0);
        });
      }

      if (backend === 'cpu') {
        test(`evaluate(eval.txt) within ${PPL_REL_TOL} relative of the manifest perplexity`, async () => {
          const text = readFileSync(join(FIXTURES, folder, manifest.eval.file), 'utf8');
          const ids = loadTokenizer(join(FIXTURES, folder)).encode(text).map((t) => t.id);
          const result = await model.evaluate(ids, manifest.eval.seq_len, { ops });
          assert.equal(result.chunks, manifest.eval.chunks);
          const rel = Math.abs(result.perplexity - manifest.eval.perplexity) / manifest.eval.perplexity;
          console.log(`[api eval ${label}] perplexity ${result.perplexity} (reference ${manifest.eval.perplexity}, rel ${rel.toExponential(2)})`);
          assert.ok(rel <= PPL_REL_TOL, `perplexity ${result.perplexity} vs ${manifest.eval.perplexity}`);
        });
      }
    });
  }
}
