/**
 * The extension in a real VS Code (code-server), driven through its UI with Playwright.
 * Expected values come from the same compute worker run in this process, so the assertions
 * follow the real backend and the real files rather than hard-coded guesses.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ComputeClient } from '../../src/worker/client';
import { describeBackend, type BackendReport } from '../../src/model/backend';
import { formatCount } from '../../src/core/reportText';
import { formatNumber } from '../../webview/format';
import {
  activeWebview, answerFileDialog, answerSaveDialog, assertReadableAxes, checkPrerequisites, closeScenario, type CodeServer, makeWorkspace,
  notification, openQuick as openQuickIn, openScenarioPage, outputPanelText, repoRoot, runCommand, screenshot, squash,
  startCodeServer, statusBarItem, timed, UI_TIMEOUT_MS,
} from './harness';

const SCENARIO = 'workbench';
const PWNED = '/tmp/grassmann-lens-pwned';

describe('Grassmann Lens in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  let reference: ComputeClient;
  let expectedBackend: BackendReport;
  const timings = new Map<string, number>();
  const measured: Record<string, unknown> = {};
  /** Every console error of the page and its frames (the webviews), in order. */
  const consoleErrors: string[] = [];

  before(async () => {
    checkPrerequisites();
    rmSync(PWNED, { force: true });
    workspace = makeWorkspace(SCENARIO);
    server = await timed('code-server start', timings, () => startCodeServer({ name: SCENARIO, installExtension: true }));
    // The extension's native-modules folder is GRASSMANN_LENS_NATIVE_DIR (set by the harness); probe the same one.
    reference = new ComputeClient({
      workerPath: join(repoRoot, 'dist', 'worker.js'),
      nativeModulesDir: join(server.home, 'native'),
    });
    expectedBackend = await reference.backend();
    ({ browser, page } = await openScenarioPage(server, workspace, timings));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`${e.name}: ${e.message}`));
  });

  after(async () => {
    await reference?.dispose();
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings, extra: { measured } });
  });

  async function closeAllEditors(): Promise<void> {
    await runCommand(page, 'View: Close All Editors');
    await page.locator('.editor-group-container .tabs-container .tab').first().waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  }

  /**
   * Waits until the Output panel shows every line of `expected`, scrolling through it from the
   * first line half a view at a time (the editor renders only the lines in view and follows the
   * end of the channel; a report can be longer than the panel, and half steps show every line that
   * is shorter than half the panel whole in some view). With `probeTimings`, the numbers of the
   * backend report's `probe:` lines are compared as "#": they differ from run to run (what was
   * probed, and the outcome, do not).
   */
  async function outputShows(expected: string, o: { probeTimings?: boolean } = {}): Promise<void> {
    const probe = /(probe:.*?)(?=✓|✗|$)/g;
    const mask = (t: string): string => {
      const s = o.probeTimings ? t.replace(/\s+/g, ' ').replace(probe, (m) => m.replace(/\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi, '#')) : t;
      return squash(s);
    };
    const wanted = expected.split('\n').map(mask).filter(Boolean);
    const editor = page.locator('.part.panel .monaco-editor').first();
    const deadline = Date.now() + UI_TIMEOUT_MS;
    let missing: string[] = wanted;
    let seen = '';
    for (;;) {
      await editor.click();
      await page.keyboard.press('Control+Home');
      const box = await editor.boundingBox();
      const views: string[] = [];
      let previous: string | undefined;
      for (let step = 0; step < 400; step++) {
        const text = await outputPanelText(page);
        views.push(mask(text));
        missing = wanted.filter((line) => !views.some((v) => v.includes(line)));
        if (missing.length === 0) return;
        seen = text;
        if (text === previous) break;
        previous = text;
        if (box) await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
        await page.mouse.wheel(0, Math.max(40, (box?.height ?? 200) / 2));
        await page.waitForTimeout(60);
      }
      if (Date.now() > deadline) assert.fail(`the Output panel never showed ${missing.length} of the ${wanted.length} lines of "${expected}", the first: ${missing[0]}; its last view: ${seen}`);
      await page.waitForTimeout(250);
    }
  }

  const openQuick = (fileName: string): Promise<void> => openQuickIn(page, fileName);

  async function reopenWith(fileName: string, editorName: string): Promise<void> {
    await openQuick(fileName);
    await runCommand(page, 'View: Reopen Editor With...');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: editorName }).first().click({ timeout: UI_TIMEOUT_MS });
  }

  const webview = () => activeWebview(page);

  it('shows the active compute backend in the status bar and explains it in the Output channel', async () => {
    await timed('backend status', timings, async () => {
      await runCommand(page, 'Grassmann Lens: Show Compute Backend');
      const item = statusBarItem(page, 'grassmannLens.backend');
      await item.filter({ hasText: /GL: (tensorflow-gpu|webgpu|tensorflow|wasm|cpu)\b/ }).waitFor({ timeout: UI_TIMEOUT_MS });
      const text = (await item.innerText()).trim();
      assert.equal(text, `GL: ${expectedBackend.active}`);
      // The whole report, as model/backend.ts words it, reason included.
      await outputShows(describeBackend(expectedBackend), { probeTimings: true });
    });
    await screenshot(page, SCENARIO, 'a-backend-status');
  });

  async function selectBackend(name: string): Promise<void> {
    await runCommand(page, 'Grassmann Lens: Select Compute Backend…');
    await page.locator('.quick-input-widget .monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${name}$`) }) })
      .click({ timeout: UI_TIMEOUT_MS });
  }

  it('switches backend from the quick pick and shows it in the status bar', async () => {
    const item = statusBarItem(page, 'grassmannLens.backend');
    await timed('select backend cpu and back', timings, async () => {
      await selectBackend('cpu');
      await item.filter({ hasText: 'GL: cpu' }).waitFor({ timeout: UI_TIMEOUT_MS });
      await outputShows('Why: cpu was requested');
      await selectBackend('auto');
      await item.filter({ hasText: `GL: ${expectedBackend.active}` }).waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await screenshot(page, SCENARIO, 'a-backend-selected');
  });

  it('inspects model.safetensors from the command palette', async () => {
    const file = join(workspace, 'tiny-grassmann', 'model.safetensors');
    const expected = await reference.inspect(file);
    assert.equal(expected.architecture, 'GrassmannGPT');
    await timed('inspect model.safetensors', timings, async () => {
      await runCommand(page, 'Grassmann Lens: Inspect Checkpoint…');
      await answerFileDialog(page, file);
      await outputShows(`Checkpoint: ${file}`);
      await outputShows('Architecture: GrassmannGPT');
      await outputShows(`Parameters: ${formatCount(expected.parameterCount)}`);
    });
    await screenshot(page, SCENARIO, 'b-inspect-output');
  });

  const SENTENCE = 'the licensor grants you a worldwide, royalty-free license to use the software';
  const bestPt = () => join(workspace, 'tiny-grassmann', 'checkpoints', 'best.pt');
  const tab = (view: string) => webview().locator(`vscode-tab-header[data-view="${view}"]`);

  it('opens best.pt in the checkpoint editor (its default editor): the overview shows the parameter count and dims of inspect', async () => {
    const expected = await reference.inspect(bestPt());
    await timed('checkpoint editor best.pt', timings, async () => {
      await openQuick('best.pt');
      const summary = webview().locator('#summary');
      await summary.waitFor({ timeout: UI_TIMEOUT_MS });
      const text = await summary.innerText();
      assert.match(text, /Architecture\s+GrassmannGPT/);
      assert.ok(text.includes(formatCount(expected.parameterCount)), `parameter count ${expected.parameterCount} in: ${text}`);
      const d = expected.dims!;
      for (const [label, value] of [['Vocabulary (V)', d.vocabSize], ['Model width (d)', d.modelDim], ['Layers (L)', d.layers], ['Feed-forward width', d.ffDim], ['Max positions', d.maxPositions]] as const) {
        assert.match(text, new RegExp(`${label.replace(/[()]/g, '\\$&')}\\s+${formatCount(value)}`), label);
      }
      assert.equal(await webview().locator('#tensors tbody tr').count(), expected.tensors.length);
      await webview().locator('#architecture svg').waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await screenshot(page, SCENARIO, 'b-overview');
    await timed('tensor statistics', timings, async () => {
      await webview().locator('#tensors tbody tr[data-name="blocks.0.grassmann.W_plu.weight"]').click();
      await webview().locator('#tensor-spectrum svg').waitFor({ timeout: UI_TIMEOUT_MS });
      assert.match(await webview().locator('#tensor-stats').innerText(), /\[64, 120\]\s+7,680/);
    });
    await screenshot(page, SCENARIO, 'b-tensor');
    // The last row of the table (far down the page): its details show in the viewport and take the focus.
    const last = expected.tensors.at(-1)!.name;
    const row = webview().locator(`#tensors tbody tr[data-name="${last}"]`);
    await row.scrollIntoViewIfNeeded();
    await row.click();
    await webview().locator('#tensor-details h3', { hasText: last }).waitFor({ timeout: UI_TIMEOUT_MS });
    await webview().locator('#tensor-stats').waitFor({ timeout: UI_TIMEOUT_MS });
    const place = await webview().locator('#tensor-details').evaluate((el) => {
      const r = el.getBoundingClientRect();
      const title = el.querySelector('h3')!.getBoundingClientRect();
      const stats = el.querySelector('#tensor-stats')!.getBoundingClientRect();
      return { focused: document.activeElement === el, top: r.top, titleTop: title.top, statsBottom: stats.bottom, viewport: window.innerHeight, scrollY: window.scrollY };
    });
    assert.ok(place.focused, 'the details of the clicked tensor have the focus');
    assert.ok(place.titleTop >= 0 && place.statsBottom <= place.viewport, `the details' title and statistics are in the viewport: ${JSON.stringify(place)}`);
    assert.ok(place.scrollY > 0, `the table was scrolled to its last row (${place.scrollY})`);
    measured.tensorDetails = place;
    await screenshot(page, SCENARIO, 'b-tensor-last');
    // Escape in the details goes back to the row
    await page.keyboard.press('Escape');
    assert.equal(await webview().locator(':focus').getAttribute('data-name'), last);
  });

  it('runs a sentence: the token strip shows the fixture tokenizer\'s tokens', async () => {
    const expected = await reference.request('run', { checkpoint: bestPt(), text: SENTENCE });
    await timed('run a sentence', timings, async () => {
      await tab('run').click();
      await webview().locator('#run-text').click();
      await page.keyboard.type(SENTENCE);
      await webview().locator('#run-button').click();
      await webview().locator('#run-table').waitFor({ timeout: UI_TIMEOUT_MS });
      const tokens = await webview().locator('#token-strip .token').allInnerTexts();
      assert.deepEqual(tokens, expected.tokens.map((t) => t.text));
      await webview().locator('#run-summary', { hasText: 'features of 4 layers' }).waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await screenshot(page, SCENARIO, 'c-run');
  });

  it('exports the loss chart\'s data as CSV: the saved file holds the run\'s losses', async () => {
    const expected = await reference.request('analyze', { path: bestPt(), text: SENTENCE });
    const target = join(workspace, 'loss.csv');
    await timed('export CSV', timings, async () => {
      await webview().locator('#loss-chart vscode-button', { hasText: 'CSV' }).click();
      await answerSaveDialog(page, target);
      await webview().locator('#notice', { hasText: `Saved ${target}` }).waitFor({ timeout: UI_TIMEOUT_MS });
    });
    const [header, ...rows] = readFileSync(target, 'utf8').trim().split('\n');
    assert.equal(header, 'position,token,id,loss');
    assert.equal(rows.length, expected.run.tokens.length);
    rows.forEach((row, t) => {
      const cells = row.split(',');
      assert.equal(Number(cells[0]), t);
      if (t > 0) assert.ok(Math.abs(Number(cells.at(-1)) - expected.run.loss[t - 1]) <= 1e-9, `loss at ${t}`);
    });
  });

  it('hovering a token shows its plane area for layer 0, offset 1, equal to features', async () => {
    const position = 3;
    const features = await reference.request('features', { checkpoint: bestPt(), text: SENTENCE, layer: 0, window: 1 });
    const offset = features.layers[0].offsets[0];
    const expected = offset.area[offset.positions.indexOf(position)];
    await timed('token tooltip', timings, async () => {
      await webview().locator(`#token-strip .token[data-t="${position}"]`).hover();
      const cell = webview().locator('#token-tooltip rect.area-cell[data-layer="0"][data-offset="1"]');
      await cell.waitFor({ timeout: UI_TIMEOUT_MS });
      const shown = Number(await cell.getAttribute('data-value'));
      assert.ok(Math.abs(shown - expected) <= 1e-6 * expected, `tooltip area ${shown} vs features ${expected}`);
      await webview().locator('#tooltip-nearest').waitFor({ timeout: UI_TIMEOUT_MS });
      await webview().locator('#tooltip-matrix svg').waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await screenshot(page, SCENARIO, 'd-token-tooltip');
    await page.mouse.move(5, 5);
  });

  it('"Use editor selection" runs the text selected in the last text editor', async () => {
    const line = readFileSync(join(workspace, 'tiny-grassmann', 'eval.txt'), 'utf8').split('\n')[1];
    const expected = await reference.request('run', { checkpoint: bestPt(), text: line });
    await timed('run the editor selection', timings, async () => {
      await openQuick('eval.txt');
      // the second line: click into it, then select it to its end
      const second = page.locator('.editor-group-container .monaco-editor .view-line', { hasText: line.trim() }).first();
      await second.click({ timeout: UI_TIMEOUT_MS });
      await page.keyboard.press('Home');
      await page.keyboard.press('Home'); // past the indentation, to column 1
      await page.keyboard.press('Shift+End');
      await page.locator('.statusbar', { hasText: `(${line.length} selected)` }).waitFor({ timeout: UI_TIMEOUT_MS });
      await page.locator('.tabs-container .tab', { hasText: 'best.pt' }).click();
      await tab('run').click();
      await webview().locator('#use-selection').click();
      await webview().locator('#notice', { hasText: 'Running the selection from eval.txt' }).waitFor({ timeout: UI_TIMEOUT_MS });
      await webview().locator('#run-summary', { hasText: `${expected.tokens.length} tokens` }).waitFor({ timeout: UI_TIMEOUT_MS });
      assert.deepEqual(await webview().locator('#token-strip .token').allInnerTexts(), expected.tokens.map((t) => t.text));
    });
    // back to the sentence for the views below (its own summary: the selection's also ends with "features of 4 layers")
    const sentence = await reference.request('run', { checkpoint: bestPt(), text: SENTENCE });
    await webview().locator('#run-text').evaluate((el, text) => ((el as unknown as { value: string }).value = text), SENTENCE);
    await webview().locator('#run-button').click();
    await webview().locator('#run-summary', { hasText: new RegExp(`^${sentence.tokens.length} tokens .*features of 4 layers`) }).waitFor({ timeout: UI_TIMEOUT_MS });
  });

  it('the Plücker, Distances and Gates views draw; switching the metric, the cell of two tokens equals distances', async () => {
    await timed('plucker view', timings, async () => {
      await tab('plucker').click();
      await webview().locator('#plucker-chart svg image').waitFor({ timeout: UI_TIMEOUT_MS });
      assert.match(await webview().locator('#plucker-residual').innerText(), /residual: max \d/);
    });
    await screenshot(page, SCENARIO, 'e-plucker');
    const expected = await reference.request('distances', { checkpoint: bestPt(), text: SENTENCE, layer: 0, window: 1, metric: 'chordal' });
    const [i, j] = [2, 5];
    await timed('distance view', timings, async () => {
      await tab('distances').click();
      await webview().locator('#distance-chart svg image').waitFor({ timeout: UI_TIMEOUT_MS });
      await webview().locator('#distance-metric').click();
      await webview().locator('#distance-metric [role="option"]', { hasText: 'chordal' }).click();
      await webview().locator('#distance-view .note', { hasText: /^chordal = / }).waitFor({ timeout: UI_TIMEOUT_MS });
      // Pinning a token (click) outlines its row in the matrix.
      await webview().locator(`#token-strip .token[data-t="${expected.positions[i]}"]`).click();
      await webview().locator('#distance-chart rect.focus-row').waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
      // With the keyboard: focusing the chart puts its cursor on the first cell; arrows move it.
      await webview().locator('#distance-chart svg.chart').focus();
      for (let k = 0; k < i; k++) await page.keyboard.press('ArrowDown');
      for (let k = 0; k < j; k++) await page.keyboard.press('ArrowRight');
      const readout = webview().locator('#distance-readout');
      await readout.and(webview().locator(`[data-i="${expected.positions[i]}"][data-j="${expected.positions[j]}"]`)).waitFor({ timeout: UI_TIMEOUT_MS });
      const shown = Number(await readout.getAttribute('data-value'));
      const want = expected.matrix[i][j]!;
      assert.ok(Math.abs(shown - want) <= 1e-9, `distance view ${shown} vs distances ${want}`);
    });
    await screenshot(page, SCENARIO, 'e-distances');
    await timed('gates view', timings, async () => {
      await tab('gates').click();
      await webview().locator('#gates-chart svg image').waitFor({ timeout: UI_TIMEOUT_MS });
      await webview().locator('#blend-chart svg image').waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await screenshot(page, SCENARIO, 'e-gates');
  });

  it('at 128 tokens (the model\'s positions): every axis of Run, Plücker and Distances shows labels that neither overlap nor leave the SVG; pickers keep the focus and the page its place', async () => {
    const long = readFileSync(join(workspace, 'tiny-grassmann', 'eval.txt'), 'utf8').slice(0, 1200);
    const expected = await reference.request('run', { checkpoint: bestPt(), text: long });
    assert.equal(expected.tokens.length, 128, 'the text fills the 128 positions');
    await timed('run 128 tokens', timings, async () => {
      await tab('run').click();
      await webview().locator('#run-text').evaluate((el, text) => ((el as unknown as { value: string }).value = text), long);
      await webview().locator('#run-button').click();
      await webview().locator('#run-summary', { hasText: /^128 tokens .*features of 4 layers/ }).waitFor({ timeout: UI_TIMEOUT_MS });
      await webview().locator('#loss-chart svg').waitFor({ timeout: UI_TIMEOUT_MS });
    });
    const loss = await assertReadableAxes(webview().locator('#loss-chart svg'), 'Run loss chart, 128 tokens');
    const lossTokens = loss.find((a) => a.horizontal)!;
    assert.ok(lossTokens.labels >= 20, `the loss chart labels ${lossTokens.labels} of its 127 bars`);
    measured.run128 = { labels: lossTokens.labels, minGapPx: lossTokens.minGap, step: await webview().locator('#loss-chart g.axis[data-label-step]').getAttribute('data-label-step') };
    // the next-token lists quote their tokens: "‹,› 2.2%", never a bare ", 2.2%"
    const next = await webview().locator('#run-table tbody tr').first().locator('td').last().innerText();
    assert.equal(next, expected.next[0].map((n) => `‹${n.token}› ${(n.probability * 100).toFixed(1)}%`).join(', '));
    assert.match(await webview().locator('#token-strip-legend').innerText(), /underline: the loss of predicting the token/);
    await webview().locator('#loss-chart').scrollIntoViewIfNeeded();
    await screenshot(page, SCENARIO, 'h-run-128');

    // Plücker: the colour bar is scaled to the largest |p̂| of the layer and offset shown
    const planes = await reference.request('planes', { path: bestPt(), text: long, layer: 0, offset: 1 });
    const limit = planes.coordinates.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(limit > 0 && limit < 1, `max |p̂| ${limit}`);
    await tab('plucker').click();
    await webview().locator('#plucker-chart svg image').waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(Number(await webview().locator('#plucker-chart').getAttribute('data-scale-limit')), limit);
    assert.equal(await webview().locator('#plucker-chart .legend-title').textContent(), `p̂_ijscaled to ±${formatNumber(limit, 3)}(data max |p̂|)`);
    const legendTicks = await webview().locator('#plucker-chart .legend g.tick text').allTextContents();
    assert.ok(legendTicks.length >= 3, `colour bar ticks: ${legendTicks}`);
    await assertReadableAxes(webview().locator('#plucker-chart svg'), 'Plücker, 128 tokens');
    await screenshot(page, SCENARIO, 'h-plucker-128');

    // Distances: no console error on the switch, readable axes, the pickers keep the focus and the page its place
    const errorsBefore = consoleErrors.length;
    await tab('distances').click();
    await webview().locator('#distance-chart svg image').waitFor({ timeout: UI_TIMEOUT_MS });
    await page.waitForTimeout(500);
    assert.deepEqual(consoleErrors.slice(errorsBefore).filter((e) => /ResizeObserver/.test(e)), [], 'no ResizeObserver error on the switch to Distances');
    measured.consoleErrorsOnDistances = consoleErrors.slice(errorsBefore);
    const distanceAxes = await assertReadableAxes(webview().locator('#distance-chart svg'), 'Distances, 128 tokens');
    measured.distances128 = distanceAxes.map((a) => ({ axis: a.axis, labels: a.labels, minGapPx: a.minGap }));
    await screenshot(page, SCENARIO, 'h-distances-128');
    const frame = webview().locator('html');
    // down the page, not to its end (where a chart a few pixels shorter would move the page by itself)
    const room = await frame.evaluate(() => document.documentElement.scrollHeight - window.innerHeight);
    assert.ok(room > 150, `the page scrolls (${room} px)`);
    await frame.evaluate((_, y) => window.scrollTo(0, y), Math.min(200, room - 50));
    const scrolled = await frame.evaluate(() => window.scrollY);
    const pickerBefore = await webview().locator('#distance-metric').evaluate((el) => el.getBoundingClientRect().top);
    await webview().locator('#distance-metric').click();
    await webview().locator('#distance-metric [role="option"]', { hasText: /^\s*projection\s*$/ }).click();
    await webview().locator('#distance-view .note', { hasText: /^projection = / }).waitFor({ timeout: UI_TIMEOUT_MS });
    await webview().locator('#distance-chart svg image').waitFor({ timeout: UI_TIMEOUT_MS });
    await page.waitForTimeout(300);
    const after = await frame.evaluate(() => {
      const strip = document.querySelector('.strip-holder')!.getBoundingClientRect();
      const picker = document.getElementById('distance-metric')!.getBoundingClientRect();
      return { focused: document.activeElement?.id ?? null, active: `${document.activeElement?.tagName}#${document.activeElement?.id}.${document.activeElement?.className}`, scrollY: window.scrollY, stripBottom: strip.bottom, pickerTop: picker.top, pickerBottom: picker.bottom };
    });
    assert.equal(after.focused, 'distance-metric', `the metric picker keeps the focus after a choice: ${JSON.stringify(after)}`);
    // (not back to the top; the note above the chart names the new metric, so the page may move by a few px)
    assert.ok(Math.abs(after.scrollY - scrolled) <= 8, `the page stays where it was: ${scrolled} → ${after.scrollY}`);
    assert.ok(Math.abs(after.pickerTop - pickerBefore) <= 1, `the picker stays where it was on screen: ${pickerBefore} → ${after.pickerTop}`);
    assert.ok(after.pickerTop >= after.stripBottom - 0.5, `the sticky token strip does not cover the pickers: ${JSON.stringify(after)}`);
    measured.dropdown = { scrolled, ...after };
    await screenshot(page, SCENARIO, 'h-distances-scrolled');
  });

  it('the Drift view follows the checkpoints of the folder: the W_red distance equals drift', async () => {
    const folder = join(workspace, 'tiny-grassmann', 'checkpoints');
    const expected = await reference.request('drift', { paths: [folder] });
    const first = expected.consecutive[0].tensors.find((t) => t.subspace && t.layer === 0)!;
    await timed('drift view', timings, async () => {
      await tab('drift').click();
      await webview().locator('#drift-button').click();
      await webview().locator('#drift-to-last svg').waitFor({ timeout: UI_TIMEOUT_MS });
      const row = webview().locator('#drift-table tbody tr').first();
      const cells = await row.locator('td').allInnerTexts();
      assert.deepEqual(cells.slice(0, 3), ['epoch 1', 'epoch 2', '0']);
      assert.equal(Number(cells[3]), Number(first.subspace!.geodesic.toPrecision(4)));
    });
    await screenshot(page, SCENARIO, 'f-drift');
  });

  it('a checkpoint that changes on disk is read again: the editor shows the new one', async () => {
    await timed('file changed on disk', timings, async () => {
      // epoch_1.pt written over best.pt, as a training run saving its new best would
      copyFileSync(join(workspace, 'tiny-grassmann', 'checkpoints', 'epoch_1.pt'), bestPt());
      await webview().locator('#notice', { hasText: 'best.pt changed on disk and was read again.' }).waitFor({ timeout: UI_TIMEOUT_MS });
      await tab('overview').click();
      // (hasText matches the text content, where table cells are not separated by spaces)
      await webview().locator('#metadata', { hasText: /epoch\s*1(?![\d.])/ }).waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await screenshot(page, SCENARIO, 'g-reloaded');
    await closeAllEditors();
  });

  it('refuses a hostile pickle, names the file and the global, runs nothing, and keeps working', async () => {
    const file = join(workspace, 'bad-inputs', 'hostile-os-system.pt');
    const refusal = await reference.inspect(file).then(
      () => assert.fail('the reference worker accepted the hostile pickle'),
      (e: Error) => e,
    );
    assert.equal(refusal.name, 'InputError');
    assert.ok(refusal.message.includes('hostile-os-system.pt'), `names the file: ${refusal.message}`);
    assert.match(refusal.message, /system/, 'names the refused global');

    await timed('hostile pickle refused', timings, async () => {
      await runCommand(page, 'Grassmann Lens: Inspect Checkpoint…');
      await answerFileDialog(page, file);
      const toast = notification(page, 'error', 'hostile-os-system.pt');
      await toast.waitFor({ timeout: UI_TIMEOUT_MS });
      assert.ok(squash(await toast.innerText()).includes(squash(refusal.message)), 'the error shows the InputError message as-is');
      await screenshot(page, SCENARIO, 'c-hostile-error');

      await reopenWith('hostile-os-system.pt', 'Grassmann Lens Checkpoint');
      const error = webview().locator('#error');
      await error.waitFor({ timeout: UI_TIMEOUT_MS });
      assert.ok(squash(await error.innerText()).includes(squash(refusal.message)));
      await screenshot(page, SCENARIO, 'c-hostile-editor');
      await closeAllEditors();
    });
    assert.equal(existsSync(PWNED), false, `${PWNED} must never be created`);

    await timed('works after the refusal', timings, async () => {
      await reopenWith('epoch_1.pt', 'Grassmann Lens Checkpoint');
      const summary = webview().locator('#summary');
      await summary.waitFor({ timeout: UI_TIMEOUT_MS });
      assert.match(await summary.innerText(), /Architecture\s+GrassmannGPT/);
      const item = statusBarItem(page, 'grassmannLens.backend');
      assert.equal((await item.innerText()).trim(), `GL: ${expectedBackend.active}`);
    });
    await screenshot(page, SCENARIO, 'c-still-works');
    assert.equal(existsSync(PWNED), false, `${PWNED} must never be created`);
  });
});
