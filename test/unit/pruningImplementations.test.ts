/**
 * Pruning the checkpoints of other implementations (test/fixtures/implementations: GrassLM's
 * wrapped best_model.pt, LMConfig's plain model.pt), and the torch writer's wrappers and config
 * values that this needs.
 *
 * For each implementation, sweeps of FFN units and reduced dimensions (criteria magnitude and
 * lrp, one rate, one reference sample) in mask and structural mode, then:
 *   (a) the mask model.pt holds exactly the source's state dict keys (order, dtypes, shapes),
 *       with only the pruned units' tensors changed and those units zero, saved under the same
 *       wrapper with the same config dict and metadata; PyTorch loads it into a module of that
 *       implementation (test/support/grassmann_impls.py, written from the fixtures' README) with
 *       load_state_dict(strict=True), and its perplexity on the evaluation text's ids (encoded
 *       by ModelSession.encode) is the step's;
 *   (b) the structural model.safetensors reopens as the same implementation, with the per-block
 *       sizes of its config.json, and computes the masked model;
 *   (c) config.json has the implementation's own keys and the right values (the fixture's
 *       config, with the sizes pruning changed).
 * Sources saved otherwise: a .safetensors without pair-index buffers and tied head (they are
 * added under the description's templates, where PyTorch's state_dict() has them), and a
 * DataParallel `module.` checkpoint (the prefix is put back).
 *
 * Tolerances: perplexities of the same function computed by Grassmann Lens and by PyTorch, or
 * from the mask and the structural checkpoint, agree to 1e-4 relative (float32 sums in another
 * order); a step's perplexity and `eval` on its written checkpoint are the same computation and
 * are equal exactly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openCheckpoint } from '../../src/checkpoint/open';
import { writeSafetensors } from '../../src/checkpoint/safetensorsWriter';
import { readFloat32, readTensorRaw } from '../../src/checkpoint/tensorData';
import { openTorchCheckpoint } from '../../src/checkpoint/torch';
import { MAX_PICKLE_DATA_DEPTH, PickleWriter, writeTorchCheckpoint, type PickleData, type TensorToWrite } from '../../src/checkpoint/torchWriter';
import { evaluateFile } from '../../src/core/evaluate';
import { ModelSession } from '../../src/core/session';
import { layerKey, type GrassmannSpec } from '../../src/model/spec';
import { pruneSweep } from '../../src/pruning/sweep';
import type { PruneReport, PruneStep, PruneUnitKind } from '../../src/relevance/types';
import { NO_TORCH, TORCH_PYTHON } from '../support/torchPython';

const root = join(__dirname, '..', '..');
const IMPLS = join(root, 'test/fixtures/implementations');
const HELPER = join(root, 'test/support/grassmann_impls.py');
const tmp = mkdtempSync(join(tmpdir(), 'gl-prune-impl-'));
const SEQ_LEN = 96;
const RTOL = 1e-4;

before(async () => {
  await tf.setBackend('cpu');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const relClose = (a: number, b: number): boolean => Math.abs(a - b) <= RTOL * Math.abs(b);
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

function python(args: string[]): unknown {
  return JSON.parse(execFileSync(TORCH_PYTHON!, args, { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 }));
}

// ---------------------------------------------------------------------------------------------
// The torch writer: wrappers and config values
// ---------------------------------------------------------------------------------------------

const smallTensors = (): TensorToWrite[] => {
  const emb = Float32Array.from([1, 2, 3, 4, 5, 6]);
  return [
    { name: 'emb.weight', dtype: 'F32', shape: [3, 2], data: emb },
    { name: 'idx', dtype: 'I64', shape: [2], data: BigInt64Array.from([0n, 1n]) },
    { name: 'head.weight', dtype: 'F32', shape: [3, 2], data: emb },
  ];
};

/** Every kind of value PickleData has, nested. */
const CONFIG: Record<string, PickleData> = {
  vocab_size: 1000,
  window_schedule: [1, 2, 4, 8],
  dropout_rate: 0.1,
  weight_tying: true,
  pre_norm: false,
  name: 'grass — ü',
  none: null,
  empty_list: [],
  empty_dict: {},
  nested: { lags: [[1, 2], { deep: [null, 'x', 2.5] }] },
  big: 2n ** 70n,
  negative: -3,
  minus_zero: -0,
  unsafe: 2 ** 60,
};

