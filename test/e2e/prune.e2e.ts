/**
 * "Grassmann Lens: Prune by Explanation…" in a real VS Code (code-server), driven with Playwright:
 * the palette flow on the fixture with a separate reference text (it scores the units; the
 * evaluation text is another file), the report webview's numbers against the CLI's
 * `prune --json` for the same parameters (perplexity, accuracy and their 95% bootstrap intervals,
 * ΔNLL, the bands of the charts, the separability of the criteria), the files written, opening a
 * pruned checkpoint, the removed units lowest score first as the caption says, the pickers
 * (no reference dumps, no tokenizer files) and cancelling a sweep from its progress notification
 * (nothing is left behind).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { splitReference } from '../../src/pruning/heldOut';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import type { PruneReport } from '../../src/relevance/types';
import { ComputeClient } from '../../src/worker/client';
import { formatCount } from '../../src/core/reportText';
import { formatNumber } from '../../webview/format';
import {
  checkPrerequisites, closeScenario, type CodeServer, makeWorkspace, openScenarioPage, repoRoot, runCommand, screenshot,
  startCodeServer, timed, UI_TIMEOUT_MS,
} from './harness';

const SCENARIO = 'prune';
const COMMAND = 'Grassmann Lens: Prune by Explanation…';

describe('Prune by Explanation in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  let cliOut: string;
  let reference: ComputeClient;
  const timings = new Map<string, number>();

  before(async () => {
    checkPrerequisites();
    workspace = makeWorkspace(SCENARIO);
    // Held out: eval.txt split in two files, the start scores the units, the rest evaluates.
    const parts = splitReference(readFileSync(join(workspace, 'tiny-grassmann', 'eval.txt'), 'utf8'), 0.25);
    mkdirSync(join(workspace, 'tiny-grassmann', 'heldout'));
    writeFileSync(referenceFile(), parts.reference);
    writeFileSync(evaluationFile(), parts.evaluation);
    cliOut = mkdtempSync(join(tmpdir(), 'gl-e2e-prune-cli-'));
    server = await timed('code-server start', timings, () => startCodeServer({
      name: SCENARIO,
      installExtension: true,
      settings: { 'grassmannLens.prune.referenceSamples': 2 },
    }));
    reference = new ComputeClient({ workerPath: join(repoRoot, 'dist', 'worker.js'), nativeModulesDir: join(server.home, 'native') });
    ({ browser, page } = await openScenarioPage(server, workspace, timings));
  });

  after(async () => {
    await reference?.dispose();
    if (cliOut) rmSync(cliOut, { recursive: true, force: true });
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings });
  });

  const quick = () => page.locator('.quick-input-widget');
  const checkpoints = () => join(workspace, 'tiny-grassmann', 'checkpoints');
  const referenceFile = () => join(workspace, 'tiny-grassmann', 'heldout', 'reference.txt');
  const evaluationFile = () => join(workspace, 'tiny-grassmann', 'heldout', 'evaluation.txt');

  async function waitForStep(k: number): Promise<void> {
    await quick().locator('.quick-input-title', { hasText: `Prune by Explanation (${k}/8)` }).waitFor({ timeout: UI_TIMEOUT_MS });
  }

  /** Step k is a quick pick: filter by `filter` and click the row showing `text`. */
  async function pick(k: number, text: string, filter?: string): Promise<void> {
    await waitForStep(k);
    if (filter) await quick().locator('input').first().fill(filter);
    await quick().locator('.monaco-list-row', { hasText: text }).first().click({ timeout: UI_TIMEOUT_MS });
  }

  /** Step k is an input box: replace its value (when given) and accept. */
  async function answer(k: number, value?: string): Promise<string> {
    await waitForStep(k);
    const input = quick().locator('input').first();
    if (value !== undefined) await input.fill(value);
    const accepted = await input.inputValue();
    await page.keyboard.press('Enter');
    return accepted;
  }

  /** Criteria (step 5, multi-select with lrp, magnitude and taylor checked): leaves exactly `wanted` checked. */
  async function chooseCriteria(wanted: string[]): Promise<void> {
    await waitForStep(5);
    const rows = quick().locator('.monaco-list-row');
    await rows.first().waitFor({ timeout: UI_TIMEOUT_MS });
    for (const name of ['lrp', 'magnitude', 'taylor', 'gradient', 'wina', 'random']) {
      const row = rows.filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${name}$`) }) }).first();
      if ((await row.count()) === 0) continue;
      const checked = (await row.getAttribute('aria-checked')) === 'true';
      if (checked !== wanted.includes(name)) {
        await row.click();
        await row.and(page.locator(`[aria-checked="${!checked}"]`)).waitFor({ timeout: UI_TIMEOUT_MS });
      }
    }
    await quick().locator('input').first().focus();
    await page.keyboard.press('Enter');
  }

  /** The innermost frame of a webview that shows `selector` (several webviews may be open). */
  async function frameWith(selector: string): Promise<Frame> {
    const deadline = Date.now() + UI_TIMEOUT_MS;
    for (;;) {
      for (const f of page.frames()) {
        if (await f.locator(selector).count().catch(() => 0)) return f;
      }
      if (Date.now() > deadline) assert.fail(`no webview shows ${selector}`);
      await page.waitForTimeout(250);
    }
  }

  function cliPrune(criteria: string[], rates: number[]): PruneReport {
    const out = join(cliOut, `${criteria.join('-')}`);
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli.js'), 'prune', join(checkpoints(), 'best.pt'),
      '--data', evaluationFile(), '--reference', referenceFile(), '--criterion', criteria.join(','), '--rates', rates.join(','),
      '--units', 'ffn', '--mode', 'structural', '--reference-samples', '2', '--out', out, '--json'],
    // the extension's worker sees the private native-modules folder of the harness: the CLI too
    { encoding: 'utf8', env: { ...process.env, GRASSMANN_LENS_NATIVE_DIR: join(server.home, 'native') }, timeout: 300_000 });
    assert.equal(r.status, 0, `CLI prune failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as PruneReport;
  }

  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  /** d3.format('.4~g') (the webview's formatValue): 4 significant digits, trailing zeros trimmed, a U+2212 minus sign. */
  /** The webviews' one number formatter (webview/format.ts): 4 significant digits, − for negatives, an exponent below 1e-3. */
  const g4 = (v: number): string => formatNumber(v);
  const signedG4 = (v: number): string => `${v >= 0 ? '+' : ''}${g4(v)}`;

  it('runs the palette flow on best.pt with a separate reference text: the report equals the CLI, the files are written, a pruned checkpoint opens', async () => {
    const expected = cliPrune(['lrp', 'magnitude'], [0.1, 0.3]);
    const out = join(workspace, 'tiny-grassmann', 'best-pruned');
    await timed('palette flow', timings, async () => {
      await runCommand(page, COMMAND);
      await pick(1, 'tiny-grassmann/checkpoints/best.pt', 'checkpoints/best.pt');
      await pick(2, 'tiny-grassmann/heldout/evaluation.txt', 'heldout/evaluation.txt');
      // Step 3, the reference text: a different file is offered first (the default), the evaluation file is not offered.
      await waitForStep(3);
      await quick().locator('.monaco-list-row', { hasText: 'Held-out part' }).first().waitFor({ timeout: UI_TIMEOUT_MS });
      // nearest folder first: tiny-grassmann (the checkpoints folder's parent), then tiny-grassmann/heldout
      assert.match(await quick().locator('.monaco-list-row').first().innerText(), /^tiny-grassmann\/eval\.txt/, 'a different file comes first (the default), the nearest folder first');
      await quick().locator('.monaco-list-row', { hasText: 'tiny-grassmann/heldout/reference.txt' }).first().waitFor({ timeout: UI_TIMEOUT_MS });
      assert.equal(await quick().locator('.monaco-list-row', { hasText: 'heldout/evaluation.txt' }).count(), 0, 'the evaluation file is not offered as its own reference');
      await screenshot(page, SCENARIO, 'a-reference');
      await pick(3, 'tiny-grassmann/heldout/reference.txt', 'heldout/reference.txt');
      await pick(4, 'FFN neurons');
      await screenshot(page, SCENARIO, 'a-criteria');
      await chooseCriteria(['lrp', 'magnitude']);
      assert.equal(await answer(6, '0.1, 0.3'), '0.1, 0.3');
      await pick(7, 'structural');
      assert.equal(await answer(8), out, 'the default output folder is beside the run\'s checkpoints folder: <its parent>/<ckpt name>-pruned');
    });
    const view = await timed('sweep and report', timings, async () => {
      const f = await frameWith('#prune-steps');
      await f.locator('#prune-chart-perplexity svg').waitFor({ timeout: UI_TIMEOUT_MS });
      await f.locator('#prune-chart-accuracy svg').waitFor({ timeout: UI_TIMEOUT_MS });
      return f;
    });
    await screenshot(page, SCENARIO, 'b-report');

    const rows = view.locator('#prune-steps tbody tr');
    assert.equal(await rows.count(), expected.steps.length);
    for (let i = 0; i < expected.steps.length; i++) {
      const want = expected.steps[i];
      const row = rows.nth(i);
      assert.equal(await row.getAttribute('data-criterion'), want.criterion);
      assert.equal(Number(await row.getAttribute('data-rate')), want.rate);
      const ppl = Number(await row.getAttribute('data-perplexity'));
      const acc = Number(await row.getAttribute('data-accuracy'));
      assert.ok(close(ppl, want.perplexity), `${want.criterion} ${want.rate}: perplexity ${ppl} vs CLI ${want.perplexity}`);
      assert.ok(close(acc, want.accuracy), `${want.criterion} ${want.rate}: accuracy ${acc} vs CLI ${want.accuracy}`);
      // The 95% intervals: exactly the CLI's numbers (same chunks, same seeded resamples), and shown as such.
      assert.equal(Number(await row.getAttribute('data-perplexity-low')), want.interval.perplexity.low, `${want.criterion} ${want.rate}: perplexity low`);
      assert.equal(Number(await row.getAttribute('data-perplexity-high')), want.interval.perplexity.high);
      assert.equal(Number(await row.getAttribute('data-accuracy-low')), want.interval.accuracy.low);
      assert.equal(Number(await row.getAttribute('data-delta-nll')), want.deltaNll.value);
      assert.equal(Number(await row.getAttribute('data-delta-nll-low')), want.deltaNll.interval.low);
      assert.equal(Number(await row.getAttribute('data-delta-nll-high')), want.deltaNll.interval.high);
      assert.equal(await row.locator('td[data-column="perplexity-interval"]').innerText(), `[${g4(want.interval.perplexity.low)}, ${g4(want.interval.perplexity.high)}]`);
      assert.equal(await row.locator('td[data-column="delta-nll-interval"]').innerText(), `[${signedG4(want.deltaNll.interval.low)}, ${signedG4(want.deltaNll.interval.high)}]`);
    }
    // The unpruned model's interval in the summary, the bootstrap settings, and one band per criterion and chart.
    const summary = await view.locator('#prune-summary').innerText();
    assert.ok(summary.includes(`perplexity ${g4(expected.baseline.perplexity)} [${g4(expected.baseline.interval.perplexity.low)}, ${g4(expected.baseline.interval.perplexity.high)}]`), summary);
    assert.match(summary, new RegExp(`95% percentile bootstrap: B = 1000 resamples of the ${expected.bootstrap.chunks} evaluation chunks`));
    assert.equal(expected.bootstrap.resamples, 1000);
    for (const chart of ['#prune-chart-perplexity', '#prune-chart-accuracy']) {
      assert.equal(await view.locator(`${chart} path.band`).count(), expected.criteria.length, chart);
    }
    const point = view.locator(`#prune-chart-perplexity circle.point[data-criterion="${expected.steps[0].criterion}"][data-rate="${expected.steps[0].rate}"]`);
    assert.equal(Number(await point.getAttribute('data-low')), expected.steps[0].interval.perplexity.low);
    assert.equal(Number(await point.getAttribute('data-high')), expected.steps[0].interval.perplexity.high);
    // The scoring conventions, as pruning.json states them (criteria, normalisation, LRP rules).
    const conventions = await view.locator('#prune-conventions li').allInnerTexts();
    assert.deepEqual(conventions, expected.conventions);
    assert.ok(conventions.some((c) => c.includes('normalised per layer')), conventions.join('\n'));
    // Separability: the rule, the pairs not separable at each rate, every pair's paired interval.
    assert.match(await view.locator('#prune-separability-rule').innerText(), /not separable at a rate when their 95% perplexity intervals overlap/);
    for (const rate of expected.rates) {
      const item = view.locator(`#prune-not-separable li[data-rate="${rate}"]`);
      const pairs = expected.notSeparable.filter((n) => n.rate === rate);
      assert.equal(Number(await item.getAttribute('data-count')), pairs.length);
      const shown = await item.innerText();
      for (const n of pairs) assert.ok(shown.includes(n.criteria.join(' / ')), shown);
      if (!pairs.length) assert.match(shown, /every pair separable/);
    }
    const comparisons = view.locator('#prune-comparisons tbody tr');
    assert.equal(await comparisons.count(), expected.comparisons.length);
    for (let i = 0; i < expected.comparisons.length; i++) {
      const want = expected.comparisons[i];
      const row = comparisons.nth(i);
      assert.deepEqual([await row.getAttribute('data-a'), await row.getAttribute('data-b'), Number(await row.getAttribute('data-rate'))], [want.a, want.b, want.rate]);
      assert.equal(Number(await row.getAttribute('data-low')), want.deltaNll.interval.low);
      assert.equal(Number(await row.getAttribute('data-high')), want.deltaNll.interval.high);
      assert.equal(await row.getAttribute('data-separable'), String(want.separable));
    }
    await view.locator('#prune-separability').scrollIntoViewIfNeeded();
    await screenshot(page, SCENARIO, 'b-separability');
    // the unpruned reference line of both charts
    assert.ok(close(Number(await view.locator('#prune-chart-perplexity line.baseline[data-value]').getAttribute('data-value')), expected.baseline.perplexity));
    assert.ok(close(Number(await view.locator('#prune-chart-accuracy line.baseline[data-value]').getAttribute('data-value')), expected.baseline.accuracy));
    assert.match(await view.locator('#prune-summary').innerText(), /Criteria\s+lrp, magnitude/);
    // Which text scored and which evaluated, as the report states them; no "not held out" warning.
    assert.equal(await view.locator('#prune-summary td[data-key="Reference text (scored the units)"]').innerText(), `2 samples of ${expected.seqLen} tokens from ${referenceFile()}`);
    assert.equal(await view.locator('#prune-summary td[data-key="Evaluation text"]').innerText(), evaluationFile());
    assert.deepEqual([expected.reference, expected.data, expected.referenceSource], [referenceFile(), evaluationFile(), 'file']);
    assert.equal((await view.locator('p.warning').allInnerTexts()).filter((w) => /not held out/.test(w)).length, 0);

    // the removed units of a step, selected with the keyboard
    await rows.first().focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    const second = expected.steps[1];
    const removed = view.locator(`#prune-removed[data-criterion="${second.criterion}"][data-rate="${second.rate}"] tbody tr`);
    await removed.first().waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(await removed.count(), Math.min(1000, second.removed.length));
    // In the order the caption states: lowest score first (pruning.json lists them by layer and index).
    assert.match(await view.locator('#prune-removed caption').innerText(), new RegExp(`^${second.removed.length} FFN neurons, lowest score first$`));
    const shownUnits = await removed.evaluateAll((trs) => trs.map((tr) => [Number(tr.getAttribute('data-layer')), Number(tr.getAttribute('data-index')), Number(tr.getAttribute('data-score'))]));
    const savedStep = JSON.parse(readFileSync(join(out, `${second.criterion}-${second.rate}`, 'pruning.json'), 'utf8')) as { removed: { layer: number; index: number; score: number }[] };
    const byScore = [...savedStep.removed].sort((a, b) => a.score - b.score || a.layer - b.layer || a.index - b.index).map((u) => [u.layer, u.index, u.score]);
    assert.deepEqual(shownUnits, byScore);
    assert.notDeepEqual(savedStep.removed.map((u) => [u.layer, u.index, u.score]), byScore, 'the fixture\'s step lists its units in another order than by score, so the sort is seen');

    // the files, and pruning.json equal to what the view shows
    assert.ok(existsSync(join(out, 'pruning.json')), 'pruning.json written');
    const written = JSON.parse(readFileSync(join(out, 'pruning.json'), 'utf8')) as PruneReport;
    for (const s of expected.steps) {
      const folder = join(out, `${s.criterion}-${s.rate}`);
      assert.ok(existsSync(join(folder, 'model.safetensors')), `${folder}/model.safetensors`);
      assert.ok(existsSync(join(folder, 'config.json')), `${folder}/config.json`);
      const w = written.steps.find((x) => x.criterion === s.criterion && x.rate === s.rate)!;
      assert.ok(close(w.perplexity, s.perplexity));
      assert.deepEqual(w.interval, s.interval, `${s.criterion} ${s.rate}: pruning.json's intervals are the CLI's`);
    }
    assert.deepEqual(written.baseline.interval, expected.baseline.interval);
    assert.deepEqual(written.notSeparable, expected.notSeparable);
    assert.deepEqual(readdirSync(join(workspace, 'tiny-grassmann')).filter((n) => n.includes('.partial-')), [], 'no staging folder left');
    assert.deepEqual(readdirSync(checkpoints()).sort(), ['best.pt', 'epoch_1.pt', 'epoch_2.pt'], 'nothing written into the run\'s checkpoints folder');

    // "Reveal files" shows the selected step's folder (its pruning.json) in the explorer
    await view.locator('#prune-reveal').click();
    const stepFolder = page.locator('.explorer-folders-view .monaco-list-row', { hasText: `${second.criterion}-${second.rate}` });
    await stepFolder.first().waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator('.explorer-folders-view .monaco-list-row[aria-selected="true"]', { hasText: 'pruning.json' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, SCENARIO, 'b-revealed');

    // "Open pruned checkpoint" opens the selected step's model.safetensors in the checkpoint editor
    const file = join(out, `${second.criterion}-${second.rate}`, 'model.safetensors');
    const inspected = await reference.inspect(file);
    await timed('open pruned checkpoint', timings, async () => {
      await view.locator('#prune-open').click();
      await page.locator('.tabs-container .tab', { hasText: 'model.safetensors' }).waitFor({ timeout: UI_TIMEOUT_MS });
      const editor = await frameWith('#summary');
      const text = await editor.locator('#summary').innerText();
      assert.match(text, /Architecture\s+GrassmannGPT/);
      assert.ok(text.includes(formatCount(inspected.parameterCount)), `parameter count ${inspected.parameterCount} of the pruned file in: ${text}`);
    });
    await screenshot(page, SCENARIO, 'c-pruned-open');
    await runCommand(page, 'View: Close All Editors');
  });

  it('the pickers offer models and texts only; cancelling from the progress notification stops the sweep and leaves no output folder', async () => {
    const out = join(workspace, 'tiny-grassmann', 'best-pruned-2');
    await timed('cancel', timings, async () => {
      await runCommand(page, COMMAND);
      // The four reference dumps open but are not models, bad-inputs/hostile-os-system.pt does not open: both only behind the "not recognised" item.
      await waitForStep(1);
      await quick().locator('.monaco-list-row', { hasText: /\d+ files? not recognised as models/ }).first().waitFor({ timeout: UI_TIMEOUT_MS });
      assert.equal(await quick().locator('.monaco-list-row', { hasText: 'reference/case0.safetensors' }).count(), 0, 'reference dumps are not offered as checkpoints');
      assert.match(await quick().locator('.monaco-list-row', { hasText: 'not recognised as models' }).first().innerText(), /5 files not recognised as models/);
      await pick(1, 'tiny-grassmann/checkpoints/best.pt', 'checkpoints/best.pt');
      // No tokenizer file (vocab.txt: one in tiny-grassmann, one per step of the first sweep) as evaluation text.
      await waitForStep(2);
      await quick().locator('.monaco-list-row', { hasText: 'tiny-grassmann/eval.txt' }).first().waitFor({ timeout: UI_TIMEOUT_MS });
      assert.equal(await quick().locator('.monaco-list-row', { hasText: 'vocab.txt' }).count(), 0, 'vocab.txt is not offered as an evaluation text');
      await pick(2, 'tiny-grassmann/eval.txt', 'tiny-grassmann/eval.txt');
      await pick(3, 'Held-out part: the first 25% of eval.txt scores, the rest evaluates', 'Held-out');
      await pick(4, 'FFN neurons');
      await chooseCriteria(['lrp', 'magnitude', 'taylor']);
      await answer(6, '0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9');
      await pick(7, 'structural');
      assert.equal(await answer(8), out, 'the default output folder is made unique (-2) when <name>-pruned exists');
      const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'pruning best.pt' });
      await toast.waitFor({ timeout: UI_TIMEOUT_MS });
      await screenshot(page, SCENARIO, 'd-progress');
      await toast.locator('.monaco-button', { hasText: 'Cancel' }).click();
      await page.locator('.notifications-toasts .notification-toast', { hasText: 'was cancelled; nothing was written' }).waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await screenshot(page, SCENARIO, 'd-cancelled');
    assert.equal(existsSync(out), false, `${out} must not exist after cancelling`);
    assert.deepEqual(readdirSync(join(workspace, 'tiny-grassmann')).filter((n) => n.includes('.partial-')), [], 'no staging folder left');
  });
});
