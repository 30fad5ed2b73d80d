/**
 * Pruning by explaining (src/pruning): unit selection, the pruned state dicts, the sweep's
 * numbers against `eval` on the files it wrote, mask = structural, PyTorch's strict
 * load_state_dict of the mask .pt, cancellation and the CLI.
 *
 * Tolerances: perplexities of the same function computed from two checkpoints (mask and
 * structural) agree to 1e-4 relative (float32 sums in another order); a step's perplexity and
 * `eval` on its written checkpoint are the same computation and must be equal exactly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { evaluateFile } from '../../src/core/evaluate';
import { OperationCancelled } from '../../src/core/cancellation';
import { selectUnits } from '../../src/pruning/apply';
import { pruneSweep } from '../../src/pruning/sweep';
import type { PruneReport } from '../../src/relevance/types';
import { NO_TORCH, TORCH_PYTHON } from '../support/torchPython';

const root = join(__dirname, '..', '..');
const tiny = join(root, 'test/fixtures/tiny-grassmann');
const best = join(tiny, 'checkpoints/best.pt');
const evalText = join(tiny, 'eval.txt');
const tmp = mkdtempSync(join(tmpdir(), 'gl-prune-'));
// A shorter held-out text keeps the sweeps quick: the first 3000 characters of eval.txt.
const data = join(tmp, 'heldout.txt');
writeFileSync(data, readFileSync(evalText, 'utf8').slice(0, 3000));

before(async () => {
  await tf.setBackend('cpu');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('selectUnits', () => {
  const units = [[0, 1, 2, 3], [0, 1, 2, 3]];
  const scores = [Float64Array.from([0.4, 0.1, 0.3, 0.2]), Float64Array.from([0.05, 0.5, 0.25, 0.2])];
  test('global: the lowest scores across layers', () => {
    assert.deepEqual(selectUnits(units, scores, 0.375, 'global', 'ffn').map((u) => [u.layer, u.index]), [[0, 1], [0, 3], [1, 0]]); // 0.2 ties: the lower layer goes first
  });
  test('per layer: the same fraction of each layer', () => {
    assert.deepEqual(selectUnits(units, scores, 0.5, 'per-layer', 'ffn').map((u) => [u.layer, u.index]), [[0, 1], [0, 3], [1, 0], [1, 3]]);
  });
  test('a layer keeps its minimum (two reduced dimensions span a plane)', () => {
    const removed = selectUnits(units, scores, 0.9, 'global', 'reduced');
    assert.equal(removed.length, 4); // 2 per layer at most
    assert.deepEqual([0, 1].map((l) => removed.filter((u) => u.layer === l).length), [2, 2]);
  });
});

describe('a sweep on the fixture', () => {
  let structural: PruneReport;
  let mask: PruneReport;
  const common = { checkpoint: best, data, criteria: ['lrp' as const, 'magnitude' as const], rates: [0.2, 0.5], referenceSamples: 2, seqLen: 64 };
  before(async () => {
    structural = await pruneSweep({ ...common, units: 'reduced', mode: 'structural', out: join(tmp, 'structural') });
    mask = await pruneSweep({ ...common, units: 'reduced', mode: 'mask', out: join(tmp, 'mask') });
  });

  test('writes pruning.json and one folder per criterion and rate', () => {
    assert.deepEqual(readdirSync(join(tmp, 'structural')).sort(), ['lrp-0.2', 'lrp-0.5', 'magnitude-0.2', 'magnitude-0.5', 'pruning.json']);
    const saved = JSON.parse(readFileSync(join(tmp, 'structural', 'pruning.json'), 'utf8')) as PruneReport;
    assert.deepEqual(saved.steps.map((s) => s.perplexity), structural.steps.map((s) => s.perplexity));
    assert.deepEqual(readdirSync(join(tmp, 'mask', 'lrp-0.2')).sort(), ['config.json', 'model.pt', 'model.safetensors', 'pruning.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
    // 20% of 4 x 16 reduced dimensions.
    assert.equal(structural.steps[0].removed.length, 13);
    const config = JSON.parse(readFileSync(join(tmp, 'structural', 'lrp-0.2', 'config.json'), 'utf8'));
    assert.deepEqual(config.layers.map((l: { reduced_dim: number }) => l.reduced_dim), structural.steps[0].remaining);
  });

  test("each step's perplexity is eval on the checkpoint it wrote", async () => {
    for (const step of [structural.steps[1], structural.steps[3], mask.steps[2]]) {
      const e = await evaluateFile(join(step.output, 'model.safetensors'), { data, seqLen: 64 });
      assert.equal(e.perplexity, step.perplexity, step.output);
      assert.equal(e.accuracy, step.accuracy, step.output);
    }
  });

  test('mask and structural checkpoints compute the same model; pruning costs perplexity', () => {
    structural.steps.forEach((s, i) => {
      const m = mask.steps[i];
      assert.deepEqual(m.removed, s.removed);
      assert.ok(Math.abs(m.perplexity - s.perplexity) <= 1e-4 * s.perplexity, `${s.criterion} ${s.rate}: ${m.perplexity} vs ${s.perplexity}`);
    });
    // Removing half of z costs more than removing a fifth, for each criterion.
    assert.ok(structural.steps[1].perplexity > structural.steps[0].perplexity);
    assert.ok(structural.steps[3].perplexity > structural.steps[2].perplexity);
    assert.ok(structural.steps.every((s) => s.perplexity > structural.baseline.perplexity * 0.99));
  });

  test('a cancelled sweep leaves no output behind', async () => {
    const out = join(tmp, 'cancelled');
    let calls = 0;
    const cancellation = {
      get cancelled() {
        return calls > 3;
      },
      progress: () => {
        calls++;
      },
    };
    await assert.rejects(pruneSweep({ ...common, units: 'ffn', out }, cancellation), OperationCancelled);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(tmp).filter((n) => n.includes('partial')), []);
  });
});


// Builds a module tree with exactly the parameters and buffers of the original training
// checkpoint (best.pt's model_state_dict: names, shapes, dtypes) and loads our mask .pt into it
// with load_state_dict(strict=True), as the original training code would. The mask .pt is saved
// like best.pt: {epoch, val_loss, val_ppl, model_state_dict} (no optimizer state).
const PY_STRICT_LOAD = `
import sys, json, torch
source = torch.load(sys.argv[1], map_location='cpu')
orig = source['model_state_dict']
saved = torch.load(sys.argv[2], map_location='cpu')
class Node(torch.nn.Module):
    pass
root = Node()
for name, t in orig.items():
    *path, leaf = name.split('.')
    m = root
    for part in path:
        if not hasattr(m, part):
            m.add_module(part, Node())
        m = getattr(m, part)
    if t.dtype.is_floating_point:
        m.register_parameter(leaf, torch.nn.Parameter(torch.zeros_like(t)))
    else:
        m.register_buffer(leaf, torch.zeros_like(t))
ours = saved['model_state_dict']
result = root.load_state_dict(ours, strict=True)
state = root.state_dict()
print(json.dumps({
  'keys': list(ours.keys()) == list(orig.keys()) or sorted(ours.keys()) == sorted(orig.keys()),
  'zero_rows': [int(i) for i in (state['blocks.0.grassmann.W_red.weight'].abs().sum(1) == 0).nonzero().flatten()],
  'idx_equal': bool(torch.equal(state['blocks.0.grassmann.plucker.idx_i'], orig['blocks.0.grassmann.plucker.idx_i'])),
  'untouched_equal': bool(torch.equal(state['blocks.1.ffn.0.weight'], orig['blocks.1.ffn.0.weight'])),
  'wrapper': sorted(saved.keys()),
  'metadata_equal': all(saved[k] == source[k] for k in ('epoch', 'val_loss', 'val_ppl')),
}))
`;

test('PyTorch loads the mask .pt into the original module layout with strict load_state_dict', { skip: NO_TORCH }, async () => {
  const out = join(tmp, 'mask-torch');
  const report = await pruneSweep({ checkpoint: best, data, criteria: ['magnitude'], rates: [0.25], units: 'reduced', mode: 'mask', referenceSamples: 1, seqLen: 64, out });
  const step = report.steps[0];
  const loaded = JSON.parse(execFileSync(TORCH_PYTHON!, ['-c', PY_STRICT_LOAD, best, join(step.output, 'model.pt')], { encoding: 'utf8', timeout: 300_000 }));
  assert.equal(loaded.keys, true);
  assert.deepEqual(loaded.zero_rows, step.removed.filter((u) => u.layer === 0).map((u) => u.index));
  assert.equal(loaded.idx_equal, true);
  assert.equal(loaded.untouched_equal, true);
  assert.deepEqual(loaded.wrapper, ['epoch', 'model_state_dict', 'val_loss', 'val_ppl']);
  assert.equal(loaded.metadata_equal, true);
});

describe('CLI', () => {
  const cli = join(root, 'dist', 'cli.js');
  const gl = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000 });

  test('prune --json: the report, and the same numbers as eval on a written step', () => {
    const out = join(tmp, 'cli');
    const r = gl('prune', best, '--data', data, '--criterion', 'taylor', '--criterion', 'random', '--units', 'windows', '--rates', '0.25', '--reference-samples', '1', '--seq-len', '64', '--out', out, '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as PruneReport;
    assert.deepEqual(report.steps.map((s) => s.criterion), ['taylor', 'random']);
    assert.equal(report.steps[0].removed.length, 6); // 25% of 4 layers x 6 offsets
    const e = gl('eval', join(report.steps[0].output, 'model.safetensors'), '--data', data, '--seq-len', '64', '--json');
    assert.equal(e.status, 0, e.stderr);
    assert.equal(JSON.parse(e.stdout).perplexity, report.steps[0].perplexity);
  });

  test('usage errors: mask mode cannot remove window offsets; magnitude has no windows', () => {
    const mask = gl('prune', best, '--data', data, '--units', 'windows', '--mode', 'mask');
    assert.equal(mask.status, 2);
    assert.match(mask.stderr, /window offsets have no weights/);
    const magnitude = gl('prune', best, '--data', data, '--units', 'windows', '--criterion', 'magnitude');
    assert.equal(magnitude.status, 2);
    assert.match(magnitude.stderr, /magnitude does not apply to window offsets/);
    const rate = gl('prune', best, '--data', data, '--rates', '0.3,1.5');
    assert.equal(rate.status, 2);
    assert.match(rate.stderr, /rate 1.5 must be between 0 and 1/);
  });

  test('relevance --json: conservation report and per-token relevance', () => {
    const r = gl('relevance', best, '--text', 'you have the freedom to distribute copies', '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.tokens.length, report.tokens_text.length);
    assert.deepEqual(report.conservation.map((s: { stage: string }) => s.stage), ['head', 'layer 3', 'layer 2', 'layer 1', 'layer 0', 'embeddings']);
    const missing = gl('relevance', join(tmp, 'nope.pt'), '--text', 'x');
    assert.equal(missing.status, 1);
  });
});
