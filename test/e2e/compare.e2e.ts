/**
 * "Grassmann Lens: Compare Checkpoints…" in a real VS Code (code-server), driven with Playwright:
 * the palette flow (epoch_1.pt, then best.pt among its siblings, then a typed text) opens the
 * report, whose numbers equal the CLI's `compare A B --text T --json` (within 1e-9 relative):
 * every principal angle per layer, A, B and B − A per token of plane area, gate openness and
 * relevance (in the token strip and the table, for the quantities picked in the page), the mean
 * |B − A| per layer and offset, and the whole report saved with "Report JSON". The token strip
 * works from the keyboard. From the explorer, two selected checkpoints go straight to the text step.
 *
 * The CLI runs with the harness's private native-modules folder, as the extension's worker does,
 * so both pick the same backend (asserted: the reports name it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import type { CompareTextReport, Difference } from '../../src/core/compareText';
import { formatNumber, quoteToken } from '../../webview/format';
import {
  answerSaveDialog, assertReadableAxes, checkPrerequisites, closeScenario, type CodeServer, makeWorkspace, openScenarioPage, repoRoot, runCommand,
  screenshot, startCodeServer, timed, UI_TIMEOUT_MS,
} from './harness';

const SCENARIO = 'compare';
const COMMAND = 'Grassmann Lens: Compare Checkpoints…';
const TEXT = 'the licensor grants you a worldwide, royalty-free license';
/** Past the model's 128 positions (the report runs the first 128 tokens): the first 1,200 characters of eval.txt, on one line. */
const LONG = readFileSync(join(repoRoot, 'test', 'fixtures', 'tiny-grassmann', 'eval.txt'), 'utf8').slice(0, 1200).replace(/\s+/g, ' ').trim();

