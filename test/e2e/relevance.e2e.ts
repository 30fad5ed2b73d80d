/**
 * The checkpoint editor's Relevance tab in a real VS Code (code-server), driven with Playwright:
 * a text run on the Run tab is explained on the Relevance tab, and the numbers the page holds
 * (the signed account, conservation rows, start, per-token relevance) equal the CLI's `relevance --json`
 * on the same text and rules; switching the rule re-explains with the CLI's numbers for it; the
 * tab, its controls and its token strip work from the keyboard.
 *
 * The CLI runs with the harness's private native-modules folder, as the extension's worker does,
 * so both pick the same backend (asserted: the report names it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import type { RelevanceReport } from '../../src/core/relevance';
import { formatNumber, quoteToken } from '../../webview/format';
import {
  activeWebview, answerSaveDialog, assertReadableAxes, checkPrerequisites, closeScenario, type CodeServer, makeWorkspace, openQuick, openScenarioPage,
  repoRoot, screenshot, startCodeServer, timed, UI_TIMEOUT_MS,
} from './harness';

const SCENARIO = 'relevance';
const TEXT = 'the licensor grants you a license';

describe('The Relevance tab of the checkpoint editor in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  const timings = new Map<string, number>();
  const measured: Record<string, unknown> = {};

  before(async () => {
    checkPrerequisites();
    workspace = makeWorkspace(SCENARIO);
    server = await timed('code-server start', timings, () => startCodeServer({ name: SCENARIO, installExtension: true }));
    ({ browser, page } = await openScenarioPage(server, workspace, timings));
  });

  after(async () => {
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings, extra: { measured } });
  });

  const bestPt = () => join(workspace, 'tiny-grassmann', 'checkpoints', 'best.pt');
  const webview = (): FrameLocator => activeWebview(page);
  const tab = (view: string) => webview().locator(`vscode-tab-header[data-view="${view}"]`);

  /** The CLI's report for the same checkpoint, text and rules (and the same native-modules folder: the same backend). */
  function cliRelevance(rule: string, gate: string): RelevanceReport {
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli.js'), 'relevance', bestPt(), '--text', TEXT, '--rule', rule, '--gate', gate, '--json'],
      { encoding: 'utf8', env: { ...process.env, GRASSMANN_LENS_NATIVE_DIR: join(server.home, 'native') }, timeout: 120_000 });
    assert.equal(r.status, 0, `CLI relevance failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as RelevanceReport;
  }

  /** Equal within 1e-9 relative (exactly equal for a 0). */
  const close = (a: number, b: number) => a === b || Math.abs(a - b) <= 1e-9 * Math.abs(b);

  /** Asserts that what the page shows is `expected`: rules, backend, start, the account, every conservation row, every token. */
  async function assertShows(expected: RelevanceReport): Promise<void> {
    const summary = webview().locator('#relevance-summary');
    assert.equal(await summary.getAttribute('data-rule'), expected.options.rule);
    assert.equal(await summary.getAttribute('data-gate'), expected.options.gate);
    assert.equal(await summary.getAttribute('data-backend'), expected.backend, 'the editor\'s worker and the CLI ran on the same backend');
    const start = Number(await webview().locator('#relevance-start').getAttribute('data-value'));
    assert.ok(close(start, expected.start), `start ${start} vs CLI ${expected.start}`);
    for (const [id, want] of [['start', expected.accounting.start], ['input', expected.accounting.input], ['bias', expected.accounting.bias], ['epsilon', expected.accounting.epsilon], ['remainder', expected.accounting.remainder]] as const) {
      const shown = Number(await webview().locator(`#relevance-account-${id}`).getAttribute('data-value'));
      assert.ok(close(shown, want), `account ${id}: ${shown} vs CLI ${want}`);
    }
    assert.equal(await webview().locator('#relevance-accounting').getAttribute('data-meaningful'), String(expected.accounting.ratiosMeaningful));

    const rows = webview().locator('#relevance-conservation tbody tr');
    assert.equal(await rows.count(), expected.conservation.length);
    for (let i = 0; i < expected.conservation.length; i++) {
      const want = expected.conservation[i];
      const row = rows.nth(i);
      assert.equal(await row.getAttribute('data-stage'), want.stage);
      for (const key of ['upper', 'lower', 'bias', 'epsilon', 'remainder'] as const) {
        const shown = Number(await row.getAttribute(`data-${key}`));
        assert.ok(close(shown, want[key]), `${want.stage} ${key}: ${shown} vs CLI ${want[key]}`);
      }
    }

    const tokens = webview().locator('#relevance-tokens [data-position]');
    assert.equal(await tokens.count(), expected.length);
    assert.deepEqual(await tokens.allInnerTexts(), expected.tokens_text.slice(0, expected.length).map((t) => t.text));
    for (let i = 0; i < expected.length; i++) {
      const token = tokens.nth(i);
      assert.equal(Number(await token.getAttribute('data-position')), i);
      const shown = Number(await token.getAttribute('data-relevance'));
      const want = expected.tokens[i] + expected.positionEmbedding[i];
      assert.ok(close(shown, want), `token ${i}: ${shown} vs CLI ${want}`);
    }
  }

  /** Waits for a report of `rule` to replace whatever the view showed. */
  async function waitForReport(rule: string): Promise<void> {
    await webview().locator(`#relevance-summary[data-rule="${rule}"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    await webview().locator('#relevance-token-chart svg').waitFor({ timeout: UI_TIMEOUT_MS });
  }

  it('explains the Run tab\'s text (epsilon, signal takes all): the signed account, conservation and token relevance equal the CLI\'s relevance --json', async () => {
    const expected = cliRelevance('epsilon', 'signal-take-all');
    await timed('open best.pt', timings, async () => {
      await openQuick(page, 'best.pt');
      await webview().locator('#summary').waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await timed('run the text', timings, async () => {
      await tab('run').click();
      await webview().locator('#run-text').click();
      await page.keyboard.type(TEXT);
      await webview().locator('#run-button').click();
      await webview().locator('#run-table').waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await tab('relevance').click();
    await webview().locator('#relevance-text', { hasText: TEXT }).waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(await webview().locator('#relevance-rule').evaluate((el) => (el as unknown as { value: string }).value), 'epsilon');
    assert.equal(await webview().locator('#relevance-gate').evaluate((el) => (el as unknown as { value: string }).value), 'signal-take-all');
    await timed('explain (epsilon)', timings, async () => {
      await webview().locator('#relevance-button').click();
      await waitForReport('epsilon');
    });
    await assertShows(expected);
    measured.epsilon = {
      accounting: { ...expected.accounting, biases: undefined },
      shownAccount: await webview().locator('#relevance-accounting').innerText(),
      start: expected.start,
      workerSeconds: Number(await webview().locator('#relevance-summary').getAttribute('data-seconds')),
      cliSeconds: expected.seconds,
      backend: expected.backend,
    };
    // the unit charts of a layer draw (FFN neurons, z dimensions, Plücker pairs), the offsets' shares too
    for (const id of ['relevance-offsets', 'relevance-ffn', 'relevance-z', 'relevance-pairs']) await webview().locator(`#${id} svg`).waitFor({ timeout: UI_TIMEOUT_MS });
    const bars = webview().locator('#relevance-ffn rect.bar');
    assert.equal(await bars.count(), expected.layers[0].ffnNeurons.length);
    assert.ok(close(Number(await bars.nth(3).getAttribute('data-value')), expected.layers[0].ffnNeurons[3]), 'FFN neuron 3 of layer 0');
    const shares = webview().locator('#relevance-offsets rect.group-bar');
    assert.equal(await shares.count(), expected.layers.reduce((n, l) => n + l.offsets.length, 0));
    assert.ok(close(Number(await shares.first().getAttribute('data-value')), expected.layers[0].offsets[0].share), 'share of the first offset of layer 0');
    // no gate dimensions under signal-take-all: the view says so instead of drawing zeros
    await webview().locator('#relevance-gate-note').waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, SCENARIO, 'a-epsilon');
    await webview().locator('#relevance-offsets').scrollIntoViewIfNeeded();
    await screenshot(page, SCENARIO, 'a-epsilon-layers');
    await webview().locator('#relevance-pairs').scrollIntoViewIfNeeded();
    await screenshot(page, SCENARIO, 'a-epsilon-units');
    await webview().locator('#relevance-view').evaluate((el) => el.scrollIntoView());

    // the conservation table exports as CSV (a table: no SVG/PNG buttons), with the CLI's numbers
    const bar = webview().locator('.export-bar[aria-label="Export relevance-conservation-epsilon"]');
    assert.deepEqual(await bar.locator('vscode-button').allInnerTexts(), ['CSV', 'JSON']);
    const target = join(workspace, 'conservation.csv');
    await timed('export conservation CSV', timings, async () => {
      await bar.locator('vscode-button', { hasText: 'CSV' }).click();
      await answerSaveDialog(page, target);
      await webview().locator('#notice', { hasText: `Saved ${target}` }).waitFor({ timeout: UI_TIMEOUT_MS });
    });
    const [header, ...lines] = readFileSync(target, 'utf8').trim().split('\n');
    assert.equal(header, 'stage,upper,lower,bias,epsilon,remainder');
    assert.deepEqual(lines, expected.conservation.map((s) => [s.stage, s.upper, s.lower, s.bias, s.epsilon, s.remainder].join(',')));
  });

  it('switching the rule to z-plus re-explains: the values become the CLI\'s zplus values', async () => {
    const expected = cliRelevance('zplus', 'signal-take-all');
    const epsilon = cliRelevance('epsilon', 'signal-take-all');
    assert.notEqual(expected.accounting.input, epsilon.accounting.input, 'the fixture gives different numbers under the two rules');
    await timed('explain (zplus)', timings, async () => {
      await webview().locator('#relevance-rule').click();
      await webview().locator('#relevance-rule [role="option"]', { hasText: 'z-plus' }).click();
      await waitForReport('zplus');
    });
    await assertShows(expected);
    measured.zplus = {
      accounting: { ...expected.accounting, biases: undefined },
      shownAccount: await webview().locator('#relevance-accounting').innerText(),
      workerSeconds: Number(await webview().locator('#relevance-summary').getAttribute('data-seconds')),
    };
    await screenshot(page, SCENARIO, 'b-zplus');
  });

  it('works from the keyboard: the tab is reached with the arrow keys, the rule is picked and the tokens read with the keyboard', async () => {
    const expected = cliRelevance('epsilon', 'signal-take-all');
    // from the Run tab's header to the Relevance tab's with the arrow keys, Enter selects it
    await tab('run').click();
    await webview().locator('#run-view').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await tab('run').focus();
    const focusedView = () => webview().locator(':focus').getAttribute('data-view');
    for (let k = 0; k < 10 && (await focusedView()) !== 'relevance'; k++) await page.keyboard.press('ArrowRight');
    assert.equal(await focusedView(), 'relevance', 'ArrowRight reaches the Relevance tab');
    await page.keyboard.press('Enter');
    await webview().locator('#relevance-view').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    assert.equal(await tab('relevance').getAttribute('aria-selected'), 'true');

    // the rule picker: focus it, open with ArrowDown, move to epsilon (the first option), Enter
    await webview().locator('#relevance-rule').focus();
    await page.keyboard.press('ArrowDown');
    for (let k = 0; k < 3; k++) await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    await timed('explain (epsilon, keyboard)', timings, () => waitForReport('epsilon'));
    await assertShows(expected);

    // Explain again with the keyboard (Space on the focused button): a new request, the same numbers
    const before = await webview().locator('#relevance-summary').getAttribute('data-request-id');
    await webview().locator('#relevance-button').focus();
    await page.keyboard.press(' ');
    await webview().locator(`#relevance-summary:not([data-request-id="${before}"])`).waitFor({ timeout: UI_TIMEOUT_MS });
    await waitForReport('epsilon');
    await assertShows(expected);

    // the token strip: focus the first token, arrows move, the readout names the focused token's exact value
    await webview().locator('#relevance-tokens [data-position="0"]').focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const focused = webview().locator('#relevance-tokens :focus');
    assert.equal(await focused.getAttribute('data-position'), '2');
    await webview().locator('#relevance-token-readout[data-position="2"]').waitFor({ timeout: UI_TIMEOUT_MS });
    const want = expected.tokens[2] + expected.positionEmbedding[2];
    const third = `${quoteToken(expected.tokens_text[2].text)}@2: relevance ${formatNumber(want)} (token embedding ${formatNumber(expected.tokens[2])}, position ${formatNumber(expected.positionEmbedding[2])})`;
    assert.equal(await webview().locator('#relevance-token-readout').innerText(), third, 'the readout shows the value, formatted');
    assert.equal(await focused.getAttribute('title'), third, 'so does the title');
    assert.equal(Number(await focused.getAttribute('data-relevance')), want, 'the exact value stays in data-relevance');
    await page.keyboard.press('End');
    assert.equal(await webview().locator('#relevance-tokens :focus').getAttribute('data-position'), String(expected.length - 1));
    await screenshot(page, SCENARIO, 'c-keyboard');
  });

  it('the half gate policy gives the gate dimensions relevance: the bars equal the CLI\'s gate values', async () => {
    const expected = cliRelevance('epsilon', 'half');
    await timed('explain (epsilon, half)', timings, async () => {
      await webview().locator('#relevance-gate').click();
      await webview().locator('#relevance-gate [role="option"]', { hasText: 'half' }).click();
      await webview().locator('#relevance-summary[data-gate="half"]').waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await assertShows(expected);
    const gate = expected.layers[0].gate;
    assert.ok(gate.some((v) => v !== 0), 'the CLI gives layer 0\'s gate relevance under half');
    const bars = webview().locator('#relevance-gate-dims rect.bar');
    await bars.first().waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
    assert.equal(await bars.count(), gate.length);
    const k = gate.reduce((best, v, i) => (Math.abs(v) > Math.abs(gate[best]) ? i : best), 0);
    assert.ok(close(Number(await bars.nth(k).getAttribute('data-value')), gate[k]), `gate dimension ${k} of layer 0`);
    measured.half = { accounting: { ...expected.accounting, biases: undefined }, shownAccount: await webview().locator('#relevance-accounting').innerText() };
    await webview().locator('#relevance-gate-dims').scrollIntoViewIfNeeded();
    await screenshot(page, SCENARIO, 'd-half-gate');
  });

  it('at 128 tokens: the token and FFN-neuron bars keep their labels apart and inside the chart; ε reads "ε = 1e-6"', async () => {
    const long = readFileSync(join(workspace, 'tiny-grassmann', 'eval.txt'), 'utf8').slice(0, 1200);
    await tab('run').click();
    await webview().locator('#run-text').evaluate((el, text) => ((el as unknown as { value: string }).value = text), long);
    await webview().locator('#run-button').click();
    await webview().locator('#run-summary', { hasText: /^128 tokens / }).waitFor({ timeout: UI_TIMEOUT_MS });
    await tab('relevance').click();
    await timed('explain 128 tokens', timings, async () => {
      await webview().locator('#relevance-button').click();
      await webview().locator('#relevance-tokens [data-position="127"]').waitFor({ timeout: UI_TIMEOUT_MS });
      await webview().locator('#relevance-ffn svg').waitFor({ timeout: UI_TIMEOUT_MS });
    });
    assert.match(await webview().locator('#relevance-summary').innerText(), /^Rule epsilon \(ε = 1e-6\), gate/);
    const ffn = await assertReadableAxes(webview().locator('#relevance-ffn svg'), 'FFN neurons (256)');
    const neurons = ffn.find((a) => a.horizontal)!;
    assert.equal(await webview().locator('#relevance-ffn rect.bar').count(), 256);
    const tokens = await assertReadableAxes(webview().locator('#relevance-token-chart svg'), 'relevance per token, 128 tokens');
    measured.at128 = { ffnLabels: neurons.labels, ffnMinGapPx: neurons.minGap, tokenLabels: tokens.find((a) => a.horizontal)!.labels, tokenMinGapPx: tokens.find((a) => a.horizontal)!.minGap };
    for (const id of ['relevance-z', 'relevance-pairs', 'relevance-offsets']) await assertReadableAxes(webview().locator(`#${id} svg`), id);
    await webview().locator('#relevance-ffn').scrollIntoViewIfNeeded();
    await screenshot(page, SCENARIO, 'e-ffn-128');
    await webview().locator('#relevance-token-chart').scrollIntoViewIfNeeded();
    await screenshot(page, SCENARIO, 'e-tokens-128');
  });
});
