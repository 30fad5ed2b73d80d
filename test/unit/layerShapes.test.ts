/**
 * Per-block sizes (GrassmannSpec.layerShapes): a structurally pruned GrassmannGPT has its own
 * reduced dimension r_l, FFN width f_l and window list per block. A pruned copy must compute what
 * the full model computes with the same units masked:
 *  - FFN neurons: ffn.0 rows and bias entries and ffn.3 columns removed  <=>  zeroed;
 *  - reduced dimension i: W_red row i and bias i removed, and the W_plu columns of the pairs that
 *    contain i  <=>  W_red row i and bias i zeroed (z_i = 0 zeroes every pair with i, so ||p|| and
 *    hence the Plücker normalisation do not change);
 *  - a window offset: no mask equivalent, so against the full weights with that block's shorter
 *    list in config.json (`layers[l].window_sizes`).
 * Also: recognition binds r and f per block and names the tensor of a mismatch inside one block;
 * config.json's `layers` is validated against the weights; prunedConfigJson round-trips; the
 * inspect report, features, distances and the editor's analyses use each block's own sizes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { memorySource } from '../../src/checkpoint/fileSource';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { writeSafetensors, type TensorToWrite } from '../../src/checkpoint/safetensorsWriter';
import { readFloat32 } from '../../src/checkpoint/tensorData';
import { contiguousStrides, type TensorInfo } from '../../src/checkpoint/types';
import { AnalysisCache } from '../../src/core/analysis';
import { distancesOfText, featuresOfText, formatFeaturesReport } from '../../src/core/features';
import { inspectCheckpoint } from '../../src/core/inspect';
import { inspectReportText, summaryRows } from '../../src/core/reportText';
import { configJsonForSpec, prunedConfigFor, prunedConfigJson } from '../../src/model/config';
import { forwardFlops } from '../../src/model/flops';
import { GrassmannModel } from '../../src/model/grassmann';
import { layerOffsetPlans } from '../../src/model/offsets';
import { describeModel, recognizeShapes, uniformLayerShapes, type GrassmannSpec } from '../../src/model/spec';
import { randomGrassmannWeights } from '../../src/model/synthetic';
import { isInputError } from '../../src/util/errors';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const REL_TOL = 1e-5;

const dims = { vocabSize: 41, modelDim: 12, layers: 3, reducedDim: 6, ffDim: 24, maxPositions: 16 };
const WINDOWS = [1, 2, 4];
/** The units removed: FFN neurons of block 0, reduced dimension 2 of block 1, offset 2 of block 2. */
const FFN_LAYER = 0;
const FFN_NEURONS = [3, 7, 20];
const REDUCED_LAYER = 1;
const REDUCED_INDEX = 2;
const WINDOW_LAYER = 2;
const SHORTER_WINDOWS = [1, 4];

type Tensors = Map<string, TensorToWrite>;

const f32 = (t: TensorToWrite): Float32Array => t.data as Float32Array;
const cloneAll = (tensors: Tensors): Tensors => new Map([...tensors].map(([k, t]) => [k, { ...t, data: f32(t).slice() }]));

/** Row-major pairs (i, j), i < j, of r. */
function pairsOf(r: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < r; i++) for (let j = i + 1; j < r; j++) pairs.push([i, j]);
  return pairs;
}

/** Keeps the given rows of a [rows, cols] (or [rows]) tensor. */
function keepRows(t: TensorToWrite, keep: number[]): TensorToWrite {
  const cols = t.shape.length === 2 ? t.shape[1] : 1;
  const data = new Float32Array(keep.length * cols);
  keep.forEach((row, k) => data.set(f32(t).subarray(row * cols, (row + 1) * cols), k * cols));
  return { ...t, shape: t.shape.length === 2 ? [keep.length, cols] : [keep.length], data };
}

/** Keeps the given columns of a [rows, cols] tensor, in the given order. */
function keepColumns(t: TensorToWrite, keep: number[]): TensorToWrite {
  const [rows, cols] = t.shape;
  const data = new Float32Array(rows * keep.length);
  for (let o = 0; o < rows; o++) keep.forEach((c, k) => (data[o * keep.length + k] = f32(t)[o * cols + c]));
  return { ...t, shape: [rows, keep.length], data };
}

const without = (n: number, drop: readonly number[]): number[] => Array.from({ length: n }, (_, i) => i).filter((i) => !drop.includes(i));