describe('Compare Checkpoints in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  let expected: CompareTextReport;
  const timings = new Map<string, number>();
  const measured: Record<string, unknown> = {};

  before(async () => {
    checkPrerequisites();
    workspace = makeWorkspace(SCENARIO);
    server = await timed('code-server start', timings, () => startCodeServer({ name: SCENARIO, installExtension: true }));
    expected = await timed('CLI compare --text', timings, async () => cliCompare());
    ({ browser, page } = await openScenarioPage(server, workspace, timings));
  });

  after(async () => {
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings, extra: { measured } });
  });

  const checkpoints = () => join(workspace, 'tiny-grassmann', 'checkpoints');
  const quick = () => page.locator('.quick-input-widget');

  function cliCompare(): CompareTextReport {
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli.js'), 'compare', join(checkpoints(), 'epoch_1.pt'), join(checkpoints(), 'best.pt'), '--text', TEXT, '--json'],
      { encoding: 'utf8', env: { ...process.env, GRASSMANN_LENS_NATIVE_DIR: join(server.home, 'native') }, timeout: 120_000, maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, `CLI compare failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as CompareTextReport;
  }

  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) || a === b;
  const assertClose = (got: string | null, want: number, what: string) => {
    assert.ok(got !== null, `${what}: no value in the page`);
    assert.ok(close(Number(got), want), `${what}: page ${got}, CLI ${want}`);
  };

  async function waitForStep(k: number): Promise<void> {
    await quick().locator('.quick-input-title', { hasText: `Compare Checkpoints (${k}/3)` }).waitFor({ timeout: UI_TIMEOUT_MS });
  }

  async function pick(k: number, text: string, filter?: string): Promise<void> {
    await waitForStep(k);
    if (filter) await quick().locator('input').first().fill(filter);
    await quick().locator('.monaco-list-row', { hasText: text }).first().click({ timeout: UI_TIMEOUT_MS });
  }

  /** Step 3: "Type text…", then the input box. */
  async function typeText(text: string): Promise<void> {
    await pick(3, 'Type text…');
    const input = quick().locator('input').first();
    await quick().locator('.quick-input-message', { hasText: 'Text to run through both checkpoints' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await input.fill(text);
    await page.keyboard.press('Enter');
  }

  /** The innermost frame of a webview that shows `selector` (and was not in `except`). */
  async function frameWith(selector: string, except: Frame[] = []): Promise<Frame> {
    const deadline = Date.now() + UI_TIMEOUT_MS;
    for (;;) {
      for (const f of page.frames()) {
        if (except.includes(f) || f.isDetached()) continue;
        if (await f.locator(selector).count().catch(() => 0)) return f;
      }
      if (Date.now() > deadline) assert.fail(`no webview shows ${selector}`);
      await page.waitForTimeout(250);
    }
  }

  /** The chosen quantity's A, B and B − A in the token strip and the table equal the CLI's, token by token. */
  async function assertTokens(view: Frame, want: (Difference | null)[], what: string): Promise<void> {
    const strip = view.locator('#compare-tokens [data-position]');
    const rows = view.locator('#compare-table tbody tr[data-position]');
    assert.equal(await strip.count(), want.length, `${what}: tokens in the strip`);
    assert.equal(await rows.count(), want.length, `${what}: rows in the table`);
    const read = (loc: typeof strip) => loc.evaluateAll((els) => els.map((e) => [e.getAttribute('data-position'), e.getAttribute('data-a'), e.getAttribute('data-b'), e.getAttribute('data-diff')]));
    for (const [source, cells] of [['strip', await read(strip)], ['table', await read(rows)]] as const) {
      cells.forEach(([position, a, b, diff], t) => {
        assert.equal(Number(position), t);
        const w = want[t];
        if (!w || w.diff === null) {
          assert.deepEqual([a, b, diff], [null, null, null], `${what}, ${source}, token ${t}: no value`);
          return;
        }
        assertClose(a, w.a!, `${what}, ${source}, token ${t}, A`);
        assertClose(b, w.b!, `${what}, ${source}, token ${t}, B`);
        assertClose(diff, w.diff, `${what}, ${source}, token ${t}, B − A`);
      });
    }
    assert.ok(want.some((w) => w && w.diff !== null && w.diff !== 0), `${what}: the checkpoints differ somewhere`);
  }

  async function choose(view: Frame, picker: string, option: string | RegExp): Promise<void> {
    await view.locator(picker).click();
    // The list must open in sight (above the picker at the bottom of the view): no scrolling helps a popover.
    await view.locator(`${picker} [role="option"]`, { hasText: option }).first().click({ timeout: 5000 });
  }

  async function assertChoice(view: Frame, quantity: string, layer?: number, offset?: number): Promise<void> {
    const choice = view.locator(`#compare-choice[data-quantity="${quantity}"]${layer === undefined ? '' : `[data-layer="${layer}"]`}${offset === undefined ? '' : `[data-offset="${offset}"]`}`);
    await choice.waitFor({ timeout: UI_TIMEOUT_MS });
  }

  it('palette flow epoch_1.pt vs best.pt on a typed text: the report equals compare --text --json', async () => {
    await timed('palette flow', timings, async () => {
      await runCommand(page, COMMAND);
      await pick(1, 'tiny-grassmann/checkpoints/epoch_1.pt', 'checkpoints/epoch_1.pt');
      await waitForStep(2);
      await screenshot(page, SCENARIO, 'a-pick-b');
      await pick(2, 'best.pt');
      await typeText(TEXT);
    });
    const view = await timed('comparison and report', timings, async () => {
      const f = await frameWith('#compare-angles-table');
      await f.locator('#compare-angles-chart svg').waitFor({ timeout: UI_TIMEOUT_MS });
      await f.locator('#compare-series svg').waitFor({ timeout: UI_TIMEOUT_MS });
      return f;
    });
    await screenshot(page, SCENARIO, 'b-report');
    assert.equal(await page.locator('.tabs-container .tab.active').innerText().then((t) => t.replace(/\s+/g, ' ').trim()), 'Compare: epoch_1.pt ↔ best.pt');
    assert.match(await view.locator('#compare-summary').innerText(), new RegExp(`Backend / time\\s+${expected.text.backend},`));

    // weights: every principal angle of every layer, in the table and the chart
    const layers = view.locator('#compare-angles tr[data-layer][data-max-angle]');
    assert.equal(await layers.count(), expected.layers.length);
    for (const { layer, reduce } of expected.layers) {
      const row = view.locator(`#compare-angles tr[data-layer="${layer}"]`);
      assertClose(await row.getAttribute('data-max-angle'), reduce.maxAngle, `layer ${layer} largest angle`);
      assertClose(await row.getAttribute('data-geodesic'), reduce.geodesic, `layer ${layer} geodesic`);
      assertClose(await row.getAttribute('data-projection'), reduce.projection, `layer ${layer} projection`);
      const angles = JSON.parse((await row.getAttribute('data-angles'))!) as number[];
      assert.equal(angles.length, reduce.angles.length);
      angles.forEach((a, i) => assert.ok(close(a, reduce.angles[i]), `layer ${layer} angle ${i}: ${a} vs ${reduce.angles[i]}`));
      assertClose(await view.locator(`#compare-angles-chart rect.angle-bar[data-layer="${layer}"]`).getAttribute('data-max-angle'), reduce.maxAngle, `chart bar ${layer}`);
    }
    for (const [i, row] of expected.crossLayer.entries()) {
      for (const [j, v] of row.entries()) assertClose(await view.locator(`#compare-cross tr[data-layer="${i}"] td[data-b-layer="${j}"]`).getAttribute('data-value'), v, `cross ${i},${j}`);
    }

    // per token: the default quantity is the plane area of the first (layer, offset)
    const tokens = expected.text.tokens;
    const first = expected.text.planes[0];
    await assertChoice(view, 'area', first.layer, first.offset);
    await assertTokens(view, tokens.map((t) => t.area[0]), `area layer ${first.layer} d ${first.offset}`);
    // area at layer 3, offset 4
    await choose(view, '#compare-layer', /^\s*3\s*$/);
    await assertChoice(view, 'area', 3);
    await choose(view, '#compare-offset', /^\s*4\s*$/);
    await assertChoice(view, 'area', 3, 4);
    const k = expected.text.planes.findIndex((p) => p.layer === 3 && p.offset === 4);
    await assertTokens(view, tokens.map((t) => t.area[k]), 'area layer 3 d 4');
    await screenshot(page, SCENARIO, 'c-area-3-4');
    // gate openness at layer 2 (the layer picker stays where it was: pick 2)
    await choose(view, '#compare-quantity', 'gate openness');
    await assertChoice(view, 'gate');
    await choose(view, '#compare-layer', /^\s*2\s*$/);
    await assertChoice(view, 'gate', 2);
    await assertTokens(view, tokens.map((t) => t.gate[2]), 'gate layer 2');
    // input relevance
    await choose(view, '#compare-quantity', 'input relevance');
    await assertChoice(view, 'relevance');
    await assertTokens(view, tokens.map((t) => t.relevance), 'relevance');
    await screenshot(page, SCENARIO, 'd-relevance');

    // the means per layer and offset
    for (const s of expected.text.summary.layers) {
      const row = view.locator(`#compare-means tr[data-layer="${s.layer}"]`);
      assertClose(await row.getAttribute('data-area'), s.area.meanAbsDiff, `mean |Δ area| layer ${s.layer}`);
      assertClose(await row.getAttribute('data-gate'), s.gate.meanAbsDiff, `mean |Δ gate| layer ${s.layer}`);
      for (const o of s.areaByOffset) assertClose(await row.locator(`td[data-offset="${o.offset}"]`).getAttribute('data-value'), o.meanAbsDiff, `mean |Δ area| layer ${s.layer} d ${o.offset}`);
    }
    assertClose(await view.locator('#compare-means-relevance').getAttribute('data-value'), expected.text.summary.relevance!.meanAbsDiff, 'mean |Δ relevance|');

    // keyboard: the token strip moves with the arrow keys; Enter selects the token's row
    await view.locator('#compare-tokens [data-position="0"]').focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await view.locator('#compare-readout[data-position="2"]').waitFor({ timeout: UI_TIMEOUT_MS });
    const r2 = tokens[2].relevance!;
    assert.equal(await view.locator('#compare-readout').innerText(), `${quoteToken(tokens[2].text)}@2: input relevance A ${formatNumber(r2.a)}, B ${formatNumber(r2.b)}, B − A ${formatNumber(r2.diff)}`);
    await page.keyboard.press('Enter');
    await view.locator('#compare-table tbody tr.selected[data-position="2"]').waitFor({ timeout: UI_TIMEOUT_MS });
    await page.keyboard.press('End');
    await view.locator(`#compare-readout[data-position="${tokens.length - 1}"]`).waitFor({ timeout: UI_TIMEOUT_MS });

    // the whole report as JSON: what the CLI prints
    const saved = join(workspace, 'compare-report.json');
    await view.locator('#compare-export-report').click();
    await answerSaveDialog(page, saved);
    await view.locator('#compare-notice', { hasText: saved }).waitFor({ timeout: UI_TIMEOUT_MS });
    assert.ok(existsSync(saved));
    const written = JSON.parse(readFileSync(saved, 'utf8')) as CompareTextReport;
    assert.deepEqual(written.layers, expected.layers);
    assert.deepEqual(written.text.tokens, expected.text.tokens);
    assert.deepEqual(written.text.summary, expected.text.summary);
    await screenshot(page, SCENARIO, 'e-exported');
    await runCommand(page, 'View: Close All Editors');
  });

  it('from the explorer: two selected checkpoints are A and B, the flow goes straight to the text', async () => {
    const row = (name: string) => page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name}"]`);
    /**
     * Opens a folder row. A click would close it again if the explorer already revealed a file in
     * it, and a click that lands while the explorer redraws (it refreshes when a file appears in the
     * workspace, e.g. the report the test before saved) is lost: so read the state, click only a
     * closed row, and try again until the row shows open.
     */
    const expand = async (name: string): Promise<void> => {
      const open = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name}"][aria-expanded="true"]`);
      const deadline = Date.now() + UI_TIMEOUT_MS;
      for (;;) {
        await row(name).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
        if ((await row(name).getAttribute('aria-expanded')) !== 'true') await row(name).click();
        try {
          await open.waitFor({ state: 'visible', timeout: 3_000 });
          return;
        } catch (e) {
          if (Date.now() > deadline) throw e;
        }
      }
    };
    await timed('explorer flow', timings, async () => {
      // the explorer in front (another view may hold the side bar), then its folders
      await runCommand(page, 'View: Show Explorer');
      await expand('tiny-grassmann');
      await expand('checkpoints');
      await row('epoch_1.pt').click();
      await row('best.pt').click({ modifiers: ['Control'] });
      await page.locator('.explorer-folders-view .monaco-list-row[aria-selected="true"]').nth(1).waitFor({ timeout: UI_TIMEOUT_MS });
      await row('best.pt').click({ button: 'right' });
      const item = page.locator('.context-view .action-item', { hasText: 'Compare Checkpoints…' });
      await item.waitFor({ timeout: UI_TIMEOUT_MS });
      await screenshot(page, SCENARIO, 'f-context-menu');
      await item.click();
      await typeText(LONG);
    });
    const view = await frameWith('#compare-angles-table');
    await view.locator('#compare-diff-chart svg').waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, SCENARIO, 'f-explorer');
    // A and B in the explorer's selection order; principal angles do not depend on it
    assert.match(await page.locator('.tabs-container .tab.active').innerText().then((t) => t.replace(/\s+/g, ' ').trim()), /^Compare: (epoch_1\.pt ↔ best\.pt|best\.pt ↔ epoch_1\.pt)$/);
    assert.match(await view.locator('#compare-summary td[data-key="text"]').innerText(), /^typed or selected text: 128 tokens \(the first 128 of \d+\)$/);
    assert.match(await view.locator('#compare-summary td[data-key="relevance"]').innerText(), /\(ε = 1e-6\)/);
    // 128 tokens: the B − A bars and the A/B lines keep their labels apart and inside the chart
    const diff = await assertReadableAxes(view.locator('#compare-diff-chart svg'), 'Compare B − A, 128 tokens');
    const tokenAxis = diff.find((a) => a.horizontal)!;
    assert.ok(tokenAxis.labels >= 20, `B − A labels ${tokenAxis.labels}`);
    measured.diff128 = { labels: tokenAxis.labels, minGapPx: tokenAxis.minGap };
    await assertReadableAxes(view.locator('#compare-series svg'), 'Compare A and B, 128 tokens');
    await view.locator('#compare-diff-chart').scrollIntoViewIfNeeded();
    await screenshot(page, SCENARIO, 'g-diff-128');
    assertClose(await view.locator('#compare-angles tr[data-layer="0"]').getAttribute('data-max-angle'), expected.layers[0].reduce.maxAngle, 'layer 0 largest angle');
  });
});
