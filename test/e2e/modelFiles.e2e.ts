/**
 * A checkpoint without its config or tokenizer, fixed from VS Code (issue 16): a lonely best.pt
 * fails to run ("no tokenizer found") and assumes its windows; Choose Config… (from the palette)
 * and Choose Tokenizer… (the button under the run's error) give it the fixture's files through
 * VS Code's own file dialog; it then runs with the fixture tokenizer's tokens and the config's
 * windows, and after Developer: Reload Window the choice is still there.
 *
 * Expected values come from the compute worker run in this process with the same files given
 * explicitly (the CLI's --config / --tokenizer), so they follow the real files.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ComputeClient } from '../../src/worker/client';
import {
  activeWebview, answerFileDialog, checkPrerequisites, closeScenario, type CodeServer, openQuick, openScenarioPage, repoRoot, runCommand, screenshot,
  startCodeServer, timed, UI_TIMEOUT_MS, workbenchUrl, openWorkbench,
} from './harness';

const SCENARIO = 'model-files';
const SENTENCE = 'the licensor grants you a license';

describe('Choose Config and Choose Tokenizer in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  let reference: ComputeClient;
  const timings = new Map<string, number>();
  const fixture = join(repoRoot, 'test', 'fixtures', 'tiny-grassmann');
  const checkpoint = () => join(workspace, 'lonely', 'best.pt');
  const config = () => join(workspace, 'model-files', 'config.json');
  const vocab = () => join(workspace, 'model-files', 'vocab.txt');

  before(async () => {
    checkPrerequisites();
    // best.pt alone in its folder; its config and tokenizer in another folder nothing searches.
    workspace = mkdtempSync(join(tmpdir(), `gl-e2e-ws-${SCENARIO}-`));
    mkdirSync(join(workspace, 'lonely'));
    mkdirSync(join(workspace, 'model-files'));
    copyFileSync(join(fixture, 'checkpoints', 'best.pt'), checkpoint());
    copyFileSync(join(fixture, 'config.json'), config());
    copyFileSync(join(fixture, 'vocab.txt'), vocab());
    server = await timed('code-server start', timings, () => startCodeServer({ name: SCENARIO, installExtension: true }));
    reference = new ComputeClient({ workerPath: join(repoRoot, 'dist', 'worker.js'), nativeModulesDir: join(server.home, 'native') });
    ({ browser, page } = await openScenarioPage(server, workspace, timings));
  });

  after(async () => {
    await reference?.dispose();
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings });
  });

  const webview = () => activeWebview(page);
  const tab = (view: string) => webview().locator(`vscode-tab-header[data-view="${view}"]`);
  /** The Overview's model-files row of `path`, chosen in VS Code. */
  async function chosenShown(path: string): Promise<void> {
    await tab('overview').click();
    await webview().locator('#model-files [data-origin="chosen"]', { hasText: path }).waitFor({ timeout: UI_TIMEOUT_MS });
  }

  async function runSentence(): Promise<void> {
    await tab('run').click();
    await webview().locator('#run-text').click();
    // The view keeps the last text: replace it.
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Backspace');
    await page.waitForTimeout(200);
    await page.keyboard.type(SENTENCE);
    await webview().locator('#run-button').click();
  }

  /** Runs the sentence: the token strip shows the tokens of `expected` (the worker's own run). */
  async function runsWithTokensOf(expected: { tokens: { text: string }[] }): Promise<void> {
    await runSentence();
    await webview().locator('#run-table').waitFor({ timeout: UI_TIMEOUT_MS });
    const tokens = await webview().locator('#token-strip .token').allInnerTexts();
    assert.deepEqual(tokens, expected.tokens.map((t) => t.text));
  }

  it('alone, best.pt assumes its windows and cannot run: the error offers Choose Tokenizer…', async () => {
    const alone = await reference.request('modelReport', { path: checkpoint() });
    assert.equal(alone.windowSource, 'assumed');
    await timed('open the lonely checkpoint', timings, async () => {
      await openQuick(page, 'best.pt');
      await webview().locator('#model-files', { hasText: 'none found: the values marked assumed are defaults' }).waitFor({ timeout: UI_TIMEOUT_MS });
      await webview().locator('#model-files', { hasText: 'no tokenizer found' }).waitFor({ timeout: UI_TIMEOUT_MS });
      await runSentence();
      await webview().locator('#run-error', { hasText: 'no tokenizer found' }).waitFor({ timeout: UI_TIMEOUT_MS });
      await webview().locator('#run-error vscode-button.choose-file[data-kind="tokenizer"]').waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await screenshot(page, SCENARIO, 'a-no-tokenizer');
  });

  it('Choose Config… from the palette: the model takes the config\'s windows', async () => {
    const withConfig = await reference.request('modelReport', { path: checkpoint(), config: config() });
    assert.equal(withConfig.windowSource, 'config');
    await timed('choose the config', timings, async () => {
      await runCommand(page, 'Grassmann Lens: Choose Config…');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Choose a config file…' }).first().click({ timeout: UI_TIMEOUT_MS });
      await answerFileDialog(page, config());
      await webview().locator('#notice', { hasText: 'best.pt now runs with the chosen files.' }).waitFor({ timeout: UI_TIMEOUT_MS });
      await chosenShown(config());
    });
    const summary = await webview().locator('#summary').innerText();
    assert.ok(!/assumed/.test(summary.split('\n').find((l) => l.startsWith('Windows')) ?? 'Windows assumed'), `windows come from the config: ${summary}`);
    await screenshot(page, SCENARIO, 'b-config-chosen');
  });

  it('Choose Tokenizer… from the run\'s error: the text runs with the fixture tokenizer\'s tokens', async () => {
    const expected = await reference.request('run', { checkpoint: checkpoint(), config: config(), tokenizer: vocab(), text: SENTENCE });
    await timed('choose the tokenizer and run', timings, async () => {
      await runSentence();
      await webview().locator('#run-error vscode-button.choose-file[data-kind="tokenizer"]').click({ timeout: UI_TIMEOUT_MS });
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Choose a tokenizer file…' }).first().click({ timeout: UI_TIMEOUT_MS });
      await answerFileDialog(page, vocab());
      await chosenShown(vocab());
      await runsWithTokensOf(expected);
    });
    await screenshot(page, SCENARIO, 'c-runs');
  });

  it('the choices survive a reload of the window', async () => {
    const expected = await reference.request('run', { checkpoint: checkpoint(), config: config(), tokenizer: vocab(), text: SENTENCE });
    await timed('reload and run again', timings, async () => {
      await runCommand(page, 'Developer: Reload Window');
      await page.waitForTimeout(1000);
      await openWorkbench(page, workbenchUrl(server, workspace));
      // The reloaded window may restore the editor; open it either way.
      await openQuick(page, 'best.pt');
      await chosenShown(config());
      await chosenShown(vocab());
      await runsWithTokensOf(expected);
    });
    await screenshot(page, SCENARIO, 'd-after-reload');
  });
});
