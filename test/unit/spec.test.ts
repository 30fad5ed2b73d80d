/**
 * Recognising GrassmannGPT from tensor names and shapes, and resolving what the weights cannot
 * tell (window offsets, eps, variant) from config.json or the paper's defaults.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memorySource } from '../../src/checkpoint/fileSource';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { writeSafetensors } from '../../src/checkpoint/safetensorsWriter';
import { openTorchCheckpoint } from '../../src/checkpoint/torch';
import { contiguousStrides, type TensorInfo } from '../../src/checkpoint/types';
import {
  defaultWindowSizes, PAPER_WINDOWS_12_LAYERS, PAPER_WINDOWS_6_LAYERS, resolveModelConfig,
} from '../../src/model/config';
import { describeModel, recognizeShapes, rowMajorPairs, type ModelDims } from '../../src/model/spec';
import { randomGrassmannWeights } from '../../src/model/synthetic';
import { isInputError } from '../../src/util/errors';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');

/** Shapes only (no data): what recognizeShapes reads. Each tensor gets its own storage. */
function shapeMap(shapes: Record<string, number[]>): Map<string, TensorInfo> {
  const source = memorySource('synthetic', new Uint8Array(0));
  return new Map(
    Object.entries(shapes).map(([name, shape], i) => [
      name,
      { name, dtype: 'F32', shape, strides: contiguousStrides(shape), elementOffset: 0, storage: { source, byteOffset: 0, byteLength: 0, key: String(i) } },
    ]),
  );
}

/** The reference layout's names and shapes for the given dimensions. */
function grassmannShapes(o: { V: number; d: number; L: number; r: number; f: number; Tmax: number; pairs?: number }): Record<string, number[]> {
  const pairs = o.pairs ?? (o.r * (o.r - 1)) / 2;
  const shapes: Record<string, number[]> = {
    'token_embedding.weight': [o.V, o.d],
    'position_embedding.weight': [o.Tmax, o.d],
    'ln_f.weight': [o.d],
    'ln_f.bias': [o.d],
  };
  for (let l = 0; l < o.L; l++) {
    const p = `blocks.${l}`;
    Object.assign(shapes, {
      [`${p}.ln1.weight`]: [o.d], [`${p}.ln1.bias`]: [o.d],
      [`${p}.grassmann.W_red.weight`]: [o.r, o.d], [`${p}.grassmann.W_red.bias`]: [o.r],
      [`${p}.grassmann.W_plu.weight`]: [o.d, pairs], [`${p}.grassmann.W_plu.bias`]: [o.d],
      [`${p}.grassmann.W_gate.weight`]: [o.d, 2 * o.d], [`${p}.grassmann.W_gate.bias`]: [o.d],
      [`${p}.grassmann.layer_norm.weight`]: [o.d], [`${p}.grassmann.layer_norm.bias`]: [o.d],
      [`${p}.ln2.weight`]: [o.d], [`${p}.ln2.bias`]: [o.d],
      [`${p}.ffn.0.weight`]: [o.f, o.d], [`${p}.ffn.0.bias`]: [o.f],
      [`${p}.ffn.3.weight`]: [o.d, o.f], [`${p}.ffn.3.bias`]: [o.d],
    });
  }
  return shapes;
}

const FIXTURE_DIMS: ModelDims = { vocabSize: 1200, modelDim: 64, layers: 4, reducedDim: 16, pairCount: 120, ffDim: 256, maxPositions: 128 };