/** Removes FFN neurons of block l: ffn.0 rows and bias entries, ffn.3 columns. */
function dropFfnNeurons(tensors: Tensors, l: number, neurons: number[]): void {
  const f = tensors.get(`blocks.${l}.ffn.0.weight`)!.shape[0];
  const keep = without(f, neurons);
  for (const name of ['ffn.0.weight', 'ffn.0.bias']) tensors.set(`blocks.${l}.${name}`, keepRows(tensors.get(`blocks.${l}.${name}`)!, keep));
  tensors.set(`blocks.${l}.ffn.3.weight`, keepColumns(tensors.get(`blocks.${l}.ffn.3.weight`)!, keep));
}

/** Zeroes FFN neurons of block l (GELU(0) = 0: they contribute nothing). */
function maskFfnNeurons(tensors: Tensors, l: number, neurons: number[]): void {
  const w0 = tensors.get(`blocks.${l}.ffn.0.weight`)!;
  const d = w0.shape[1];
  for (const n of neurons) {
    f32(w0).fill(0, n * d, (n + 1) * d);
    f32(tensors.get(`blocks.${l}.ffn.0.bias`)!)[n] = 0;
    const w3 = tensors.get(`blocks.${l}.ffn.3.weight`)!;
    for (let o = 0; o < w3.shape[0]; o++) f32(w3)[o * w3.shape[1] + n] = 0;
  }
}

/** Removes reduced dimension i of block l: W_red row i, bias i, the W_plu columns of pairs with i. */
function dropReducedDim(tensors: Tensors, l: number, i: number): void {
  const r = tensors.get(`blocks.${l}.grassmann.W_red.weight`)!.shape[0];
  const keep = without(r, [i]);
  for (const name of ['grassmann.W_red.weight', 'grassmann.W_red.bias']) tensors.set(`blocks.${l}.${name}`, keepRows(tensors.get(`blocks.${l}.${name}`)!, keep));
  const pairColumns = pairsOf(r).flatMap(([a, b], k) => (a === i || b === i ? [] : [k]));
  tensors.set(`blocks.${l}.grassmann.W_plu.weight`, keepColumns(tensors.get(`blocks.${l}.grassmann.W_plu.weight`)!, pairColumns));
}

/** Zeroes reduced dimension i of block l: z_i = 0, so every pair containing i is 0. */
function maskReducedDim(tensors: Tensors, l: number, i: number): void {
  const w = tensors.get(`blocks.${l}.grassmann.W_red.weight`)!;
  const d = w.shape[1];
  f32(w).fill(0, i * d, (i + 1) * d);
  f32(tensors.get(`blocks.${l}.grassmann.W_red.bias`)!)[i] = 0;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / Math.max(maxAbs(b), 1e-30);
}

/** Shapes only (no data): what recognizeShapes reads. */
function shapeMap(shapes: Record<string, number[]>): Map<string, TensorInfo> {
  const source = memorySource('synthetic', new Uint8Array(0));
  return new Map(
    Object.entries(shapes).map(([name, shape], i) => [
      name,
      { name, dtype: 'F32', shape, strides: contiguousStrides(shape), elementOffset: 0, storage: { source, byteOffset: 0, byteLength: 0, key: String(i) } },
    ]),
  );
}

/** The reference layout's names and shapes with r and f per block. */
function blockShapes(sizes: { r: number; f: number }[], d = 8, V = 50, Tmax = 32): Record<string, number[]> {
  const shapes: Record<string, number[]> = {
    'token_embedding.weight': [V, d], 'position_embedding.weight': [Tmax, d], 'ln_f.weight': [d], 'ln_f.bias': [d],
  };
  sizes.forEach(({ r, f }, l) => {
    const p = `blocks.${l}`;
    Object.assign(shapes, {
      [`${p}.ln1.weight`]: [d], [`${p}.ln1.bias`]: [d],
      [`${p}.grassmann.W_red.weight`]: [r, d], [`${p}.grassmann.W_red.bias`]: [r],
      [`${p}.grassmann.W_plu.weight`]: [d, (r * (r - 1)) / 2], [`${p}.grassmann.W_plu.bias`]: [d],
      [`${p}.grassmann.W_gate.weight`]: [d, 2 * d], [`${p}.grassmann.W_gate.bias`]: [d],
      [`${p}.grassmann.layer_norm.weight`]: [d], [`${p}.grassmann.layer_norm.bias`]: [d],
      [`${p}.ln2.weight`]: [d], [`${p}.ln2.bias`]: [d],
      [`${p}.ffn.0.weight`]: [f, d], [`${p}.ffn.0.bias`]: [f],
      [`${p}.ffn.3.weight`]: [d, f], [`${p}.ffn.3.bias`]: [d],
    });
  });
  return shapes;
}

