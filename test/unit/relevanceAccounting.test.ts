/**
 * The signed account of a relevance pass (src/relevance/rules.ts, lrp.ts): at every stage
 * entering = leaving + biases + eps + rounding, and over the model start = input + biases + eps +
 * rounding; rule objects, composites, overrides and the placement of eps.
 *
 * Tolerances: the rounding remainder is float32 arithmetic over sums of ~10^3-10^4 terms: at most
 * 1e-5 of the largest term of the identity (measured on the fixture: <= 1e-7 relative).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { writeSafetensors } from '../../src/checkpoint/safetensorsWriter';
import { readFloat32 } from '../../src/checkpoint/tensorData';
import type { Checkpoint } from '../../src/checkpoint/types';
import { GrassmannModel } from '../../src/model/grassmann';
import { describeModel } from '../../src/model/spec';
import { relevanceOf } from '../../src/relevance/lrp';
import { parseRuleOverrides, RuleBook } from '../../src/relevance/rules';
import { DEFAULT_RELEVANCE_OPTIONS, type RelevanceOptions, type RelevanceResult } from '../../src/relevance/types';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'reference', 'manifest.json'), 'utf8')) as { cases: { input_ids: number[] }[] };
const ids = manifest.cases[0].input_ids.slice(0, 40);

async function loadModel(path: string): Promise<{ checkpoint: Checkpoint; model: GrassmannModel }> {
  const checkpoint = await openSafetensors(path);
  const described = await describeModel(checkpoint);
  assert.ok(described.recognized, described.recognized ? '' : described.problems.join('; '));
  return { checkpoint, model: await GrassmannModel.load(checkpoint, described.spec) };
}

/** Asserts both identities of the account at 1e-5 of the largest term. */
function assertAccountAddsUp(r: RelevanceResult, what: string): void {
  for (const s of r.conservation) {
    const scale = Math.max(Math.abs(s.upper), Math.abs(s.lower), Math.abs(s.bias), Math.abs(s.epsilon));
    assert.ok(Math.abs(s.upper - s.lower - s.bias - s.epsilon) <= 1e-5 * scale, `${what}, ${s.stage}: ${JSON.stringify(s)}`);
    assert.ok(Math.abs(s.bias - s.biases.reduce((a, b) => a + b.relevance, 0)) <= 1e-12 * Math.max(1, Math.abs(s.bias)), `${what}, ${s.stage}: bias total`);
  }
  const a = r.accounting;
  const scale = Math.max(Math.abs(a.start), Math.abs(a.input), Math.abs(a.bias), Math.abs(a.epsilon));
  assert.ok(Math.abs(a.start - a.input - a.bias - a.epsilon) <= 1e-5 * scale, `${what}: ${JSON.stringify({ ...a, biases: undefined })}`);
  assert.equal(a.start, r.start);
  const input = r.tokens.reduce((x, y) => x + y, 0) + r.positionEmbedding.reduce((x, y) => x + y, 0);
  assert.ok(Math.abs(a.input - input) <= 1e-5 * Math.abs(input), `${what}: input ${a.input} vs tokens ${input}`);
}

before(async () => {
  await tf.setBackend('cpu');
});

