/**
 * Analyze This Text runs one forward pass per window (issue 15): LRP's recorded pass gives the
 * taps the features read and the next-token loss. Against the two-pass computation it replaced
 * (forward() with the taps, then relevanceOf's own recording), on the fixture and the cpu
 * backend: equal to float32 rounding (in fact bitwise: the same kernels on the same inputs), with
 * and without a cancellation (the pass block by block, or in one tf.tidy).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { AnalysisCache } from '../../src/core/analysis';
import type { Cancellation } from '../../src/core/cancellation';
import { layerFeatures, offsetsFor } from '../../src/core/features';
import { tokensForModel } from '../../src/core/input';
import { TextAnalyses, type TextWindowAnalysis } from '../../src/core/textAnalysis';
import { GrassmannModel } from '../../src/model/grassmann';
import { relevanceOf } from '../../src/relevance/lrp';
import { DEFAULT_RELEVANCE_OPTIONS } from '../../src/relevance/types';
import type { ModelSession } from '../../src/core/session';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const MODEL = join(FIXTURE, 'model.safetensors');
const evalText = readFileSync(join(FIXTURE, 'eval.txt'), 'utf8');

/** Counts the forward passes of every model: forward() (taps), trace() and traceStepwise() (LRP's recording). */
function countPasses(): { passes: () => number; restore: () => void } {
  const proto = GrassmannModel.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const names = ['forward', 'trace', 'traceStepwise'] as const;
  const original = names.map((n) => proto[n]);
  let count = 0;
  names.forEach((n, k) => {
    proto[n] = function (this: unknown, ...args: unknown[]) {
      count++;
      return original[k].apply(this, args);
    };
  });
  return { passes: () => count, restore: () => names.forEach((n, k) => (proto[n] = original[k])) };
}

/** What analyzeWindow computed before: forward() for loss and features, then relevanceOf with its own pass. */
async function twoPasses(session: ModelSession, text: string) {
  const model = await session.loadModel();
  const { ids } = tokensForModel(session, text);
  const T = ids.length;
  const L = model.spec.dims.layers;
  const tapNames = ['nll', ...Array.from({ length: L }, (_, l) => ['z', 'mix_in', 'g', 'alpha'].map((n) => `layers.${l}.${n}`)).flat()];
  const { taps } = await model.forward(ids, { taps: tapNames });
  const offsets = offsetsFor(session, T);
  const layers = [];
  for (let l = 0; l < L; l++) layers.push(await layerFeatures(model, taps, T, l, offsets, { alphaPerDimension: false, coordinates: false, residuals: false }));
  const relevance = await relevanceOf(model, ids, { kind: 'next-token' }, DEFAULT_RELEVANCE_OPTIONS);
  return { loss: Array.from(taps.get('nll')!.data), layers, relevance };
}

/** |a - b| <= 1e-6 (|a| + |b|) + 1e-30 elementwise (float32 rounding), and counts the exactly equal ones. */
function closeArrays(actual: readonly (number | null)[], expected: readonly (number | null)[], what: string): number {
  assert.equal(actual.length, expected.length, what);
  let equal = 0;
  actual.forEach((a, i) => {
    const b = expected[i];
    if (a === b) {
      equal++;
      return;
    }
    assert.ok(a !== null && b !== null && Math.abs(a - b) <= 1e-6 * (Math.abs(a) + Math.abs(b)) + 1e-30, `${what}[${i}]: ${a} vs ${b}`);
  });
  return equal;
}

function compareWindow(w: TextWindowAnalysis, expected: Awaited<ReturnType<typeof twoPasses>>): { values: number; equal: number } {
  let values = 0;
  let equal = 0;
  const check = (a: readonly (number | null)[], b: readonly (number | null)[], what: string) => {
    values += a.length;
    equal += closeArrays(a, b, what);
  };
  check(w.loss, expected.loss, 'loss');
  for (const layer of expected.layers) {
    const got = w.layers[layer.layer];
    check(got.alphaMean, layer.alphaMean, `layer ${layer.layer} alphaMean`);
    assert.equal(got.offsets.length, layer.offsets.length);
    layer.offsets.forEach((o, k) => {
      assert.deepEqual(got.offsets[k].positions, o.positions);
      assert.deepEqual(got.offsets[k].degenerate, o.degenerate);
      check(got.offsets[k].area, o.area, `layer ${layer.layer} offset ${o.offset} area`);
      check(got.offsets[k].share, o.share, `layer ${layer.layer} offset ${o.offset} share`);
    });
  }
  check(w.relevance!.tokens, expected.relevance.tokens, 'relevance tokens');
  check(w.relevance!.positionEmbedding, expected.relevance.positionEmbedding, 'relevance positions');
  check([w.relevance!.accounting.start, w.relevance!.accounting.input], [expected.relevance.accounting.start, expected.relevance.accounting.input], 'accounting');
  return { values, equal };
}

describe('Analyze This Text: one forward pass per window', () => {
  let cache: AnalysisCache;
  let analyses: TextAnalyses;
  const text = evalText.slice(0, 1400); // three windows
  before(async () => {
    await tf.setBackend('cpu');
    cache = new AnalysisCache();
    analyses = new TextAnalyses(cache);
    await analyses.analyze({ path: MODEL, text: 'the licensor grants you a license' }); // loads the weights and LRP's transposes
  });
  after(async () => {
    await cache.dispose();
  });

  for (const withCancellation of [false, true]) {
    test(`${withCancellation ? 'with a cancellation (block by block)' : 'without a cancellation (one tf.tidy)'}: one pass per window, results as with two`, async () => {
      const control: Cancellation | undefined = withCancellation ? { cancelled: false, progress: () => undefined } : undefined;
      const fresh = withCancellation ? evalText.slice(1400, 2800) : text; // not the windows cached by the other test
      const counter = countPasses();
      let result;
      const before = tf.memory().numTensors;
      try {
        result = await analyses.analyze({ path: MODEL, text: fresh }, control);
      } finally {
        counter.restore();
      }
      const computed = result.windows.filter((w) => !w.cached).length;
      assert.ok(computed >= 2 && computed === result.windows.length, `${computed} of ${result.windows.length} windows computed`);
      assert.equal(counter.passes(), computed, `${counter.passes()} forward passes for ${computed} windows`);
      assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
      const session = await cache.session({ path: MODEL });
      let values = 0;
      let equal = 0;
      for (const w of result.windows) {
        const r = compareWindow(w, await twoPasses(session, fresh.slice(w.start, w.end)));
        values += r.values;
        equal += r.equal;
      }
      console.log(`one pass vs two: ${equal} of ${values} values bitwise equal, the rest within float32 rounding`);
    });
  }
});