describe('recognition binds r and f per block', () => {
  const sizes = [{ r: 4, f: 16 }, { r: 3, f: 16 }, { r: 4, f: 11 }];

  test('blocks of different sizes are recognised, with each block\'s sizes', () => {
    const result = recognizeShapes(shapeMap(blockShapes(sizes)));
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.layerDims, [{ reducedDim: 4, pairCount: 6, ffDim: 16 }, { reducedDim: 3, pairCount: 3, ffDim: 16 }, { reducedDim: 4, pairCount: 6, ffDim: 11 }]);
    // dims keep block 0's sizes for callers that read one value
    assert.deepEqual([result.dims?.reducedDim, result.dims?.pairCount, result.dims?.ffDim], [4, 6, 16]);
  });

  test('a mismatch inside one block names the tensor and that block\'s own value', () => {
    const shapes = blockShapes(sizes);
    shapes['blocks.1.grassmann.W_plu.weight'] = [8, 6]; // block 1 has r = 3: P = 3
    shapes['blocks.2.ffn.3.weight'] = [8, 16]; // block 2 has f = 11
    shapes['blocks.0.grassmann.W_red.bias'] = [3]; // block 0 has r = 4
    shapes['blocks.1.grassmann.plucker.idx_i'] = [6];
    const result = recognizeShapes(shapeMap(shapes));
    assert.equal(result.ok, false);
    assert.deepEqual(result.problems, [
      'blocks.0.grassmann.W_red.bias length 3 != r = 4 (from blocks.0.grassmann.W_red.weight output)',
      'blocks.1.grassmann.W_plu.weight input 6 != r(r-1)/2 = 3',
      'blocks.1.grassmann.plucker.idx_i has shape [6], expected [r(r-1)/2 = 3]',
      'blocks.2.ffn.3.weight input 16 != f = 11 (from blocks.2.ffn.0.weight output)',
    ]);
  });

  test('a block with r < 2 is named', () => {
    const result = recognizeShapes(shapeMap(blockShapes([{ r: 4, f: 16 }, { r: 1, f: 16 }])));
    assert.deepEqual(result.problems, ['reduced dimension r = 1 (from blocks.1.grassmann.W_red.weight output) must be at least 2 to span a 2-plane']);
  });

  test('d stays global: a block of another width is a mismatch', () => {
    const shapes = blockShapes(sizes);
    shapes['blocks.2.ln2.weight'] = [9];
    assert.deepEqual(recognizeShapes(shapeMap(shapes)).problems, ['blocks.2.ln2.weight length 9 != d = 8 (from token_embedding.weight columns)']);
  });
});