describe('the account on the fixture (a model with biases)', () => {
  let checkpoint: Checkpoint;
  let model: GrassmannModel;
  before(async () => ({ checkpoint, model } = await loadModel(join(FIXTURE, 'model.safetensors'))));
  after(async () => {
    model.dispose();
    await checkpoint.close();
  });

  const choices: Array<[string, Partial<RelevanceOptions>]> = [
    ['epsilon (default)', {}],
    ['epsilon 0.01', { epsilon: 0.01 }],
    ['z+', { rule: 'zplus' }],
    ['gamma, half gate', { rule: 'gamma', gate: 'half' }],
    ['unit start', { start: 'unit' }],
    ['composite epsilon-gamma', { composite: 'epsilon-gamma' }],
    ['eps at the linear maps only', { epsilonPlacement: 'linear-maps', epsilon: 0.01 }],
  ];
  for (const [name, choice] of choices) {
    test(`start = input + biases + eps (+ rounding <= 1e-5): ${name}`, async () => {
      const r = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, ...choice });
      assertAccountAddsUp(r, name);
    });
  }

  test('the biases are named by their state-dict keys, and under epsilon they absorb a part that is not 0', async () => {
    const r = await relevanceOf(model, ids, { kind: 'next-token' });
    const keys = new Set(checkpoint.tensors.keys());
    const names = r.accounting.biases.map((b) => b.name);
    for (const n of names) assert.ok(keys.has(n), `${n} is a tensor of the checkpoint`);
    // Every block's linear-map biases and LayerNorm betas, and the final LayerNorm's beta.
    const roles = model.spec.roles;
    for (const l of roles.layers) for (const key of [l.ffnOutBias, l.ffnInBias, l.reduceBias, l.norm1Bias, l.norm2Bias, l.pluckerBias]) if (key) assert.ok(names.includes(key), `${key} is in the account`);
    assert.ok(names.includes(roles.global.finalNormBias));
    assert.ok(r.accounting.biases.some((b) => Math.abs(b.relevance) > 1e-3 * Math.abs(r.start)));
    // The head stage holds the final LayerNorm's beta only.
    assert.deepEqual(r.conservation[0].biases.map((b) => b.name), [roles.global.finalNormBias]);
  });

  test('z+ and gamma give the linear maps\' biases nothing (only the LayerNorm betas absorb)', async () => {
    for (const rule of ['zplus', 'gamma'] as const) {
      const r = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, rule });
      const betas = new Set([model.spec.roles.global.finalNormBias, ...model.spec.roles.layers.flatMap((l) => [l.norm1Bias, l.norm2Bias, l.mixNormBias])]);
      const others = r.accounting.biases.filter((b) => !betas.has(b.name));
      assert.deepEqual(others, [], `${rule}: ${JSON.stringify(others)}`);
    }
  });

  test('the textbook placement: the embedding sum gets no eps; the default placement stabilises it', async () => {
    const textbook = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, epsilon: 0.01, epsilonPlacement: 'linear-maps' });
    const every = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, epsilon: 0.01 });
    assert.equal(textbook.conservation.at(-1)!.stage, 'embeddings');
    assert.equal(textbook.conservation.at(-1)!.epsilon, 0);
    assert.notEqual(every.conservation.at(-1)!.epsilon, 0);
    assert.ok(textbook.rules[0].includes('linear maps only'), textbook.rules[0]);
  });

  test('a composite and the same rules given as overrides give identical relevance', async () => {
    const composite = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, composite: 'epsilon-gamma' });
    const overrides = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, overrides: parseRuleOverrides('layers:0-1=gamma') });
    const uniform = await relevanceOf(model, ids, { kind: 'next-token' });
    assert.deepEqual(overrides.tokens, composite.tokens);
    assert.deepEqual(overrides.layers.map((l) => l.ffnNeurons), composite.layers.map((l) => l.ffnNeurons));
    assert.notDeepEqual(uniform.tokens, composite.tokens);
    // The upper blocks and the head follow epsilon in both: their relevance is the uniform run's.
    assert.deepEqual(composite.layers[3].ffnNeurons, uniform.layers[3].ffnNeurons);
    assert.ok(composite.rules.some((line) => line.includes('gamma rule (gamma 0.25): layer 0, layer 1')), composite.rules.join('\n'));
  });

  test('rule sites: composites, overrides (the last match wins) and their errors', () => {
    const book = new RuleBook({ ...DEFAULT_RELEVANCE_OPTIONS, composite: 'epsilon-plus', overrides: parseRuleOverrides('W_plu=gamma,layers:3/W_plu+W_red=zplus,head=gamma') }, 4);
    assert.equal(book.nameAt({ layer: 0, role: 'ffnIn' }), 'zplus');
    assert.equal(book.nameAt({ layer: 2, role: 'ffnIn' }), 'epsilon');
    assert.equal(book.nameAt({ layer: 0, role: 'plucker' }), 'gamma');
    assert.equal(book.nameAt({ layer: 3, role: 'plucker' }), 'zplus');
    assert.equal(book.nameAt({ layer: 3, role: 'reduce' }), 'zplus');
    assert.equal(book.nameAt({ layer: null, role: 'lmHead' }), 'gamma');
    assert.throws(() => parseRuleOverrides('layers:1=lrp'), /the rule must be one of epsilon, zplus, gamma/);
    assert.throws(() => parseRuleOverrides('W_foo=gamma'), /unknown linear map 'W_foo'/);
    assert.throws(() => new RuleBook({ ...DEFAULT_RELEVANCE_OPTIONS, overrides: parseRuleOverrides('layers:7=gamma') }, 4), /rule override layer 7 is outside 0\.\.3/);
  });

  test('when the start is small against its parts, the account says a ratio is not meaningful', async () => {
    // One target whose logit is nearly 0: the token whose logit at position 3 is closest to 0.
    const forward = await model.forward(ids);
    const V = model.spec.dims.vocabSize;
    let best = 0;
    for (let k = 1; k < V; k++) if (Math.abs(forward.logits[3 * V + k]) < Math.abs(forward.logits[3 * V + best])) best = k;
    const near = await relevanceOf(model, ids, { kind: 'token', position: 3, tokenId: best });
    assertAccountAddsUp(near, 'near-zero logit');
    assert.ok(Math.abs(near.start) < 1e-2, `start ${near.start}`);
    assert.equal(near.accounting.ratiosMeaningful, false);
    assert.equal(near.accounting.shares, null);
    assert.match(near.accounting.note ?? '', /is small against its parts .* a ratio to it is not meaningful/);
    const ordinary = await relevanceOf(model, ids, { kind: 'next-token' });
    assert.equal(ordinary.accounting.ratiosMeaningful, true);
    assert.ok(Math.abs(ordinary.accounting.shares!.input - ordinary.accounting.input / ordinary.start) < 1e-15);
  });
});