/** What Python says it loaded: values tagged with their Python type, so int and float differ. */
const PY_TAGGED = `
import json, sys, torch
def tag(v):
    if isinstance(v, bool): return ['bool', v]
    if isinstance(v, int): return ['int', str(v)]
    if isinstance(v, float): return ['float', repr(v)]
    if isinstance(v, str): return ['str', v]
    if v is None: return ['None']
    if isinstance(v, list): return ['list', [tag(x) for x in v]]
    if isinstance(v, dict) and not isinstance(v, torch.Tensor): return [type(v).__name__, [[k, tag(x)] for k, x in v.items()]]
    if isinstance(v, torch.Tensor): return ['tensor', str(v.dtype), list(v.shape), v.storage().data_ptr()]
    return ['other', type(v).__name__]
print(json.dumps(tag(torch.load(sys.argv[1], map_location='cpu'))))
`;

/** The tags PY_TAGGED gives for a PickleData value written by PickleWriter.data. */
function expectedTag(v: PickleData): unknown {
  if (v === null) return ['None'];
  if (typeof v === 'boolean') return ['bool', v];
  if (typeof v === 'bigint') return ['int', v.toString()];
  if (typeof v === 'number') return Number.isSafeInteger(v) && !Object.is(v, -0) ? ['int', String(v)] : ['float', v === 2 ** 60 ? '1.152921504606847e+18' : Object.is(v, -0) ? '-0.0' : String(v)];
  if (typeof v === 'string') return ['str', v];
  if (Array.isArray(v)) return ['list', v.map(expectedTag)];
  return ['dict', Object.entries(v).map(([k, x]) => [k, expectedTag(x)])];
}

