/**
 * A quiet, conventional extension (issue 15), in a real VS Code (code-server) with the packaged
 * .vsix: a fresh training repo with no checkpoint gets the torch.save CodeLens (activation on
 * Python), the compute worker does not start until something needs it, the Getting Started
 * walkthrough opens the bundled example checkpoint in the checkpoint editor, and the text
 * analysis commands are offered in the Command Palette only once a text is bound.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import {
  checkPrerequisites, closeScenario, type CodeServer, openQuick, openScenarioPage, runCommand, screenshot, startCodeServer, statusBarItem,
  timed, UI_TIMEOUT_MS,
} from './harness';

const SCENARIO = 'activation';
const SCRIPT = 'train.py';
const NOTES = 'notes.txt';
const WALKTHROUGH_TITLE = 'Get Started with Grassmann Lens';

describe('Activation, walkthrough and palette in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  const timings = new Map<string, number>();
  const extra: Record<string, unknown> = {};

  before(async () => {
    checkPrerequisites();
    // A training repo before its first run: one script that calls torch.save, and no checkpoint anywhere.
    workspace = mkdtempSync(join(tmpdir(), `gl-e2e-ws-${SCENARIO}-`));
    writeFileSync(join(workspace, SCRIPT), 'import torch\n\ntorch.save(model.state_dict(), "checkpoints/epoch_1.pt")\n');
    writeFileSync(join(workspace, NOTES), 'the licensor grants you a worldwide, royalty-free license to use the software\n');
    server = await timed('code-server start', timings, () => startCodeServer({ name: SCENARIO, installExtension: true }));
    ({ browser, page } = await openScenarioPage(server, workspace, timings));
  });

  after(async () => {
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings, extra });
  });

  const quickInput = () => page.locator('.quick-input-widget');

  /** The palette's rows for `>text` (after the list has settled), then Escape. */
  async function paletteRows(text: string): Promise<string[]> {
    await quickInput().waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
    await page.keyboard.press('F1');
    const input = quickInput().locator('input');
    await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await input.fill(`>${text}`);
    await page.waitForTimeout(1000);
    const rows = await quickInput().locator('.monaco-list-row').allInnerTexts();
    await page.keyboard.press('Escape');
    return rows.map((r) => r.replace(/\s+/g, ' ').trim());
  }

  /** The palette lists `title` (retried: the extension's commands arrive a little after the workbench). */
  async function paletteOffers(title: string): Promise<void> {
    const deadline = Date.now() + UI_TIMEOUT_MS;
    for (;;) {
      const rows = await paletteRows(title);
      if (rows.some((r) => r.includes(title))) return;
      if (Date.now() > deadline) assert.fail(`the palette never offered "${title}"; it listed: ${rows.join(' | ')}`);
    }
  }

  /** The frame (of any webview) that shows `selector`: the getting-started page has webviews of its own. */
  async function frameWith(selector: string): Promise<Frame> {
    const deadline = Date.now() + UI_TIMEOUT_MS;
    for (;;) {
      for (const frame of page.frames()) {
        if (await frame.locator(selector).count().catch(() => 0)) return frame;
      }
      if (Date.now() > deadline) assert.fail(`no webview showed ${selector}`);
      await page.waitForTimeout(250);
    }
  }

  it('a training script with torch.save and no checkpoint shows "Watch this run"; the worker has not started', async () => {
    await timed('CodeLens on train.py', timings, async () => {
      await openQuick(page, SCRIPT);
      const lens = page.locator('.monaco-editor .codelens-decoration', { hasText: 'Watch this run' });
      await lens.first().waitFor({ timeout: UI_TIMEOUT_MS });
      assert.ok((await page.locator('.monaco-editor .codelens-decoration', { hasText: 'Open latest checkpoint' }).count()) > 0);
    });
    await screenshot(page, SCENARIO, 'a-codelens');
    // Activation registered providers and commands only: no worker, so no backend status item.
    assert.equal(await statusBarItem(page, 'grassmannLens.backend').count(), 0, 'the compute backend status item shows only once the worker has started');
  });

  it('activation time, as Developer: Show Running Extensions reports it', async () => {
    // Informational (written to the timings file); the web workbench may not have the view.
    try {
      await runCommand(page, 'Developer: Show Running Extensions');
      const row = page.locator('.runtime-extensions-editor .monaco-list-row', { hasText: 'Grassmann Lens' }).first();
      await row.waitFor({ timeout: 20_000 });
      const text = (await row.innerText()).replace(/\s+/g, ' ');
      const activation = /(\d+)\s*ms/.exec(text);
      extra.activation = activation ? { ms: Number(activation[1]), row: text } : { row: text };
      console.log(`running extensions: ${text}`);
      await screenshot(page, SCENARIO, 'b-running-extensions');
      await runCommand(page, 'View: Close Editor');
    } catch (e) {
      extra.activation = `not measured: ${(e as Error).message}`;
      await page.keyboard.press('Escape');
    }
  });

  it('with no text bound the palette does not offer Toggle Token Colours (nor Colour Tokens By…, Clear Text Analysis)', async () => {
    // The extension's commands are in the palette (so the check below is not vacuous)…
    await paletteOffers('Grassmann Lens: Analyze This Text');
    // …but not those that need a bound text.
    for (const title of ['Grassmann Lens: Toggle Token Colours', 'Grassmann Lens: Colour Tokens By…', 'Grassmann Lens: Clear Text Analysis', 'Grassmann Lens: Stop Watching Training Run']) {
      const rows = await paletteRows(title);
      assert.ok(!rows.some((r) => r.includes(title)), `"${title}" is not offered; the palette listed: ${rows.join(' | ')}`);
    }
  });

  it('the Getting Started walkthrough opens; its first step opens the example checkpoint in the checkpoint editor', async () => {
    await timed('walkthrough → example', timings, async () => {
      await runCommand(page, 'Welcome: Open Walkthrough...');
      await quickInput().locator('.monaco-list-row', { hasText: WALKTHROUGH_TITLE }).first().click({ timeout: UI_TIMEOUT_MS });
      const step = page.locator('.getting-started-step', { hasText: 'Open the example checkpoint' }).first();
      await step.waitFor({ timeout: UI_TIMEOUT_MS });
      await screenshot(page, SCENARIO, 'c-walkthrough');
      await step.click();
      const button = step.locator('.button-link, button, a', { hasText: 'Open Example Checkpoint' }).first();
      await button.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
      await button.click();
      await page.locator('.tabs-container .tab.active', { hasText: 'model.safetensors' }).waitFor({ timeout: UI_TIMEOUT_MS });
      const editor = await frameWith('#summary');
      const summary = editor.locator('#summary');
      await summary.locator('text=Architecture').first().waitFor({ timeout: UI_TIMEOUT_MS });
      const text = await summary.innerText();
      assert.match(text, /Architecture\s+GrassmannGPT/);
      assert.match(text, /Layers \(L\)\s+4/);
      assert.match(text, /Model width \(d\)\s+64/);
      await editor.locator('#architecture svg').waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await screenshot(page, SCENARIO, 'd-example');
    // Opening a checkpoint is the first use: the worker started and the status bar names its backend.
    await statusBarItem(page, 'grassmannLens.backend').filter({ hasText: /GL: (tensorflow-gpu|webgpu|tensorflow|wasm|cpu)\b/ }).waitFor({ timeout: UI_TIMEOUT_MS });
  });

  it('once a text is analysed, the palette offers Toggle Token Colours, and it works', async () => {
    await timed('analyze notes.txt with the example', timings, async () => {
      await openQuick(page, NOTES);
      // The example is the one checkpoint open in a Grassmann Lens editor, so it is taken without a question.
      await runCommand(page, 'Grassmann Lens: Analyze This Text');
      await statusBarItem(page, 'grassmannLens.tokenColors').filter({ hasText: 'GL: relevance' }).waitFor({ timeout: UI_TIMEOUT_MS });
    });
    await paletteOffers('Grassmann Lens: Toggle Token Colours');
    await paletteOffers('Grassmann Lens: Clear Text Analysis');
    await runCommand(page, 'Grassmann Lens: Toggle Token Colours');
    await statusBarItem(page, 'grassmannLens.tokenColors').filter({ hasText: 'GL: colours off' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, SCENARIO, 'e-bound');
    await runCommand(page, 'Grassmann Lens: Clear Text Analysis');
    await statusBarItem(page, 'grassmannLens.tokenColors').waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
    const rows = await paletteRows('Grassmann Lens: Toggle Token Colours');
    assert.ok(!rows.some((r) => r.includes('Toggle Token Colours')), `not offered after Clear; listed: ${rows.join(' | ')}`);
  });
});