describe('the account on a bias-free copy of the fixture', () => {
  let dir: string;
  let checkpoint: Checkpoint;
  let model: GrassmannModel;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gl-account-'));
    const source = await openSafetensors(join(FIXTURE, 'model.safetensors'));
    const tensors = [];
    for (const info of source.tensors.values()) {
      const data = await readFloat32(info);
      tensors.push({ name: info.name, dtype: 'F32' as const, shape: info.shape, data: info.name.endsWith('.bias') ? new Float32Array(data.length) : data });
    }
    await source.close();
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    copyFileSync(join(FIXTURE, 'config.json'), join(dir, 'config.json'));
    ({ checkpoint, model } = await loadModel(join(dir, 'model.safetensors')));
  });
  after(async () => {
    model.dispose();
    await checkpoint.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const rule of ['epsilon', 'zplus', 'gamma'] as const) {
    test(`every bias term is exactly 0, and with eps 0 so is every eps term: ${rule}`, async () => {
      const r = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, rule, epsilon: 0 });
      assertAccountAddsUp(r, rule);
      for (const s of r.conservation) {
        assert.equal(s.bias, 0, `${s.stage}: ${JSON.stringify(s.biases)}`);
        assert.equal(s.epsilon, 0, s.stage);
      }
      assert.ok(Math.abs(r.accounting.remainder) <= 1e-5 * Math.abs(r.start));
      // With eps > 0 the stabilisers absorb something, still no bias.
      const stabilised = await relevanceOf(model, ids, { kind: 'next-token' }, { ...DEFAULT_RELEVANCE_OPTIONS, rule, epsilon: 0.01 });
      assertAccountAddsUp(stabilised, `${rule}, eps 0.01`);
      assert.equal(stabilised.accounting.bias, 0);
      assert.notEqual(stabilised.accounting.epsilon, 0);
    });
  }
});