describe('writeTorchCheckpoint: wrappers and config values', () => {
  test('PickleWriter.data emits the opcodes torch.save would for JSON-like values', () => {
    const bytes = [...new PickleWriter().data({ a: [1, true, null], b: {}, c: [], d: 0.5 }).bytes()];
    const binunicode = (s: string) => [0x58, s.length, 0, 0, 0, ...[...s].map((c) => c.charCodeAt(0))];
    const float = [0x47, ...new Uint8Array(new Float64Array([0.5]).buffer).reverse()];
    assert.deepEqual(bytes, [
      0x7d, 0x28, // EMPTY_DICT MARK
      ...binunicode('a'), 0x71, 0, 0x5d, 0x28, 0x4b, 1, 0x88, 0x4e, 0x65, // 'a' BINPUT 0 [MARK 1 True None APPENDS]
      ...binunicode('b'), 0x71, 1, 0x7d, // 'b' {}
      ...binunicode('c'), 0x71, 2, 0x5d, // 'c' []
      ...binunicode('d'), 0x71, 3, ...float, // 'd' 0.5
      0x75, // SETITEMS
    ]);
  });

  test('a wrapped state dict with a nested config round-trips through our reader; the bytes are deterministic', async () => {
    const path = join(tmp, 'wrapped.pt');
    const extra = { epoch: 2, config: CONFIG, val_loss: 4.5, note: 'pruned' };
    await writeTorchCheckpoint(path, smallTensors(), extra, { stateKeys: ['model_state_dict'] });
    const ck = await openTorchCheckpoint(path);
    try {
      assert.deepEqual(ck.stateDictLayout, { stateKeys: ['model_state_dict'], strippedPrefixes: [] });
      assert.deepEqual(ck.metadata, { epoch: 2, val_loss: 4.5, note: 'pruned' });
      // Our reader keeps configs as plain values (big ints as their decimal text).
      assert.deepEqual(JSON.parse(JSON.stringify(ck.configs)), { config: { ...JSON.parse(JSON.stringify({ ...CONFIG, big: undefined })), big: (2n ** 70n).toString() } });
      assert.deepEqual([...ck.tensors.keys()], ['emb.weight', 'idx', 'head.weight']);
      assert.deepEqual(await readTensorRaw(ck.tensors.get('idx')!), BigInt64Array.from([0n, 1n]));
      assert.equal(ck.tensors.get('emb.weight')!.storage.key, ck.tensors.get('head.weight')!.storage.key);
    } finally {
      await ck.close();
    }
    const again = join(tmp, 'wrapped-again.pt');
    await writeTorchCheckpoint(again, smallTensors(), extra, { stateKeys: ['model_state_dict'] });
    assert.ok(readFileSync(path).equals(readFileSync(again)), 'the same input gives the same bytes');
  });

  test('nested wrapper keys, and a bare state dict by default', async () => {
    const nested = join(tmp, 'nested.pt');
    await writeTorchCheckpoint(nested, smallTensors(), { step: 7 }, { stateKeys: ['state_dict', 'model'] });
    const ck = await openTorchCheckpoint(nested);
    try {
      assert.deepEqual(ck.stateDictLayout, { stateKeys: ['state_dict', 'model'], strippedPrefixes: [] });
      assert.deepEqual(ck.metadata, { step: 7 });
    } finally {
      await ck.close();
    }
    const bare = join(tmp, 'bare.pt');
    await writeTorchCheckpoint(bare, smallTensors());
    const b = await openTorchCheckpoint(bare);
    try {
      assert.deepEqual(b.stateDictLayout, { stateKeys: [], strippedPrefixes: [] });
    } finally {
      await b.close();
    }
  });

  test('refuses what is not plain data, and leaves no file behind', async () => {
    const path = join(tmp, 'refused.pt');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    let deep: PickleData = 1;
    for (let i = 0; i <= MAX_PICKLE_DATA_DEPTH; i++) deep = [deep];
    const cases: [unknown, RegExp][] = [
      [{ config: { x: undefined } }, /extra\.config\.x is a undefined/],
      [{ config: new Map() }, /extra\.config is a Map/],
      [{ config: { w: new Float32Array(2) } }, /extra\.config\.w is a Float32Array/],
      [{ f: () => 1 }, /extra\.f is a function/],
      [{ c: cyclic }, /nests deeper than 32 levels/],
      [{ d: deep }, /nests deeper than 32 levels/],
      [{ model_state_dict: 1 }, /'model_state_dict' is reserved/],
    ];
    for (const [extra, message] of cases) {
      await assert.rejects(writeTorchCheckpoint(path, smallTensors(), extra as Record<string, PickleData>), message);
    }
    await assert.rejects(writeTorchCheckpoint(path, smallTensors(), { epoch: 1 }, { stateKeys: [] }), /a bare state dict .* has no room for extra entries/);
    await assert.rejects(writeTorchCheckpoint(path, smallTensors(), { sd: 1 }, { stateKeys: ['sd'] }), /'sd' is reserved/);
    await assert.rejects(writeTorchCheckpoint(path, smallTensors(), undefined, { stateKeys: [''] }), /wrapper keys must be non-empty strings/);
    assert.equal(existsSync(path), false);
  });

  test('PyTorch loads the nested config with the Python types we meant', { skip: NO_TORCH }, async () => {
    const path = join(tmp, 'for-torch.pt');
    await writeTorchCheckpoint(path, smallTensors(), { epoch: 2, config: CONFIG }, { stateKeys: ['state_dict', 'model'] });
    const loaded = python(['-c', PY_TAGGED, path]) as [string, [string, unknown][]];
    assert.equal(loaded[0], 'dict');
    assert.deepEqual(loaded[1].map(([k]) => k), ['epoch', 'config', 'state_dict']);
    assert.deepEqual(loaded[1][0][1], ['int', '2']);
    assert.deepEqual(loaded[1][1][1], expectedTag(CONFIG));
    const [wrapperType, wrapperItems] = loaded[1][2][1] as [string, [string, [string, [string, unknown[]][]]][]];
    assert.equal(wrapperType, 'dict');
    assert.deepEqual(wrapperItems.map(([k]) => k), ['model']);
    const [sdType, sdItems] = wrapperItems[0][1];
    assert.equal(sdType, 'OrderedDict');
    assert.deepEqual(sdItems.map(([k, t]) => [k, t.slice(0, 3)]), [['emb.weight', ['tensor', 'torch.float32', [3, 2]]], ['idx', ['tensor', 'torch.int64', [2]]], ['head.weight', ['tensor', 'torch.float32', [3, 2]]]]);
    assert.equal(sdItems[0][1][3], sdItems[2][1][3], 'the tied tensors share one storage');
  });
});

