/**
 * LRP relevance, the pruning criteria's gradient probes and Analyze This Text read their tensors
 * asynchronously (issue 17: the webgpu backend in Node cannot read synchronously, see
 * ../../src/model/backend.ts WEBGPU_SYNC_READ_MESSAGE). Proved without a GPU: a test backend
 * 'nosync' runs tfjs-backend-cpu's kernels, but its readSync throws (and counts) whenever it is
 * called from outside a kernel, i.e. from tensor.dataSync()/arraySync() or a tfjs-core op that
 * reads values on the host; reads from inside a cpu kernel are the cpu kernels' own business (a
 * GPU backend has its own kernels) and are let through. Its async read (t.data()) works.
 *
 * Two runs on the fixture (test/fixtures/tiny-grassmann):
 *  - 'nosync' as it comes: no host kernels (../../src/model/hostKernels.ts hostKernelsAvailable is
 *    false), so the model and the rules run the TensorFlow.js-op ('composite') versions, as on
 *    webgpu. No synchronous read, no tensor left behind; the numbers are those of 'cpu' to float32
 *    rounding (the composite ops are another order of float operations than the host kernels):
 *    per result, largest |difference| / largest |value| <= 1e-5 (measured <= 5e-7; the gradient
 *    probes, composite on every backend, are exactly equal).
 *  - 'nosync' with the host kernels enabled (added to HOST_BACKENDS for the test): the same
 *    kernels as 'cpu' on the same inputs, so every number is exactly equal (deepStrictEqual,
 *    tolerance 0), and still no synchronous read.
 * No tfjs-core op on these paths reads synchronously on its own (none was refused). Tensors are
 * counted over a second round of every call (the first also makes the model's cached transposes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { AnalysisCache } from '../../src/core/analysis';
import type { Cancellation } from '../../src/core/cancellation';
import { TextAnalyses } from '../../src/core/textAnalysis';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { GrassmannModel } from '../../src/model/grassmann';
import { HOST_BACKENDS, registerHostKernels } from '../../src/model/hostKernels';
import { describeModel } from '../../src/model/spec';
import { scoreUnits } from '../../src/pruning/criteria';
import { targetGradients } from '../../src/relevance/gradients';
import { relevanceOf, relevanceOfAsync } from '../../src/relevance/lrp';
import { DEFAULT_RELEVANCE_OPTIONS } from '../../src/relevance/types';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const MODEL = join(FIXTURE, 'model.safetensors');
const evalText = readFileSync(join(FIXTURE, 'eval.txt'), 'utf8');
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'reference', 'manifest.json'), 'utf8')) as { cases: { input_ids: number[] }[] };
const ids = manifest.cases[0].input_ids.slice(0, 40);
const samples = manifest.cases.slice(0, 2).map((c) => c.input_ids.slice(0, 32));
const text = evalText.slice(0, 700);

/** Synchronous reads attempted from outside a kernel (each one threw). */
let refused: string[] = [];
let inKernel = 0;

class NoSyncBackend extends MathBackendCPU {
  override readSync(dataId: object): tf.backend_util.BackendValues {
    if (inKernel > 0) return super.readSync(dataId);
    const stack = (new Error().stack ?? '').split('\n').slice(2, 6).map((l) => l.trim()).join(' < ');
    refused.push(stack);
    throw new Error(`nosync: a synchronous read (${stack})`);
  }

  override read(dataId: object): Promise<tf.backend_util.BackendValues> {
    // MathBackendCPU.read is `return this.readSync(dataId)`: let this one through.
    inKernel++;
    try {
      return super.read(dataId);
    } finally {
      inKernel--;
    }
  }
}