describe('recognition of the fixture', () => {
  for (const [label, open] of [
    ['model.safetensors (lm_head absent)', () => openSafetensors(join(FIXTURE, 'model.safetensors'))],
    ['checkpoints/best.pt (lm_head shares storage, pair-index buffers)', () => openTorchCheckpoint(join(FIXTURE, 'checkpoints', 'best.pt'))],
  ] as const) {
    test(label, async () => {
      const checkpoint = await open();
      try {
        const result = await describeModel(checkpoint);
        assert.ok(result.recognized, result.recognized ? '' : result.problems.join('; '));
        const spec = result.spec;
        assert.equal(spec.architecture, 'GrassmannGPT');
        assert.deepEqual(spec.dims, FIXTURE_DIMS);
        assert.deepEqual(spec.variant, { block: 'pre-norm', mixOutput: 'blend', mixNorm: true, aggregation: 'project-then-mean', pluckerEps: 1e-8, layerNormEps: 1e-5, activation: 'gelu', pairing: 'previous', positions: 'learned', tiedLmHead: true });
        assert.deepEqual(spec.windowSizes, [1, 2, 4, 8, 12, 16]);
        assert.equal(spec.windowSource, 'config');
        assert.equal(spec.configPath, join(FIXTURE, 'config.json'));
        assert.equal(spec.layerNormEps, 1e-5);
        assert.equal(spec.roles.global.lmHead, null);
        assert.equal(spec.roles.global.tokenEmbedding, 'token_embedding.weight');
        assert.equal(spec.roles.layers.length, 4);
        assert.equal(spec.roles.layers[3].pluckerWeight, 'blocks.3.grassmann.W_plu.weight');
        assert.equal(spec.roles.layers[0].ffnOutWeight, 'blocks.0.ffn.3.weight');
        assert.deepEqual(spec.unusedTensors, []);
        assert.deepEqual(spec.warnings, []);
        assert.equal(spec.pairFirst.length, 120);
        assert.deepEqual([spec.pairFirst[15], spec.pairSecond[15]], [1, 2]);
      } finally {
        await checkpoint.close();
      }
    });
  }

  test('an explicit --config takes precedence and is validated against the weights', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'grassmann-spec-'));
    try {
      const checkpoint = await openSafetensors(join(FIXTURE, 'model.safetensors'));
      const good = join(folder, 'good.json');
      writeFileSync(good, JSON.stringify({ window_sizes: [1, 3], num_layers: 4, model_dim: 64 }));
      const result = await describeModel(checkpoint, { configPath: good });
      assert.ok(result.recognized);
      assert.deepEqual(result.spec.windowSizes, [1, 3]);
      assert.equal(result.spec.configPath, good);
      const bad = join(folder, 'bad.json');
      writeFileSync(bad, JSON.stringify({ window_sizes: [1, 2], reduced_dim: 32 }));
      await assert.rejects(describeModel(checkpoint, { configPath: bad }), (e: unknown) => {
        assert.ok(isInputError(e));
        assert.equal(e.file, bad);
        assert.match(e.problem, /reduced_dim = 32 does not match the checkpoint's weights \(16\)/);
        return true;
      });
      await checkpoint.close();
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('unrecognised models say exactly what is missing or mismatched', () => {
  const base = { V: 50, d: 8, L: 2, r: 4, f: 16, Tmax: 32 };

  test('the reference shapes are recognised', () => {
    const result = recognizeShapes(shapeMap(grassmannShapes(base)));
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.dims, { vocabSize: 50, modelDim: 8, layers: 2, reducedDim: 4, pairCount: 6, ffDim: 16, maxPositions: 32 });
  });

  test('a tensor missing in every block', () => {
    const shapes = grassmannShapes(base);
    delete shapes['blocks.0.grassmann.W_red.weight'];
    delete shapes['blocks.1.grassmann.W_red.weight'];
    const result = recognizeShapes(shapeMap(shapes));
    assert.equal(result.ok, false);
    assert.ok(result.problems.includes('no blocks.*.grassmann.W_red.weight'), result.problems.join('; '));
  });

  test('a tensor missing in one block, and a missing global', () => {
    const shapes = grassmannShapes(base);
    delete shapes['blocks.1.ffn.3.bias'];
    delete shapes['ln_f.bias'];
    const result = recognizeShapes(shapeMap(shapes));
    assert.deepEqual(result.problems.sort(), ['blocks.1.ffn.3.bias missing (present in other blocks)', 'no ln_f.bias'].sort());
  });

  test('W_plu input that is not r(r-1)/2', () => {
    const result = recognizeShapes(shapeMap(grassmannShapes({ V: 1200, d: 64, L: 1, r: 17, f: 256, Tmax: 128, pairs: 120 })));
    assert.deepEqual(result.problems, ['blocks.0.grassmann.W_plu.weight input 120 != r(r-1)/2 = 136']);
  });

  test('W_gate input that is not 2d, and an inconsistent width', () => {
    const shapes = grassmannShapes(base);
    shapes['blocks.1.grassmann.W_gate.weight'] = [8, 12];
    shapes['blocks.0.ln2.weight'] = [9];
    const result = recognizeShapes(shapeMap(shapes));
    assert.deepEqual(result.problems, [
      'blocks.0.ln2.weight length 9 != d = 8 (from token_embedding.weight columns)',
      'blocks.1.grassmann.W_gate.weight input 12 != 2d = 16',
    ]);
  });

  test('another architecture: describeModel reports instead of throwing', async () => {
    const shapes = { 'transformer.wte.weight': [50, 8], 'transformer.h.0.attn.c_attn.weight': [8, 24] };
    const checkpoint = { path: '/nowhere/gpt2.safetensors', format: 'safetensors' as const, files: [], tensors: shapeMap(shapes), metadata: {}, warnings: [], close: async () => {} };
    const result = await describeModel(checkpoint);
    assert.equal(result.recognized, false);
    if (result.recognized) return;
    assert.ok(result.problems.includes('no token_embedding.weight'));
    assert.ok(result.problems.includes('no blocks.{l}.* tensors (expected at least one block)'));
  });

  test('a gap in the block numbering', () => {
    const shapes = grassmannShapes({ ...base, L: 3 });
    for (const name of Object.keys(shapes)) if (name.startsWith('blocks.1.')) delete shapes[name];
    const result = recognizeShapes(shapeMap(shapes));
    assert.ok(result.problems.includes('blocks are numbered 0..2 but there is no blocks.1.*'), result.problems.join('; '));
  });

  test('pair order helper is row-major', () => {
    assert.deepEqual(rowMajorPairs(4), { first: [0, 0, 0, 1, 1, 2], second: [1, 2, 3, 2, 3, 3] });
  });
});

describe('window list: config.json or the paper defaults', () => {
  let folder: string;
  const dimsFor = (layers: number): ModelDims => ({ vocabSize: 50, modelDim: 8, layers, reducedDim: 4, pairCount: 6, ffDim: 16, maxPositions: 32 });
  before(() => {
    folder = mkdtempSync(join(tmpdir(), 'grassmann-windows-'));
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  test('paper defaults by depth; other depths assumed with a warning', () => {
    assert.deepEqual(defaultWindowSizes(6), { windowSizes: [...PAPER_WINDOWS_6_LAYERS], note: 'paper default for 6 layers' });
    assert.deepEqual(defaultWindowSizes(12).windowSizes, [1, 1, 2, 2, 4, 4, 8, 8, 12, 12, 16, 16]);
    assert.equal(defaultWindowSizes(12).warning, undefined);
    const other = defaultWindowSizes(4);
    assert.deepEqual(other.windowSizes, [1, 2, 4, 8, 12, 16]);
    assert.match(other.warning ?? '', /paper gives no list for 4 layers/);
  });

  test('no config: 6 and 12 layers use the paper lists (assumed), 4 layers warns', async () => {
    const dir = join(folder, 'none', 'a', 'b', 'c', 'd');
    mkdirSync(dir, { recursive: true });
    const checkpoint = join(dir, 'model.safetensors');
    const six = await resolveModelConfig(checkpoint, dimsFor(6));
    assert.deepEqual([six.windowSizes, six.windowSource, six.configPath, six.warnings], [[1, 2, 4, 8, 12, 16], 'assumed', null, []]);
    const twelve = await resolveModelConfig(checkpoint, dimsFor(12));
    assert.deepEqual([twelve.windowSizes, twelve.windowSource], [[...PAPER_WINDOWS_12_LAYERS], 'assumed']);
    const four = await resolveModelConfig(checkpoint, dimsFor(4));
    assert.equal(four.windowSource, 'assumed');
    assert.equal(four.warnings.length, 1);
    assert.equal(four.layerNormEps, 1e-5);
  });

  test('config.json beside or up to three folders above the checkpoint', async () => {
    const root = join(folder, 'found');
    const deep = join(root, 'runs', 'x', 'checkpoints');
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(root, 'runs', 'config.json'), JSON.stringify({ window_sizes: [1, 1, 3], layer_norm_eps: 1e-6, num_layers: 12 }));
    const resolved = await resolveModelConfig(join(deep, 'best.pt'), dimsFor(12));
    assert.deepEqual(resolved.windowSizes, [1, 1, 3]);
    assert.equal(resolved.windowSource, 'config');
    assert.equal(resolved.layerNormEps, 1e-6);
    assert.equal(resolved.configPath, join(root, 'runs', 'config.json'));
    // a folder as the checkpoint path (sharded models) searches from the folder itself
    const fromFolder = await resolveModelConfig(join(root, 'runs'), dimsFor(12));
    assert.equal(fromFolder.configPath, join(root, 'runs', 'config.json'));
  });

  test('a discovered config that contradicts the weights is ignored with a warning', async () => {
    const dir = join(folder, 'mismatch');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ window_sizes: [1, 2], model_dim: 256 }));
    const resolved = await resolveModelConfig(join(dir, 'model.safetensors'), dimsFor(6));
    assert.equal(resolved.windowSource, 'assumed');
    assert.deepEqual(resolved.windowSizes, [1, 2, 4, 8, 12, 16]);
    assert.equal(resolved.configPath, null);
    assert.match(resolved.warnings[0], /ignored .*config\.json: model_dim = 256 does not match the checkpoint's weights \(8\)/);
  });

  test('invalid contents of an explicit config are InputErrors naming the file', async () => {
    const file = join(folder, 'explicit.json');
    for (const [content, message] of [
      ['{"window_sizes": [1, 0]}', /window_sizes must be a non-empty list of positive integers/],
      ['{"window_sizes": []}', /window_sizes must be a non-empty list/],
      ['{"layer_norm_eps": -1}', /layer_norm_eps must be a positive number/],
      ['{"pairing": "sideways"}', /pairing must be one of previous, next/],
      ['{"window_sizes": [1', /not valid JSON/],
      ['[1, 2]', /expected a JSON object/],
    ] as const) {
      writeFileSync(file, content);
      await assert.rejects(resolveModelConfig(join(folder, 'm.safetensors'), dimsFor(6), file), (e: unknown) => {
        assert.ok(isInputError(e));
        assert.equal(e.file, file);
        assert.match(e.problem, message);
        return true;
      });
    }
    await assert.rejects(resolveModelConfig(join(folder, 'm.safetensors'), dimsFor(6), join(folder, 'absent.json')), (e: unknown) => isInputError(e) && /no such file/.test(e.problem));
  });
});

describe('lm_head', () => {
  test('a separate lm_head with the embedding values is tied; different values are an untied head', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'grassmann-head-'));
    try {
      const dims = { vocabSize: 20, modelDim: 6, layers: 1, reducedDim: 3, ffDim: 8, maxPositions: 10 };
      const weights = randomGrassmannWeights(dims, 3);
      const embedding = weights.find((t) => t.name === 'token_embedding.weight')!;
      for (const [name, data, tied] of [
        ['same', embedding.data, true],
        ['different', (embedding.data as Float32Array).map((v) => v + 1), false],
      ] as const) {
        const file = join(folder, `${name}.safetensors`);
        await writeSafetensors(file, [...weights, { ...embedding, name: 'lm_head.weight', data }]);
        const checkpoint = await openSafetensors(file);
        const result = await describeModel(checkpoint);
        await checkpoint.close();
        assert.ok(result.recognized);
        assert.equal(result.spec.variant.tiedLmHead, tied);
        assert.equal(result.spec.roles.global.lmHead, tied ? null : 'lm_head.weight');
        // 1 layer: the paper has no list, so the windows are assumed with a warning
        assert.equal(result.spec.windowSource, 'assumed');
        assert.ok(result.spec.warnings.some((w) => /paper gives no list for 1 layers/.test(w)));
        if (!tied) assert.ok(result.spec.warnings.some((w) => /lm_head.weight differs from token_embedding.weight/.test(w)));
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