// ---------------------------------------------------------------------------------------------
// Sweeps on the implementations' fixtures
// ---------------------------------------------------------------------------------------------

interface Impl {
  /** The helper's implementation name and Grassmann Lens's description id. */
  id: 'grasslm' | 'lmconfig';
  folder: string;
  checkpoint: string;
  /** Where the source saved its state dict. */
  stateKeys: string[];
}

const FIXTURES: Impl[] = [
  { id: 'grasslm', folder: join(IMPLS, 'grasslm-tiny'), checkpoint: join(IMPLS, 'grasslm-tiny/checkpoints/best_model.pt'), stateKeys: ['model_state_dict'] },
  { id: 'lmconfig', folder: join(IMPLS, 'lifting-postnorm'), checkpoint: join(IMPLS, 'lifting-postnorm/checkpoints/model.pt'), stateKeys: [] },
];

const UNITS: PruneUnitKind[] = ['ffn', 'reduced'];
const CRITERIA = ['magnitude' as const, 'lrp' as const];

/** The held-out text (the first 3000 characters of the fixture's eval.txt) and its ids. */
async function heldOut(impl: Impl): Promise<{ data: string; ids: string; specOf: GrassmannSpec }> {
  const data = join(tmp, `${impl.id}-heldout.txt`);
  writeFileSync(data, readFileSync(join(impl.folder, 'eval.txt'), 'utf8').slice(0, 3000));
  const ids = join(tmp, `${impl.id}-ids.json`);
  const specOf = await ModelSession.with(impl.checkpoint, {}, async (session) => {
    writeFileSync(ids, JSON.stringify(session.encode(readFileSync(data, 'utf8')).map((t) => t.id)));
    return session.spec;
  });
  return { data, ids, specOf };
}

/**
 * Inspects mask .pt files against their source in one interpreter: the top-level layout, the
 * state dict's keys in order, dtypes and shapes, which tensors differ from the source, the
 * all-zero rows of each 2-D tensor, whether the head shares the embedding's storage, and the
 * saved config dict. Names are compared without `prefix` (both files carry it).
 */
const PY_INSPECT = `
import json, sys, torch
job = json.loads(sys.argv[1])
def unwrap(obj, keys):
    for k in keys:
        obj = obj[k]
    return obj
source = torch.load(job['source'], map_location='cpu')
orig_named = unwrap(source, job['source_keys'])
orig = {k[len(job['prefix']):]: v for k, v in orig_named.items()}
out = []
for f in job['files']:
    saved = torch.load(f, map_location='cpu')
    sd = unwrap(saved, job['keys'])
    plain = {k[len(job['prefix']):]: v for k, v in sd.items()}
    r = {
        'top_type': type(saved).__name__,
        'top_keys': list(saved.keys()) if isinstance(saved, dict) and job['keys'] else None,
        'sd_type': type(sd).__name__,
        'keys': list(sd.keys()),
        'source_keys': list(orig_named.keys()),
        'dtypes_equal': all(str(plain[k].dtype) == str(v.dtype) for k, v in orig.items() if k in plain),
        'shapes_equal': all(list(plain[k].shape) == list(v.shape) for k, v in orig.items() if k in plain),
        'changed': [k for k, v in orig.items() if k in plain and not torch.equal(plain[k], v)],
        'zero_rows': {k: [int(i) for i in (v.abs().sum(1) == 0).nonzero().flatten()] for k, v in plain.items() if v.dim() == 2},
        'head_tied': plain[job['head']].storage().data_ptr() == plain[job['embedding']].storage().data_ptr(),
        'config': saved.get('config') if isinstance(saved, dict) and job['keys'] else None,
        'metadata_equal': all(saved[k] == source[k] for k in job['metadata']) if job['metadata'] else None,
    }
    out.append(r)
print(json.dumps(out))
`;