function registerNoSync(): void {
  if (tf.findBackendFactory('nosync')) return;
  registerHostKernels(); // 'cpu' has them; 'nosync' only when it is in HOST_BACKENDS
  for (const kernel of tf.getKernelsForBackend('cpu')) {
    const kernelFunc = kernel.kernelFunc;
    tf.registerKernel({
      ...kernel,
      backendName: 'nosync',
      kernelFunc: (args) => {
        inKernel++;
        try {
          return kernelFunc(args);
        } finally {
          inKernel--;
        }
      },
    });
  }
  tf.registerBackend('nosync', () => new NoSyncBackend(), -1);
}

const opts = { relevance: DEFAULT_RELEVANCE_OPTIONS, seed: 1 };
const noWeights = (): Float32Array => {
  throw new Error('taylor and gradient read no weights');
};

/** Everything the paths compute, as plain values (typed arrays as arrays). */
async function runAll(backend: string): Promise<{ values: unknown; leaked: number }> {
  await tf.setBackend(backend);
  const checkpoint = await openSafetensors(MODEL);
  const described = await describeModel(checkpoint);
  assert.ok(described.recognized);
  const model = await GrassmannModel.load(checkpoint, described.spec);
  const plain = (g: Awaited<ReturnType<typeof targetGradients>>): unknown =>
    g.map((l) => ({ act: Array.from(l.act), dAct: Array.from(l.dAct), z: Array.from(l.z), dz: Array.from(l.dz), offsets: l.offsets, dMask: Array.from(l.dMask) }));
  const values: Record<string, unknown> = {};
  const compute = async (): Promise<void> => {
    values.relevance = await relevanceOf(model, ids, { kind: 'next-token' });
    let z: number[][] = [];
    values.perOffset = await relevanceOf(model, ids, { kind: 'next-token' }, DEFAULT_RELEVANCE_OPTIONS, { perOffset: true, onReducedStates: (s) => (z = s.map((a) => Array.from(a))) });
    values.reducedStates = z;
    values.gamma = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, rule: 'gamma', gate: 'half' });
    values.linearMaps = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, epsilon: 0.01, epsilonPlacement: 'linear-maps' });
    values.token = await relevanceOfAsync(model, ids, { kind: 'token', position: 5, tokenId: ids[6] }, DEFAULT_RELEVANCE_OPTIONS, { pause: async () => undefined });
    values.logitGradients = plain(await targetGradients(model, ids, 'logit'));
    values.lossGradients = plain(await targetGradients(model, ids, 'loss'));
    for (const criterion of ['taylor', 'gradient'] as const) {
      for (const kind of ['ffn', 'reduced', 'windows'] as const) {
        values[`${criterion}/${kind}`] = (await scoreUnits(model, samples, criterion, kind, noWeights, opts)).map((a) => Array.from(a));
      }
    }
    values.lrpScores = (await scoreUnits(model, samples, 'lrp', 'ffn', noWeights, opts)).map((a) => Array.from(a));
  };
  let leaked: number;
  try {
    // The first round also makes the model's cached transposes (kept with the model): count tensors over the second.
    await compute();
    const first = JSON.stringify(values);
    const start = tf.memory().numTensors;
    await compute();
    leaked = tf.memory().numTensors - start;
    assert.equal(JSON.stringify(values), first, 'the second round gives the numbers of the first');
  } finally {
    model.dispose();
    await checkpoint.close();
  }
  const cache = new AnalysisCache();
  try {
    const analyses = new TextAnalyses(cache);
    const control: Cancellation = { cancelled: false, progress: () => undefined };
    // Timings, the cache flag and the backend's name differ by design.
    const strip = (r: Awaited<ReturnType<TextAnalyses['analyze']>>): unknown =>
      JSON.parse(JSON.stringify(r, (k, v: unknown) => (k === 'ms' || k === 'cached' || k === 'backend' ? undefined : v)));
    values.analysis = strip(await analyses.analyze({ path: MODEL, text }));
    values.analysisCancellable = strip(await analyses.analyze({ path: MODEL, text: text.slice(50, 600) }, control));
  } finally {
    await cache.dispose();
  }
  return { values, leaked };
}