describe('a structurally pruned model computes what the masked full model computes', () => {
  let folder: string;
  let full: Tensors;
  const opened: { close(): Promise<void> }[] = [];
  const models: GrassmannModel[] = [];

  const save = async (name: string, tensors: Tensors, config: Record<string, unknown>): Promise<string> => {
    const dir = join(folder, name);
    mkdirSync(dir);
    await writeSafetensors(join(dir, 'model.safetensors'), [...tensors.values()]);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 1));
    return dir;
  };
  const load = async (dir: string): Promise<{ spec: GrassmannSpec; model: GrassmannModel }> => {
    const checkpoint = await openSafetensors(join(dir, 'model.safetensors'));
    opened.push(checkpoint);
    const described = await describeModel(checkpoint);
    assert.ok(described.recognized, described.recognized ? '' : described.problems.join('; '));
    const model = await GrassmannModel.load(checkpoint, described.spec);
    models.push(model);
    return { spec: described.spec, model };
  };
  const baseConfig = {
    architecture: 'GrassmannGPT', vocab_size: dims.vocabSize, max_seq_len: dims.maxPositions, model_dim: dims.modelDim,
    num_layers: dims.layers, reduced_dim: dims.reducedDim, ff_dim: dims.ffDim, window_sizes: WINDOWS,
    tie_weights: true, layer_norm_eps: 1e-5, activation: 'gelu',
  };
  const idsOf = (T: number): number[] => Array.from({ length: T }, (_, t) => (t * 13 + 5) % dims.vocabSize);

  before(async () => {
    await tf.setBackend('cpu');
    folder = mkdtempSync(join(tmpdir(), 'grassmann-layer-shapes-'));
    // Larger weights than the generator's defaults, so that z and the planes are far from 0.
    full = new Map(randomGrassmannWeights(dims, 11).map((t) => [t.name, { ...t, data: f32(t).map((v) => (/embedding|W_red|ffn/.test(t.name) ? v * 20 : v)) }]));
  });
  after(async () => {
    for (const m of models) m.dispose();
    for (const c of opened) await c.close();
    rmSync(folder, { recursive: true, force: true });
  });

  test('FFN neurons, a reduced dimension and a window offset removed in three blocks', async () => {
    const shorter = { ...baseConfig, layers: [{}, {}, { window_sizes: SHORTER_WINDOWS }] };
    const masked = cloneAll(full);
    maskFfnNeurons(masked, FFN_LAYER, FFN_NEURONS);
    maskReducedDim(masked, REDUCED_LAYER, REDUCED_INDEX);
    const pruned = cloneAll(full);
    dropFfnNeurons(pruned, FFN_LAYER, FFN_NEURONS);
    dropReducedDim(pruned, REDUCED_LAYER, REDUCED_INDEX);
    const prunedShapes = Array.from({ length: dims.layers }, (_, l) => ({
      reducedDim: l === REDUCED_LAYER ? dims.reducedDim - 1 : dims.reducedDim,
      ffDim: l === FFN_LAYER ? dims.ffDim - FFN_NEURONS.length : dims.ffDim,
      windowSizes: l === WINDOW_LAYER ? SHORTER_WINDOWS : WINDOWS,
    }));

    const a = await load(await save('full', full, baseConfig));
    const m = await load(await save('masked', masked, shorter));
    const p = await load(await save('pruned', pruned, prunedConfigJson(baseConfig, prunedShapes)));

    assert.equal(uniformLayerShapes(a.spec.layerShapes), true);
    assert.equal(uniformLayerShapes(p.spec.layerShapes), false);
    assert.deepEqual(m.spec.layerShapes.map((s) => s.windowSizes), [WINDOWS, WINDOWS, SHORTER_WINDOWS]);
    assert.deepEqual(p.spec.layerShapes.map((s) => [s.reducedDim, s.pairCount, s.ffDim, s.windowSizes]), [
      [6, 15, 21, WINDOWS], [5, 10, 24, WINDOWS], [6, 15, 24, SHORTER_WINDOWS],
    ]);
    assert.deepEqual([p.spec.layerShapes[1].pairFirst.length, p.spec.layerShapes[1].pairSecond[9]], [10, 4]);
    assert.equal(p.spec.windowSource, 'config');

    for (const T of [1, 3, 5, dims.maxPositions]) {
      const ids = idsOf(T);
      for (const ops of ['host', 'composite'] as const) {
        const [fullRun, maskedRun, prunedRun] = await Promise.all([a, m, p].map(({ model }) => model.forward(ids, { ops, taps: ['layers.*'] })));
        const err = relativeDiff(prunedRun.logits, maskedRun.logits);
        assert.ok(err <= REL_TOL, `pruned vs masked logits, T=${T} ${ops}: ${err}`);
        for (const l of [0, 1, 2]) {
          for (const tap of ['g', 'block_out']) {
            const e = relativeDiff(prunedRun.taps.get(`layers.${l}.${tap}`)!.data, maskedRun.taps.get(`layers.${l}.${tap}`)!.data);
            assert.ok(e <= REL_TOL, `layers.${l}.${tap} T=${T} ${ops}: ${e}`);
          }
        }
        // The pruned model's taps have its own sizes.
        assert.deepEqual(prunedRun.taps.get('layers.1.z')!.shape, [T, 5]);
        if (T > 1) {
          assert.deepEqual(prunedRun.taps.get('layers.1.plucker.1')!.shape, [T - 1, 10]);
          assert.deepEqual(prunedRun.taps.get('layers.0.plucker.1')!.shape, [T - 1, 15]);
        }
        if (T > 2) assert.ok(prunedRun.taps.has('layers.1.plucker.2') && !prunedRun.taps.has('layers.2.plucker.2'), 'offset 2 is gone from block 2 only');
        // Not vacuous: the removed units mattered.
        if (T > 2) assert.ok(relativeDiff(maskedRun.logits, fullRun.logits) > 1e-3, `masking changes the logits (T=${T})`);
      }
    }
  });

  test('each removal alone matters (the comparison above is not vacuous)', async () => {
    const ids = idsOf(dims.maxPositions);
    const reference = (await (await load(join(folder, 'full'))).model.forward(ids)).logits;
    const cases: [string, Tensors, Record<string, unknown>][] = [];
    const ffn = cloneAll(full);
    maskFfnNeurons(ffn, FFN_LAYER, FFN_NEURONS);
    cases.push(['ffn', ffn, baseConfig]);
    const reduced = cloneAll(full);
    maskReducedDim(reduced, REDUCED_LAYER, REDUCED_INDEX);
    cases.push(['reduced', reduced, baseConfig]);
    cases.push(['window', full, { ...baseConfig, layers: [{}, {}, { window_sizes: SHORTER_WINDOWS }] }]);
    for (const [name, tensors, config] of cases) {
      const { model } = await load(await save(`only-${name}`, tensors, config));
      const diff = relativeDiff((await model.forward(ids)).logits, reference);
      assert.ok(diff > 1e-4, `${name}: ${diff}`);
    }
  });

  test('a block with an empty window list has g = 0, as a block whose W_plu and b_plu are 0', async () => {
    const zeroed = cloneAll(full);
    for (const name of ['grassmann.W_plu.weight', 'grassmann.W_plu.bias']) f32(zeroed.get(`blocks.1.${name}`)!).fill(0);
    const none = await load(await save('no-windows', full, { ...baseConfig, layers: [{}, { window_sizes: [] }, {}] }));
    const zero = await load(await save('zero-plucker', zeroed, baseConfig));
    assert.deepEqual(none.spec.layerShapes[1].windowSizes, []);
    assert.deepEqual(layerOffsetPlans(none.spec, 8).map((plan) => plan.offsets), [WINDOWS, [], WINDOWS]);
    for (const ops of ['host', 'composite'] as const) {
      const ids = idsOf(9);
      const [a, b] = await Promise.all([none, zero].map(({ model }) => model.forward(ids, { ops, taps: ['layers.1.g', 'layers.1.plucker.1'] })));
      assert.equal(maxAbs(a.taps.get('layers.1.g')!.data), 0);
      assert.equal(a.taps.has('layers.1.plucker.1'), false, 'no planes in a block without offsets');
      assert.ok(relativeDiff(a.logits, b.logits) <= REL_TOL, ops);
    }
    // FLOPs: the block without offsets has no Plücker product.
    const flops = forwardFlops(none.spec.dims, 9, none.spec.layerShapes);
    assert.deepEqual(flops.layers.map((l) => l.distinctOffsets), [3, 0, 3]);
    assert.equal(flops.executed.parts.plucker, 2 * 2 * 9 * (15 + 1) * dims.modelDim);
  });

  test('gradients flow through a pruned model', async () => {
    const { model } = await load(join(folder, 'pruned'));
    const grad = await model.gradient(idsOf(6), 4, 3);
    assert.deepEqual(grad.shape, [6, dims.modelDim]);
    assert.ok(maxAbs(grad.data) > 0 && grad.data.every(Number.isFinite));
  });
});