interface Inspected {
  top_type: string;
  top_keys: string[] | null;
  sd_type: string;
  keys: string[];
  source_keys: string[];
  dtypes_equal: boolean;
  shapes_equal: boolean;
  changed: string[];
  zero_rows: Record<string, number[]>;
  head_tied: boolean;
  config: Record<string, unknown> | null;
  metadata_equal: boolean | null;
}

interface HelperEval { mean_nll: number; perplexity: number; chunks: number; tokens: number; kwargs: Record<string, unknown>; config_source: string; layer_sizes: { reduce: number[]; ff: number[]; data_parallel: boolean } }

/** `grassmann_impls.py eval`: loads strictly into the implementation's module and evaluates. */
function helperEval(impl: Impl['id'], checkpoint: string, ids: string): HelperEval {
  return python([HELPER, 'eval', impl, checkpoint, ids, String(SEQ_LEN)]) as HelperEval;
}

/** The tensors a step changes: each pruned layer's rows (and their bias) and the weights that read them. */
function changedTensors(spec: GrassmannSpec, kind: PruneUnitKind, step: PruneStep): string[] {
  const layers = [...new Set(step.removed.map((u) => u.layer))];
  return layers.flatMap((l) => {
    const r = spec.roles.layers[l];
    const names = kind === 'ffn' ? [r.ffnInWeight, r.ffnInBias, r.ffnOutWeight] : [r.reduceWeight, r.reduceBias, r.pluckerWeight];
    return names.filter((n): n is string => n !== null);
  });
}