/** Every number of a value, in order; the rest (strings, booleans, null) as they are. */
function leaves(v: unknown, numbers: number[], others: unknown[]): void {
  if (typeof v === 'number') numbers.push(v);
  else if (Array.isArray(v)) for (const x of v) leaves(x, numbers, others);
  else if (v && typeof v === 'object') for (const k of Object.keys(v).sort()) {
    others.push(k);
    leaves((v as Record<string, unknown>)[k], numbers, others);
  } else others.push(v);
}

/**
 * Per entry of the results: the largest |a - b| over its numbers divided by their largest |b|
 * (signed relevance cancels, so a per-element relative difference is not meaningful); the
 * non-numbers must be equal.
 */
function differences(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, number> {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  const out: Record<string, number> = {};
  for (const key of Object.keys(b)) {
    const [na, nb, oa, ob]: [number[], number[], unknown[], unknown[]] = [[], [], [], []];
    leaves(a[key], na, oa);
    leaves(b[key], nb, ob);
    assert.deepEqual(oa, ob, `${key}: the same structure`);
    assert.equal(na.length, nb.length, `${key}: as many numbers`);
    let diff = 0;
    let scale = 0;
    nb.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(na[i] - v));
      scale = Math.max(scale, Math.abs(v));
    });
    out[key] = scale > 0 ? diff / scale : diff;
  }
  return out;
}

describe('LRP, gradient probes and text analysis read no tensor synchronously (a backend that refuses readSync)', () => {
  let cpu: Awaited<ReturnType<typeof runAll>>;
  before(async () => {
    registerNoSync();
    cpu = await runAll('cpu');
  });
  after(async () => {
    await tf.setBackend('cpu');
  });

  test('the nosync backend refuses dataSync() and arraySync(), and serves data()', async () => {
    await tf.setBackend('nosync');
    const t = tf.tensor1d([1, 2, 3]);
    try {
      refused = [];
      assert.throws(() => t.dataSync(), /nosync: a synchronous read/);
      assert.throws(() => t.arraySync(), /nosync: a synchronous read/);
      assert.equal(refused.length, 2);
      assert.deepEqual(Array.from(await t.data()), [1, 2, 3]);
      assert.deepEqual(Array.from(await tf.matMul(tf.reshape(t, [1, 3]), tf.reshape(t, [3, 1])).data()), [14]);
    } finally {
      t.dispose();
      refused = [];
      await tf.setBackend('cpu');
    }
  });

  test('composite ops (as on webgpu): no synchronous read, no tensor left behind, the numbers of cpu to float32 rounding', async () => {
    assert.ok(!(HOST_BACKENDS as readonly string[]).includes('nosync'));
    refused = [];
    const nosync = await runAll('nosync');
    assert.deepEqual(refused, [], 'synchronous reads attempted');
    assert.equal(nosync.leaked, 0, 'tensors left behind on nosync');
    assert.equal(cpu.leaked, 0, 'tensors left behind on cpu');
    const diffs = differences(nosync.values as Record<string, unknown>, cpu.values as Record<string, unknown>);
    console.log(`composite (nosync) vs host kernels (cpu), largest |difference| / largest |value| per result: ${Object.entries(diffs).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
    for (const [key, d] of Object.entries(diffs)) assert.ok(d <= 1e-5, `${key}: ${d}`);
  });

  test('with the host kernels (the same kernels as cpu): no synchronous read, every number exactly that of cpu (tolerance 0)', async () => {
    const hosts = HOST_BACKENDS as unknown as string[];
    hosts.push('nosync');
    try {
      registerHostKernels();
      refused = [];
      const nosync = await runAll('nosync');
      assert.deepEqual(refused, [], 'synchronous reads attempted');
      assert.equal(nosync.leaked, 0, 'tensors left behind');
      assert.deepStrictEqual(nosync.values, cpu.values);
    } finally {
      hosts.splice(hosts.indexOf('nosync'), 1);
    }
  });
});