describe('config.json per block', () => {
  let folder: string;
  let checkpointPath: string;
  const sizes = [{ r: 4, f: 16 }, { r: 3, f: 16 }, { r: 4, f: 11 }];
  before(async () => {
    folder = mkdtempSync(join(tmpdir(), 'grassmann-layer-config-'));
    // Random weights truncated to the block sizes above.
    const base = randomGrassmannWeights({ vocabSize: 30, modelDim: 8, layers: 3, reducedDim: 4, ffDim: 16, maxPositions: 12 }, 3);
    const tensors: Tensors = new Map(base.map((t) => [t.name, t]));
    dropReducedDim(tensors, 1, 3);
    dropFfnNeurons(tensors, 2, [11, 12, 13, 14, 15]);
    checkpointPath = join(folder, 'model.safetensors');
    await writeSafetensors(checkpointPath, [...tensors.values()]);
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  const describeWith = async (config: unknown) => {
    const configPath = join(folder, 'explicit.json');
    writeFileSync(configPath, JSON.stringify(config));
    const checkpoint = await openSafetensors(checkpointPath);
    try {
      return await describeModel(checkpoint, { configPath });
    } finally {
      await checkpoint.close();
    }
  };
  const rejects = async (config: unknown, message: RegExp) => {
    await assert.rejects(describeWith(config), (e: unknown) => {
      assert.ok(isInputError(e));
      assert.equal(e.file, join(folder, 'explicit.json'));
      assert.match(e.problem, message);
      return true;
    });
  };

  test('per-block windows override the global list; sizes that agree are accepted', async () => {
    const result = await describeWith({ window_sizes: [1, 2], reduced_dim: 4, ff_dim: 16, layers: [{ reduced_dim: 4, ff_dim: 16 }, { window_sizes: [3] }, { ff_dim: 11, window_sizes: [] }] });
    assert.ok(result.recognized);
    const { spec } = result;
    assert.deepEqual(spec.layerShapes.map((s) => [s.reducedDim, s.ffDim, s.windowSizes]), [[4, 16, [1, 2]], [3, 16, [3]], [4, 11, []]]);
    assert.deepEqual(spec.windowSizes, [1, 2]);
    assert.equal(spec.windowSource, 'config');
    assert.match(spec.windowNote, /blocks 1, 2 have their own window_sizes/);
    assert.equal(sizes.length, spec.dims.layers);
  });

  test('every block with its own list and no global list: windows from config, block 0\'s as the global list', async () => {
    const result = await describeWith({ layers: [{ window_sizes: [2] }, { window_sizes: [1, 2] }, { window_sizes: [] }] });
    assert.ok(result.recognized);
    assert.deepEqual([result.spec.windowSizes, result.spec.windowSource, result.spec.warnings], [[2], 'config', []]);
    assert.deepEqual(result.spec.layerShapes.map((s) => s.windowSizes), [[2], [1, 2], []]);
  });

  test('without per-block windows every block gets the global list (or the default)', async () => {
    const result = await describeWith({ window_sizes: [1, 5] });
    assert.ok(result.recognized);
    assert.deepEqual(result.spec.layerShapes.map((s) => s.windowSizes), [[1, 5], [1, 5], [1, 5]]);
    const assumed = await describeWith({ layers: [{}, { window_sizes: [1] }, {}] });
    assert.ok(assumed.recognized);
    assert.equal(assumed.spec.windowSource, 'assumed');
    assert.deepEqual(assumed.spec.layerShapes.map((s) => s.windowSizes), [[1, 2, 4, 8, 12, 16], [1], [1, 2, 4, 8, 12, 16]]);
  });

  test('contradictions name the config file and the block', async () => {
    await rejects({ layers: [{}, {}] }, /layers has 2 entries but the checkpoint has 3 blocks/);
    await rejects({ layers: [{}, { reduced_dim: 4 }, {}] }, /layers\[1\]\.reduced_dim = 4 does not match the checkpoint's weights \(blocks\.1\.grassmann\.W_red\.weight has 3 rows\)/);
    await rejects({ layers: [{}, {}, { ff_dim: 16 }] }, /layers\[2\]\.ff_dim = 16 does not match the checkpoint's weights \(blocks\.2\.ffn\.0\.weight has 11 rows\)/);
    await rejects({ layers: [{}, { window_sizes: [0] }, {}] }, /layers\[1\]\.window_sizes must be a list of positive integers/);
    await rejects({ layers: [{}, 3, {}] }, /layers\[1\] must be an object/);
    await rejects({ layers: { 0: {} } }, /layers must be a list with one entry per block/);
    // global reduced_dim / ff_dim: the widest block's
    await rejects({ reduced_dim: 3 }, /reduced_dim = 3 does not match the checkpoint's weights \(4, the widest block's\)/);
    await rejects({ ff_dim: 11 }, /ff_dim = 11 does not match the checkpoint's weights \(16, the widest block's\)/);
  });
});

describe('prunedConfigJson', () => {
  const original = JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')) as Record<string, unknown>;
  const shapes = [
    { reducedDim: 16, ffDim: 200, windowSizes: [1, 2, 4, 8, 12, 16] },
    { reducedDim: 14, ffDim: 256, windowSizes: [1, 2, 4] },
    { reducedDim: 16, ffDim: 180, windowSizes: [] },
    { reducedDim: 12, ffDim: 100, windowSizes: [1, 2, 4, 8, 12, 16] },
  ];

  test('keeps the original keys and adds one entry per block', () => {
    const json = prunedConfigJson(original, shapes);
    assert.deepEqual(Object.keys(json), [...Object.keys(original), 'layers']);
    for (const key of ['architecture', 'vocab_size', 'max_seq_len', 'model_dim', 'tie_weights', 'layer_norm_eps', 'activation']) {
      assert.deepEqual(json[key], original[key], key);
    }
    assert.deepEqual([json.num_layers, json.reduced_dim, json.ff_dim, json.window_sizes], [4, 16, 256, [1, 2, 4, 8, 12, 16]]);
    assert.deepEqual(json.layers, [
      { reduced_dim: 16, ff_dim: 200, window_sizes: [1, 2, 4, 8, 12, 16] },
      { reduced_dim: 14, ff_dim: 256, window_sizes: [1, 2, 4] },
      { reduced_dim: 16, ff_dim: 180, window_sizes: [] },
      { reduced_dim: 12, ff_dim: 100, window_sizes: [1, 2, 4, 8, 12, 16] },
    ]);
    assert.deepEqual(original.layers, undefined, 'the original is not modified');
  });

  test('a global window list when the original has none: the first non-empty block list', () => {
    const { window_sizes: _, ...noWindows } = original;
    assert.deepEqual(prunedConfigJson(noWindows, [{ reducedDim: 4, ffDim: 8, windowSizes: [] }, { reducedDim: 4, ffDim: 8, windowSizes: [3] }]).window_sizes, [3]);
    assert.equal('window_sizes' in prunedConfigJson(noWindows, [{ reducedDim: 4, ffDim: 8, windowSizes: [] }]), false);
  });

  test('from a spec, and the written config reads back with the same sizes', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'grassmann-pruned-config-'));
    try {
      const checkpoint = await openSafetensors(join(FIXTURE, 'model.safetensors'));
      const described = await describeModel(checkpoint);
      await checkpoint.close();
      assert.ok(described.recognized);
      const fromSpec = configJsonForSpec(described.spec);
      for (const key of Object.keys(original)) assert.deepEqual(fromSpec[key], original[key], key);
      const json = await prunedConfigFor(described.spec, shapes.map((s) => ({ ...s, reducedDim: 16, ffDim: 256 })));
      assert.deepEqual(Object.keys(json), [...Object.keys(original), 'layers']);
      // A same-size copy of the fixture with this config: every block reads its own windows.
      writeFileSync(join(folder, 'config.json'), JSON.stringify(json));
      const copy = await openSafetensors(join(FIXTURE, 'model.safetensors'));
      try {
        const again = await describeModel(copy, { configPath: join(folder, 'config.json') });
        assert.ok(again.recognized);
        assert.deepEqual(again.spec.layerShapes.map((s) => s.windowSizes), shapes.map((s) => s.windowSizes));
      } finally {
        await copy.close();
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('a pruned copy of the fixture: inspect, features, distances and the editor\'s analyses per block', () => {
  let folder: string;
  let path: string;
  const cache = new AnalysisCache();
  const text = 'the licensor grants you a worldwide, royalty-free license to use the work';
  const options = () => ({ tokenizer: FIXTURE });

  before(async () => {
    await tf.setBackend('cpu');
    folder = mkdtempSync(join(tmpdir(), 'grassmann-pruned-fixture-'));
    const source = await openSafetensors(join(FIXTURE, 'model.safetensors'));
    const tensors: Tensors = new Map();
    for (const [name, info] of source.tensors) tensors.set(name, { name, dtype: 'F32', shape: info.shape, data: await readFloat32(info) });
    await source.close();
    dropFfnNeurons(tensors, 0, Array.from({ length: 56 }, (_, i) => 4 * i)); // f_0 = 200
    dropReducedDim(tensors, 1, 9);
    dropReducedDim(tensors, 1, 3); // r_1 = 14
    path = join(folder, 'model.safetensors');
    await writeSafetensors(path, [...tensors.values()]);
    const original = JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(folder, 'config.json'), JSON.stringify(prunedConfigJson(original, [
      { reducedDim: 16, ffDim: 200, windowSizes: [1, 2, 4, 8, 12, 16] },
      { reducedDim: 14, ffDim: 256, windowSizes: [1, 2, 4, 8, 12, 16] },
      { reducedDim: 16, ffDim: 256, windowSizes: [1, 4] },
      { reducedDim: 16, ffDim: 256, windowSizes: [] },
    ])));
  });
  after(async () => {
    await cache.dispose();
    rmSync(folder, { recursive: true, force: true });
  });

  test('the inspect report and the summary show the sizes per block', async () => {
    const report = await inspectCheckpoint(path);
    assert.equal(report.uniformLayers, false);
    assert.deepEqual(report.layerShapes?.map((s) => [s.reducedDim, s.pairCount, s.ffDim]), [[16, 120, 200], [14, 91, 256], [16, 120, 256], [16, 120, 256]]);
    const textReport = inspectReportText(report).split('\n');
    assert.ok(textReport.includes('Reduced dimension (r): per block: 16, 14, 16, 16 (120, 91, 120, 120 Plücker pairs)'), textReport.join('\n'));
    assert.ok(textReport.includes('Feed-forward width: per block: 200, 256, 256, 256'));
    assert.ok(textReport.includes('Windows per block: 0: [1, 2, 4, 8, 12, 16]; 1: [1, 2, 4, 8, 12, 16]; 2: [1, 4]; 3: none'));
    const rows = new Map(summaryRows(report));
    assert.equal(rows.get('Reduced dimension (r)'), 'per block: 16, 14, 16, 16 (120, 91, 120, 120 Plücker pairs)');
    assert.equal(rows.get('Feed-forward width'), 'per block: 200, 256, 256, 256');
    assert.equal(rows.get('Windows per block'), '0: [1, 2, 4, 8, 12, 16]; 1: [1, 2, 4, 8, 12, 16]; 2: [1, 4]; 3: none');
    // The fixture itself: one value each, no per-block rows.
    const fixture = new Map(summaryRows(await inspectCheckpoint(join(FIXTURE, 'model.safetensors'))));
    assert.equal(fixture.get('Reduced dimension (r)'), '16 (120 Plücker pairs)');
    assert.equal(fixture.has('Windows per block'), false);
  });

  test('features: each layer with its own r and offsets; a layer without offsets has none', async () => {
    const report = await featuresOfText(path, { text, ...options() });
    assert.deepEqual(report.layers.map((l) => [l.reducedDim, l.offsets.map((o) => o.offset)]), [
      [16, [1, 2, 4, 8, 12, 16]], [14, [1, 2, 4, 8, 12, 16]], [16, [1, 4]], [16, []],
    ]);
    report.layers[1].offsets.forEach((o) => assert.ok(Math.max(...o.residual) <= 1e-5, `residual at offset ${o.offset}`));
    assert.match(formatFeaturesReport(report), /layer 3 \(r 16, windows none: g = 0\)/);
    const one = await featuresOfText(path, { text, layer: 1, window: 2, ...options() });
    assert.equal(one.layers[0].offsets[0].coordinates![0].length, 91);
    await assert.rejects(featuresOfText(path, { text, layer: 2, window: 2, ...options() }), (e: unknown) => {
      assert.ok(isInputError(e));
      assert.match(e.problem, /window 2 is not in layer 2's window list \[1, 4\]/);
      return true;
    });
    // --window without --layer: the layers that have it
    const everywhere = await featuresOfText(path, { text, window: 2, ...options() });
    assert.deepEqual(everywhere.layers.map((l) => l.offsets.map((o) => o.offset)), [[2], [2], [], []]);
  });

  test('distances between the planes of a block with a smaller r', async () => {
    const report = await distancesOfText(path, { text, layer: 1, window: 1, ...options() });
    const N = report.positions.length;
    assert.ok(N > 5);
    assert.deepEqual(report.matrix[0].length, N);
    assert.equal(report.matrix[2][2], 0);
  });

  test('the editor\'s analyses: planes in Gr(2, r_l), no planes in a layer without offsets', async () => {
    const ref = { path, tokenizer: FIXTURE, text };
    const result = await cache.analyze(ref);
    assert.deepEqual(result.layers.map((l) => l.offsets.length), [6, 6, 2, 0]);
    const planes = await cache.planes({ ...ref, layer: 1, offset: 4 });
    assert.deepEqual([planes.reducedDim, planes.pairCount, planes.coordinates.length], [14, 91, planes.positions.length * 91]);
    assert.ok(Math.max(...planes.residual) <= 1e-5);
    const near = await cache.nearest({ ...ref, layer: 1, offset: 4, position: 8, k: 2, metric: 'geodesic' });
    assert.equal(near.length, 2);
    await assert.rejects(cache.planes({ ...ref, layer: 3, offset: 1 }), /window 1 is not in layer 3's window list \[\]/);
  });
});