for (const impl of FIXTURES) {
  describe(`pruning ${impl.id} (${impl.checkpoint.slice(IMPLS.length + 1)})`, () => {
    let data = '';
    let ids = '';
    let spec: GrassmannSpec;
    const sweeps = new Map<string, PruneReport>();
    const sweep = (mode: 'mask' | 'structural', units: PruneUnitKind): PruneReport => sweeps.get(`${mode}-${units}`)!;
    const fixtureConfig = (): Record<string, unknown> => readJson(join(impl.folder, 'config.json'));

    before(async () => {
      ({ data, ids, specOf: spec } = await heldOut(impl));
      for (const units of UNITS) {
        for (const mode of ['mask', 'structural'] as const) {
          sweeps.set(`${mode}-${units}`, await pruneSweep({
            checkpoint: impl.checkpoint, data, criteria: CRITERIA, rates: [0.3], units, mode, referenceSamples: 1, seqLen: SEQ_LEN,
            out: join(tmp, `${impl.id}-${mode}-${units}`),
          }));
        }
      }
    });

    test('the source is recognised as this implementation, its config read', () => {
      assert.equal(spec.implementation.id, impl.id);
      assert.equal(spec.windowSource, 'config');
    });

    test('mask .pt: the module\'s state dict in the source\'s names, saved under the source\'s wrapper', { skip: NO_TORCH }, () => {
      for (const units of UNITS) {
        const report = sweep('mask', units);
        assert.deepEqual(readdirSync(report.steps[0].output).sort(), ['config.json', 'model.pt', 'model.safetensors', 'pruning.json', 'tokenizer.json', 'vocab.txt']);
        const inspected = python(['-c', PY_INSPECT, JSON.stringify({
          source: impl.checkpoint, source_keys: impl.stateKeys, keys: impl.stateKeys, prefix: '',
          files: report.steps.map((s) => join(s.output, 'model.pt')),
          head: spec.description.tensors.lmHead, embedding: spec.roles.global.tokenEmbedding,
          metadata: impl.stateKeys.length ? ['epoch', 'val_loss', 'val_ppl'] : [],
        })]) as Inspected[];
        report.steps.forEach((step, k) => {
          const r = inspected[k];
          const where = `${units} ${step.criterion}`;
          assert.deepEqual(r.keys, r.source_keys, `${where}: the same keys in the same order`);
          assert.equal(r.sd_type, 'OrderedDict');
          assert.equal(r.dtypes_equal && r.shapes_equal, true, where);
          assert.deepEqual(r.changed.sort(), changedTensors(spec, units, step).sort(), `${where}: only the pruned units' tensors change`);
          for (let l = 0; l < spec.dims.layers; l++) {
            const key = units === 'ffn' ? spec.roles.layers[l].ffnInWeight : spec.roles.layers[l].reduceWeight;
            assert.deepEqual(r.zero_rows[key], step.removed.filter((u) => u.layer === l).map((u) => u.index), `${where}: ${key}`);
          }
          assert.equal(r.head_tied, true, `${where}: the tied head shares the embedding's storage, as in the source`);
          if (impl.stateKeys.length) {
            // GrassLM: {epoch, val_loss, val_ppl, config, model_state_dict}; the optimizer state is dropped.
            assert.deepEqual(r.top_keys, ['epoch', 'val_loss', 'val_ppl', 'config', ...impl.stateKeys]);
            assert.equal(r.top_type, 'dict');
            assert.deepEqual(r.config, fixtureConfig(), `${where}: the saved config dict is the source's`);
            assert.equal(r.metadata_equal, true);
          } else {
            assert.equal(r.top_type, 'OrderedDict', `${where}: a plain state dict stays plain`);
          }
        });
      }
    });

    test('(a) PyTorch loads each mask .pt strictly into the implementation\'s module and gives the step\'s perplexity', { skip: NO_TORCH }, () => {
      const baseline = helperEval(impl.id, impl.checkpoint, ids);
      const report = sweep('mask', 'ffn');
      assert.ok(relClose(baseline.perplexity, report.baseline.perplexity), `baseline: PyTorch ${baseline.perplexity} vs ${report.baseline.perplexity}`);
      for (const units of UNITS) {
        for (const step of sweep('mask', units).steps) {
          const e = helperEval(impl.id, join(step.output, 'model.pt'), ids);
          assert.ok(relClose(e.perplexity, step.perplexity), `${units} ${step.criterion}: PyTorch ${e.perplexity} vs ${step.perplexity}`);
          assert.equal(e.chunks, Math.floor(JSON.parse(readFileSync(ids, 'utf8')).length / SEQ_LEN));
          // The constructor's arguments: GrassLM's from the config saved in the .pt, LMConfig's from the step's config.json.
          assert.equal(e.config_source, impl.stateKeys.length ? 'checkpoint' : join(step.output, 'config.json'));
          assert.deepEqual(e.kwargs, fixtureConfig());
          assert.deepEqual(e.layer_sizes.reduce, spec.layerShapes.map((s) => s.reducedDim));
          assert.deepEqual(e.layer_sizes.ff, spec.layerShapes.map((s) => s.ffDim));
        }
      }
    });

    test('(b) the structural output reopens as the same implementation and computes the masked model', async () => {
      for (const units of UNITS) {
        const structural = sweep('structural', units);
        const mask = sweep('mask', units);
        for (const [k, step] of structural.steps.entries()) {
          const where = `${units} ${step.criterion}`;
          assert.deepEqual(step.removed, mask.steps[k].removed, where);
          const file = join(step.output, 'model.safetensors');
          const reopened = await ModelSession.with(file, {}, async (s) => s.spec);
          assert.equal(reopened.implementation.id, impl.id, where);
          assert.equal(reopened.configPath, join(step.output, 'config.json'));
          assert.deepEqual(reopened.warnings.filter((w) => /ignored/.test(w)), [], where);
          assert.deepEqual(reopened.layerShapes.map((s) => (units === 'ffn' ? s.ffDim : s.reducedDim)), step.remaining, where);
          assert.deepEqual(reopened.layerShapes.map((s) => s.windowSizes), spec.layerShapes.map((s) => s.windowSizes), where);
          assert.deepEqual(reopened.variant, spec.variant, where);
          const e = await evaluateFile(file, { data, seqLen: SEQ_LEN });
          assert.equal(e.perplexity, step.perplexity, `${where}: the step is eval on its file`);
          assert.ok(relClose(step.perplexity, mask.steps[k].perplexity), `${where}: structural ${step.perplexity} vs mask ${mask.steps[k].perplexity}`);
        }
      }
    });

    test('(c) config.json: the implementation\'s own keys with the pruned sizes', () => {
      const original = fixtureConfig();
      const windows = spec.layerShapes.map((s) => s.windowSizes);
      for (const units of UNITS) {
        for (const step of sweep('mask', units).steps) {
          const text = readFileSync(join(step.output, 'config.json'), 'utf8');
          assert.equal(text, JSON.stringify(JSON.parse(text), null, 1) + '\n');
          assert.deepEqual(JSON.parse(text), original, `mask ${units} ${step.criterion}: the source's config`);
        }
        for (const step of sweep('structural', units).steps) {
          const text = readFileSync(join(step.output, 'config.json'), 'utf8');
          assert.equal(text, JSON.stringify(JSON.parse(text), null, 1) + '\n');
          const shapes = spec.layerShapes.map((s, l) => ({
            reduced_dim: units === 'reduced' ? step.remaining[l] : s.reducedDim,
            ff_dim: units === 'ffn' ? step.remaining[l] : s.ffDim,
            window_sizes: windows[l],
          }));
          const widestR = Math.max(...shapes.map((s) => s.reduced_dim));
          const widestF = Math.max(...shapes.map((s) => s.ff_dim));
          const expected: Record<string, unknown> = impl.id === 'grasslm'
            ? { ...original, d_reduce: widestR, d_ff: widestF, layers: shapes }
            : { ...original, d_low: widestR, expansion_ratio: widestF / (original.d_model as number), layers: shapes };
          if (impl.id === 'lmconfig') assert.equal((expected.expansion_ratio as number) * (original.d_model as number), widestF);
          assert.deepEqual(JSON.parse(text), expected, `structural ${units} ${step.criterion}`);
          // 30% of all units, globally (a block may keep all of its own).
          const before = spec.layerShapes.map((s) => (units === 'ffn' ? s.ffDim : s.reducedDim));
          const total = before.reduce((a, b) => a + b, 0);
          assert.equal(step.removed.length, Math.round(0.3 * total));
          assert.equal(step.remaining.reduce((a, b) => a + b, 0), total - step.removed.length);
        }
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Sources saved otherwise
// ---------------------------------------------------------------------------------------------

/** Every tensor of a checkpoint, floating point as float32, integers as stored. */
async function tensorsOf(path: string): Promise<TensorToWrite[]> {
  const ck = await openCheckpoint(path);
  try {
    const out: TensorToWrite[] = [];
    for (const info of ck.tensors.values()) {
      out.push(info.dtype === 'F32' ? { name: info.name, dtype: 'F32', shape: info.shape, data: await readFloat32(info) } : { name: info.name, dtype: info.dtype, shape: info.shape, data: await readTensorRaw(info) });
    }
    return out;
  } finally {
    await ck.close();
  }
}

function copyTokenizer(from: string, to: string): void {
  for (const name of ['tokenizer.json', 'vocab.txt']) copyFileSync(join(from, name), join(to, name));
}

describe('sources saved otherwise', () => {
  test('a .safetensors source without pair buffers and head: the mask .pt has them where PyTorch puts them', { skip: NO_TORCH }, async () => {
    const impl = FIXTURES[1];
    const { data, ids, specOf: spec } = await heldOut(impl);
    const folder = join(tmp, 'lmconfig-safetensors');
    mkdirSync(folder);
    const dropped = (name: string): boolean => name === spec.description.tensors.lmHead || /\.idx_[ij]$/.test(name);
    const all = await tensorsOf(impl.checkpoint);
    await writeSafetensors(join(folder, 'model.safetensors'), all.filter((t) => !dropped(t.name)));
    copyFileSync(join(impl.folder, 'config.json'), join(folder, 'config.json'));
    copyTokenizer(impl.folder, folder);
    const opened = await ModelSession.with(join(folder, 'model.safetensors'), {}, async (s) => s.spec);
    assert.equal(opened.implementation.id, 'lmconfig');
    assert.equal(opened.variant.tiedLmHead, true);
    assert.deepEqual(opened.roles.layers.map((r) => r.pairFirst), [null, null, null]);

    const report = await pruneSweep({ checkpoint: join(folder, 'model.safetensors'), data, criteria: ['magnitude'], rates: [0.3], units: 'reduced', mode: 'mask', referenceSamples: 1, seqLen: SEQ_LEN, out: join(tmp, 'lmconfig-safetensors-pruned') });
    const step = report.steps[0];
    const [r] = python(['-c', PY_INSPECT, JSON.stringify({
      source: impl.checkpoint, source_keys: [], keys: [], prefix: '', files: [join(step.output, 'model.pt')],
      head: spec.description.tensors.lmHead, embedding: spec.roles.global.tokenEmbedding, metadata: [],
    })]) as Inspected[];
    assert.equal(r.top_type, 'OrderedDict');
    assert.deepEqual(r.keys, r.source_keys, 'the buffers and the head are added, in the order of the module\'s state_dict()');
    assert.equal(r.dtypes_equal && r.shapes_equal, true);
    assert.deepEqual(r.changed.sort(), changedTensors(spec, 'reduced', step).sort(), 'the added buffers hold the source\'s pair order');
    assert.equal(r.head_tied, true);
    for (let l = 0; l < spec.dims.layers; l++) assert.ok(layerKey(spec.description.tensors.pairFirst!, l) in Object.fromEntries(r.keys.map((k) => [k, 1])));
    const e = helperEval('lmconfig', join(step.output, 'model.pt'), ids);
    assert.ok(relClose(e.perplexity, step.perplexity), `PyTorch ${e.perplexity} vs ${step.perplexity}`);
  });

  test('a DataParallel checkpoint (`module.` names) gets its prefix back', { skip: NO_TORCH }, async () => {
    const impl = FIXTURES[0];
    const { data, ids, specOf: spec } = await heldOut(impl);
    const folder = join(tmp, 'grasslm-data-parallel');
    mkdirSync(join(folder, 'checkpoints'), { recursive: true });
    const source = join(folder, 'checkpoints', 'best_model.pt');
    const all = await tensorsOf(impl.checkpoint);
    const embedding = all.find((t) => t.name === spec.roles.global.tokenEmbedding)!;
    const prefixed = all.map((t) => ({ ...(t.name === spec.description.tensors.lmHead ? embedding : t), name: `module.${t.name}` }));
    const config = fixtureConfigOf(impl);
    await writeTorchCheckpoint(source, prefixed, { epoch: 5, config: config as Record<string, PickleData> });
    copyTokenizer(impl.folder, folder);
    const ck = await openCheckpoint(source);
    try {
      assert.deepEqual(ck.stateDictLayout, { stateKeys: ['model_state_dict'], strippedPrefixes: ['module.'] });
    } finally {
      await ck.close();
    }

    const report = await pruneSweep({ checkpoint: source, data, criteria: ['magnitude'], rates: [0.3], units: 'ffn', mode: 'mask', referenceSamples: 1, seqLen: SEQ_LEN, out: join(tmp, 'grasslm-data-parallel-pruned') });
    const step = report.steps[0];
    const [r] = python(['-c', PY_INSPECT, JSON.stringify({
      source, source_keys: ['model_state_dict'], keys: ['model_state_dict'], prefix: 'module.', files: [join(step.output, 'model.pt')],
      head: spec.description.tensors.lmHead, embedding: spec.roles.global.tokenEmbedding, metadata: ['epoch'],
    })]) as Inspected[];
    assert.deepEqual(r.keys, r.source_keys, 'every name carries module. again');
    assert.deepEqual(r.top_keys, ['epoch', 'config', 'model_state_dict']);
    assert.deepEqual(r.config, config);
    assert.deepEqual(r.changed.sort(), changedTensors(spec, 'ffn', step).sort());
    const e = helperEval('grasslm', join(step.output, 'model.pt'), ids);
    assert.equal(e.layer_sizes.data_parallel, true, 'loaded strictly into nn.DataParallel(model)');
    assert.ok(relClose(e.perplexity, step.perplexity), `PyTorch ${e.perplexity} vs ${step.perplexity}`);
  });
});

function fixtureConfigOf(impl: Impl): Record<string, unknown> {
  return readJson(join(impl.folder, 'config.json'));
}
