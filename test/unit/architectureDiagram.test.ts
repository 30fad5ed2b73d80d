/**
 * The Overview's architecture diagram (webview/views/architecture.ts) and the summary rows
 * (src/core/reportText.ts) follow each implementation's block layout: where the LayerNorms
 * sit, the residuals, what the mixing returns, the aggregation, and what was assumed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectCheckpoint, type InspectReport } from '../../src/core/inspect';
import { inspectReportText, summaryRows } from '../../src/core/reportText';
import { architectureDiagram } from '../../webview/views/architecture';

const FIXTURES = join(__dirname, '..', 'fixtures');
const ALPHAXIV = join(FIXTURES, 'tiny-grassmann', 'checkpoints', 'best.pt');
const GRASSLM = join(FIXTURES, 'implementations', 'grasslm-tiny', 'checkpoints', 'best_model.pt');
const LMCONFIG = join(FIXTURES, 'implementations', 'lifting-postnorm', 'checkpoints', 'model.pt');

/** The block's parts, top to bottom, and its residuals as "from>to" part ids. */
function shape(report: InspectReport): { parts: string[]; residuals: string[] } {
  const diagram = architectureDiagram(report);
  return {
    parts: diagram.block.map((p) => p.id),
    residuals: diagram.residuals.map((r) => `${diagram.block[r.from].id}>${diagram.block[r.to].id}`),
  };
}

const titleOf = (report: InspectReport, id: string): string => {
  const d = architectureDiagram(report);
  return [...d.outer, ...d.block, ...d.tail].find((p) => p.id === id)!.title;
};
const dimsOf = (report: InspectReport, id: string): string => {
  const d = architectureDiagram(report);
  return [...d.outer, ...d.block, ...d.tail].find((p) => p.id === id)!.dims;
};

describe('architecture diagram per implementation', () => {
  let alphaxiv: InspectReport;
  let grasslm: InspectReport;
  let lmconfig: InspectReport;
  let bare: InspectReport;
  let folder: string;

  before(async () => {
    [alphaxiv, grasslm, lmconfig] = await Promise.all([ALPHAXIV, GRASSLM, LMCONFIG].map((p) => inspectCheckpoint(p)));
    // The LMConfig checkpoint without its config.json: the windows and pre_norm are assumed.
    folder = mkdtempSync(join(tmpdir(), 'gl-arch-'));
    copyFileSync(LMCONFIG, join(folder, 'model.pt'));
    bare = await inspectCheckpoint(join(folder, 'model.pt'));
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  test('alphaXiv: pre-norm, LayerNorm inside the mixing, blend, residuals around the mixing and the FFN', () => {
    assert.deepEqual(shape(alphaxiv), {
      parts: ['ln-a', 'reduce', 'planes', 'aggregate', 'gate', 'mix', 'mix-norm', 'add-mix', 'ln-f', 'ffn', 'add-ffn'],
      residuals: ['ln-a>add-mix', 'ln-f>add-ffn'],
    });
    assert.equal(titleOf(alphaxiv, 'reduce'), 'W_red: z = W_red h + b');
    assert.equal(titleOf(alphaxiv, 'mix'), 'mixing output α⊙h + (1 − α)⊙g');
    assert.match(titleOf(alphaxiv, 'aggregate'), /^W_plu p̂ \+ b_plu per offset, mean/);
    assert.match(titleOf(alphaxiv, 'planes'), /max\(‖p‖, 1e-8\)/);
    assert.match(dimsOf(alphaxiv, 'ln-a'), /· ln1$/);
    assert.match(dimsOf(alphaxiv, 'mix-norm'), /· grassmann\.layer_norm$/);
    assert.match(dimsOf(alphaxiv, 'ffn'), /· ffn\.0, ffn\.3$/);
  });

  test('GrassLM: post-norm without a residual around the mixing, no LayerNorm inside it', () => {
    assert.deepEqual(shape(grasslm), {
      parts: ['reduce', 'planes', 'aggregate', 'gate', 'mix', 'ln-a', 'ffn', 'add-ffn', 'ln-f'],
      residuals: ['ffn>add-ffn'],
    });
    assert.equal(titleOf(grasslm, 'ln-a'), "LayerNorm LN_a → x' = LN_a(Mix(x))");
    assert.match(dimsOf(grasslm, 'ln-a'), /no residual around the mixing/);
    assert.equal(titleOf(grasslm, 'mix'), 'mixing output Mix(x) = α⊙x + (1 − α)⊙g');
    assert.match(dimsOf(grasslm, 'planes'), /per block 0: \[1\]; 1: \[2\]; 2: \[4\]; 3: \[8\]/);
    assert.match(architectureDiagram(grasslm).title, /^GrassLM architecture: 4 post-norm blocks without a residual around the mixing/);
  });

  test('LMConfig: post-norm, mixing output α⊙g, mean of p̂ then W_plu, eps 1e-6', () => {
    assert.deepEqual(shape(lmconfig), {
      parts: ['reduce', 'planes', 'aggregate', 'gate', 'mix', 'add-mix', 'ln-a', 'ffn', 'add-ffn', 'ln-f'],
      residuals: ['reduce>add-mix', 'ffn>add-ffn'],
    });
    assert.equal(titleOf(lmconfig, 'mix'), 'mixing output Mix(x) = α⊙g');
    assert.match(dimsOf(lmconfig, 'mix'), /x reaches the output only through the gate/);
    assert.equal(titleOf(lmconfig, 'aggregate'), 'mean of p̂ over the valid offsets, then W_plu → g');
    assert.match(dimsOf(lmconfig, 'aggregate'), /g = b_plu where no offset is valid · attention\.expand$/);
    assert.match(titleOf(lmconfig, 'planes'), /max\(‖p‖, 1e-6\)/);
    assert.match(dimsOf(lmconfig, 'ln-a'), /· attention_norm$/);
    assert.match(dimsOf(lmconfig, 'final-norm'), /· output_norm$/);
  });

  test('the summary names the implementation, lists the block lines and every assumed line', () => {
    const rows = new Map(summaryRows(grasslm));
    assert.equal(rows.get('Implementation'), 'GrassLM (built-in description)');
    assert.deepEqual(rows.get('Block')!.split('\n'), grasslm.layout);
    assert.equal(rows.has('Assumed'), false);
    const assumed = new Map(summaryRows(bare)).get('Assumed')!.split('\n');
    assert.deepEqual(assumed, bare.assumed);
    assert.ok(assumed.length >= 2, `windows and pre_norm assumed: ${assumed.join(' | ')}`);
    const text = inspectReportText(bare);
    assert.match(text, /^Implementation: LMConfig Grassmann reproduction \(built-in description\)$/m);
    assert.match(text, /^Block:\n {2}post-norm: x' = LN_a\(x \+ Mix\(x\)\)/m);
    for (const a of bare.assumed!) assert.ok(text.includes(`  (assumed) ${a}`), a);
    // a description file is named
    const described = { ...grasslm, implementation: { id: 'mine', label: 'My GrassLM', source: '/x/grassmann-lens.arch.json' } };
    assert.equal(new Map(summaryRows(described)).get('Implementation'), 'My GrassLM — described by /x/grassmann-lens.arch.json');
    // no tensor names from a description file (its templates are not in the report)
    assert.doesNotMatch(dimsOf(described, 'ln-a'), /·/);
  });
});
