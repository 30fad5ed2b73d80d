/**
 * Checkpoints of the other implementations in a real VS Code (code-server), driven with
 * Playwright: the GrassLM fixture opens in the checkpoint editor, whose Overview names GrassLM
 * and draws its block layout (post-norm, no residual around the mixing); a text run on the Run
 * tab gives the gate openness and plane areas the CLI's `features --json` prints for it (same
 * backend, within 1e-9 relative). The LMConfig fixture's Overview shows its layout, its Gates
 * view says why there is no h share (the mixing returns α⊙g), and without its config.json the
 * assumed lines are marked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import type { InspectReport } from '../../src/core/inspect';
import type { FeaturesReport } from '../../src/core/features';
import {
  activeWebview, checkPrerequisites, closeScenario, type CodeServer, makeWorkspace, openQuick, openScenarioPage, repoRoot,
  runCommand, startCodeServer, timed, UI_TIMEOUT_MS,
} from './harness';

const SCENARIO = 'implementations';
const SENTENCE = 'the licensor grants you a worldwide, royalty-free license to use the software';
/** Past the largest GrassLM offset (8): every layer has a plane there. */
const POSITION = 10;

describe('Other implementations in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  const timings = new Map<string, number>();
  const measured: Record<string, unknown> = {};

  const grasslm = () => join(workspace, 'implementations', 'grasslm-tiny', 'checkpoints', 'best_model.pt');
  // Renamed in the copy so that Quick Open finds it alone (best_model.pt also matches "model.pt").
  const lmconfig = () => join(workspace, 'implementations', 'lifting-postnorm', 'checkpoints', 'lmconfig.pt');
  // The same checkpoint without config.json or tokenizer beside it: windows and pre_norm assumed.
  const bare = () => join(workspace, 'bare', 'lmconfig-bare.pt');

  before(async () => {
    checkPrerequisites();
    workspace = makeWorkspace(SCENARIO);
    cpSync(join(repoRoot, 'test', 'fixtures', 'implementations'), join(workspace, 'implementations'), { recursive: true });
    const lifting = join(workspace, 'implementations', 'lifting-postnorm', 'checkpoints');
    copyFileSync(join(lifting, 'model.pt'), lmconfig());
    mkdirSync(join(workspace, 'bare'));
    copyFileSync(join(lifting, 'model.pt'), bare());
    server = await timed('code-server start', timings, () => startCodeServer({ name: SCENARIO, installExtension: true }));
    ({ browser, page } = await openScenarioPage(server, workspace, timings));
  });

  after(async () => {
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings, extra: { measured } });
  });

  const webview = (): FrameLocator => activeWebview(page);
  const tab = (view: string) => webview().locator(`vscode-tab-header[data-view="${view}"]`);

  /**
   * The CLI's JSON for the same file, with the extension's native-modules folder (set by the
   * harness), so that it picks the same compute backend as the editor.
   */
  function cli<T>(...args: string[]): T {
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli.js'), ...args, '--json'], {
      encoding: 'utf8', maxBuffer: 256 << 20, timeout: 120_000,
      env: { ...process.env, GRASSMANN_LENS_NATIVE_DIR: join(server.home, 'native') },
    });
    if (r.status !== 0) throw new Error(`grassmann-lens ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  async function shot(name: string, part?: string): Promise<void> {
    const dir = join(repoRoot, 'test-results', 'e2e', SCENARIO);
    mkdirSync(dir, { recursive: true });
    if (part) await webview().locator(part).screenshot({ path: join(dir, `${name}.png`) });
    else await page.screenshot({ path: join(dir, `${name}.png`) });
  }

  async function closeAllEditors(): Promise<void> {
    await runCommand(page, 'View: Close All Editors');
    await page.locator('.editor-group-container .tabs-container .tab').first().waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  }

  /** Opens a checkpoint in its default editor (the checkpoint editor) and returns the Overview's summary text. */
  async function openOverview(fileName: string): Promise<string> {
    await openQuick(page, fileName);
    const summary = webview().locator('#summary');
    await summary.waitFor({ timeout: UI_TIMEOUT_MS });
    await webview().locator('#architecture svg').waitFor({ timeout: UI_TIMEOUT_MS });
    return summary.innerText();
  }

  async function runSentence(layers: number): Promise<void> {
    await tab('run').click();
    await webview().locator('#run-text').click();
    await page.keyboard.type(SENTENCE);
    await webview().locator('#run-button').click();
    await webview().locator('#run-summary', { hasText: `features of ${layers} layers` }).waitFor({ timeout: UI_TIMEOUT_MS });
  }

  /** The exact values (data-value) of the token tooltip of `t`: gate openness per layer, plane area per layer and offset. */
  async function tooltipValues(t: number, layers: number): Promise<{ gates: number[]; areas: Map<string, number> }> {
    await webview().locator(`#token-strip .token[data-t="${t}"]`).hover();
    const tooltip = webview().locator('#token-tooltip');
    await tooltip.locator(`rect.gate-bar[data-layer="${layers - 1}"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    const gates = await tooltip.locator('rect.gate-bar').evaluateAll((bars) => bars.map((b) => [Number(b.getAttribute('data-layer')), Number(b.getAttribute('data-value'))]));
    const areas = await tooltip.locator('rect.area-cell').evaluateAll((cells) => cells.map((c) => [`${c.getAttribute('data-layer')}/${c.getAttribute('data-offset')}`, Number(c.getAttribute('data-value'))] as const));
    const byLayer: number[] = [];
    for (const [l, v] of gates) byLayer[l] = v;
    return { gates: byLayer, areas: new Map(areas) };
  }

  const relClose = (shown: number, want: number, what: string) =>
    assert.ok(Math.abs(shown - want) <= 1e-9 * Math.max(Math.abs(want), 1e-300), `${what}: editor ${shown} vs CLI ${want} (relative ${Math.abs(shown - want) / Math.abs(want)})`);

  it('GrassLM: the Overview names the implementation and draws its block (post-norm, no residual around the mixing)', async () => {
    const expected = cli<InspectReport>('inspect', grasslm());
    assert.equal(expected.implementation?.label, 'GrassLM');
    const text = await timed('overview best_model.pt', timings, () => openOverview('best_model.pt'));
    assert.match(text, /Architecture\s+GrassmannGPT/);
    assert.match(text, /Implementation\s+GrassLM \(built-in description\)/);
    assert.deepEqual(await webview().locator('#summary-layout .layout-line').allInnerTexts(), expected.layout);
    assert.equal(await webview().locator('#summary-assumed').count(), 0, 'nothing assumed: the checkpoint saves its config');
    const svg = webview().locator('#architecture svg');
    assert.equal(await svg.getAttribute('data-layout'), 'post-norm-no-mix-residual');
    assert.match((await svg.getAttribute('aria-label')) ?? '', /^GrassLM architecture: 4 post-norm blocks without a residual around the mixing/);
    assert.equal(await svg.locator('g.part[data-part="add-mix"]').count(), 0, 'no ⊕ around the mixing');
    assert.equal(await svg.locator('g.part[data-part="mix-norm"]').count(), 0, 'no LayerNorm inside the mixing');
    assert.equal(await svg.locator('g.part[data-part="ln-a"] .box-title').textContent(), "LayerNorm LN_a → x' = LN_a(Mix(x))");
    assert.deepEqual(await svg.locator('g.residual').evaluateAll((gs) => gs.map((g) => `${g.getAttribute('data-from')}>${g.getAttribute('data-to')}`)), ['ffn>add-ffn']);
    await shot('a-grasslm-overview');
    await shot('a-grasslm-summary', '#summary');
    await shot('a-grasslm-architecture', '#architecture');
  });

  it('GrassLM: a text run on the Run tab gives the gate openness and plane areas of `features --json` (same backend, 1e-9 relative)', async () => {
    const expected = cli<FeaturesReport>('features', grasslm(), '--text', SENTENCE);
    await timed('run a sentence (GrassLM)', timings, () => runSentence(4));
    assert.deepEqual(await webview().locator('#token-strip .token').allInnerTexts(), expected.tokens.map((t) => t.text));
    assert.match(await webview().locator('#run-summary').innerText(), new RegExp(`backend ${expected.backend} `), 'the editor and the CLI run on the same backend');
    const shown = await timed('token tooltip (GrassLM)', timings, () => tooltipValues(POSITION, 4));
    let compared = 0;
    let worst = 0;
    for (const layer of expected.layers) {
      relClose(shown.gates[layer.layer], layer.alphaMean[POSITION], `gate openness at ${POSITION}, layer ${layer.layer}`);
      worst = Math.max(worst, Math.abs(shown.gates[layer.layer] - layer.alphaMean[POSITION]) / Math.abs(layer.alphaMean[POSITION]));
      compared++;
      for (const o of layer.offsets) {
        const i = o.positions.indexOf(POSITION);
        if (i < 0) continue;
        const area = shown.areas.get(`${layer.layer}/${o.offset}`);
        assert.ok(area !== undefined, `the tooltip has the area of layer ${layer.layer}, offset ${o.offset}`);
        relClose(area, o.area[i], `plane area at ${POSITION}, layer ${layer.layer}, offset ${o.offset}`);
        worst = Math.max(worst, Math.abs(area - o.area[i]) / Math.abs(o.area[i]));
        compared++;
      }
    }
    // one offset per block: [1], [2], [4], [8]
    assert.deepEqual([...shown.areas.keys()].sort(), ['0/1', '1/2', '2/4', '3/8']);
    measured.grasslm = { backend: expected.backend, position: POSITION, valuesCompared: compared, worstRelativeDifference: worst };
    await shot('b-grasslm-tooltip');
    await page.mouse.move(5, 5);
    await tab('gates').click();
    await webview().locator('#blend-chart svg image').waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(await webview().locator('#blend-note').count(), 0, 'GrassLM blends h and g: the h share is plotted');
    await shot('b-grasslm-gates');
    await closeAllEditors();
  });

  it('LMConfig: the Overview draws post-norm with α⊙g; the Gates view says why no h share; without config.json the assumed lines are marked', async () => {
    const expected = cli<InspectReport>('inspect', lmconfig());
    const text = await timed('overview lmconfig.pt', timings, () => openOverview('lmconfig.pt'));
    assert.match(text, /Implementation\s+LMConfig Grassmann reproduction \(built-in description\)/);
    assert.deepEqual(await webview().locator('#summary-layout .layout-line').allInnerTexts(), expected.layout);
    const svg = webview().locator('#architecture svg');
    assert.equal(await svg.getAttribute('data-layout'), 'post-norm');
    assert.equal(await svg.locator('g.part[data-part="mix"] .box-title').textContent(), 'mixing output Mix(x) = α⊙g');
    assert.equal(await svg.locator('g.part[data-part="aggregate"] .box-title').textContent(), 'mean of p̂ over the valid offsets, then W_plu → g');
    assert.deepEqual(await svg.locator('g.residual').evaluateAll((gs) => gs.map((g) => `${g.getAttribute('data-from')}>${g.getAttribute('data-to')}`)), ['reduce>add-mix', 'ffn>add-ffn']);
    await shot('c-lmconfig-architecture', '#architecture');

    const features = cli<FeaturesReport>('features', lmconfig(), '--text', SENTENCE);
    await timed('run a sentence (LMConfig)', timings, () => runSentence(3));
    await tab('gates').click();
    await webview().locator('#gates-chart svg image').waitFor({ timeout: UI_TIMEOUT_MS });
    const note = webview().locator('#blend-note');
    await note.waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(await note.getAttribute('data-gating'), 'gated-geometry');
    assert.match(await note.innerText(), /returns α⊙g.*0 by definition/);
    assert.equal(await webview().locator('#blend-chart').count(), 0);
    assert.match(await webview().locator('#gates-readout').innerText(), /1: the mixing passes the Grassmann features g; 0: it passes nothing/);
    const shown = await tooltipValues(POSITION, 3);
    for (const layer of features.layers) relClose(shown.gates[layer.layer], layer.alphaMean[POSITION], `LMConfig gate openness at ${POSITION}, layer ${layer.layer}`);
    await shot('c-lmconfig-gates');
    await page.mouse.move(5, 5);
    await closeAllEditors();

    const bareReport = cli<InspectReport>('inspect', bare());
    assert.ok((bareReport.assumed ?? []).length >= 2, 'windows and pre_norm are assumed');
    await timed('overview lmconfig-bare.pt', timings, () => openOverview('lmconfig-bare.pt'));
    const lines = webview().locator('#summary-assumed li');
    assert.deepEqual((await lines.allInnerTexts()).map((s) => s.replace(/\s+/g, ' ')), bareReport.assumed!.map((a) => `assumed ${a}`.replace(/\s+/g, ' ')));
    assert.equal(await webview().locator('#summary-assumed li em.assumed').count(), bareReport.assumed!.length, 'every assumed line is marked');
    // the windows row marks its "(assumed)" the same way
    assert.equal(await webview().locator('#summary td em.assumed').count(), bareReport.assumed!.length + 1);
    await shot('d-bare-summary', '#summary');
    await shot('d-bare-overview');
    await closeAllEditors();
  });

  it('alphaXiv: the Overview still draws pre-norm with the mixing\'s own LayerNorm and both residuals', async () => {
    const text = await timed('overview best.pt', timings, () => openOverview('best.pt'));
    assert.match(text, /Implementation\s+GrassmannGPT \(alphaXiv reproduction\) \(built-in description\)/);
    const svg = webview().locator('#architecture svg');
    assert.equal(await svg.getAttribute('data-layout'), 'pre-norm');
    assert.equal(await svg.locator('g.part[data-part="mix-norm"]').count(), 1);
    assert.equal(await svg.locator('g.part[data-part="reduce"] .box-title').textContent(), 'W_red: z = W_red h + b');
    assert.deepEqual(await svg.locator('g.residual').evaluateAll((gs) => gs.map((g) => `${g.getAttribute('data-from')}>${g.getAttribute('data-to')}`)), ['ln-a>add-mix', 'ln-f>add-ffn']);
    await shot('e-alphaxiv-architecture', '#architecture');
  });
});
