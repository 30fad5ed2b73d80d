/**
 * Live training runs in a real VS Code (code-server), driven with Playwright: the CodeLens over a
 * `torch.save` line of a Python script, "Watch this run" from it (the run's latest checkpoint by
 * saved epoch opens beside the script, although a copy made its mtime the oldest), and a checkpoint written into the watched folder in two parts (as a slow
 * torch.save would) appearing in the drift view with its saved val_loss / val_ppl, once and only
 * when complete.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import {
  activeWebview, checkPrerequisites, closeScenario, type CodeServer, makeWorkspace, openQuick, openScenarioPage, screenshot,
  startCodeServer, statusBarItem, timed, UI_TIMEOUT_MS,
} from './harness';

const SCENARIO = 'run';

const SCRIPT = `import torch

out_dir = "runs/exp"


def save_checkpoint(model, epoch, val_loss):
    torch.save({"model_state_dict": model.state_dict(), "epoch": epoch, "val_loss": val_loss}, f"{out_dir}/epoch_{epoch}.pt")
`;

describe('Watch a training run in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  const timings = new Map<string, number>();

  const fixture = (name: string) => join(workspace, 'tiny-grassmann', 'checkpoints', name);
  const runDir = () => join(workspace, 'runs', 'exp');

  before(async () => {
    checkPrerequisites();
    workspace = makeWorkspace(SCENARIO);
    // The run so far, as a copy or clone leaves it: best.pt (saved at epoch 3) copied first, so its
    // mtime is the oldest, then epochs 1 and 2; the model's config and tokenizer beside them.
    mkdirSync(runDir(), { recursive: true });
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']) copyFileSync(join(workspace, 'tiny-grassmann', f), join(runDir(), f));
    for (const [i, name] of ['best.pt', 'epoch_1.pt', 'epoch_2.pt'].entries()) {
      copyFileSync(fixture(name), join(runDir(), name));
      const t = new Date(Date.now() - (10 - i) * 60_000);
      utimesSync(join(runDir(), name), t, t);
    }
    writeFileSync(join(workspace, 'train.py'), SCRIPT);
    server = await timed('code-server start', timings, () => startCodeServer({ name: SCENARIO, installExtension: true }));
    ({ browser, page } = await openScenarioPage(server, workspace, timings));
  });

  after(async () => {
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings });
  });

  const webview = (): FrameLocator => activeWebview(page);

  it('shows CodeLens over torch.save; "Watch this run" opens the latest checkpoint by saved epoch (best.pt) and a new one arrives in the drift view once complete', async () => {
    await openQuick(page, 'train.py');
    const lenses = page.locator('.contentWidgets .codelens-decoration');
    await lenses.filter({ hasText: 'Watch this run' }).first().waitFor({ timeout: UI_TIMEOUT_MS });
    const text = (await lenses.first().innerText()).replace(/\s+/g, ' ');
    assert.match(text, /Open latest checkpoint/);
    assert.match(text, /Watch this run/);

    await timed('watch this run: latest opens', timings, async () => {
      await lenses.locator('a', { hasText: 'Watch this run' }).first().click();
      await page.locator('.tabs-container .tab', { hasText: 'best.pt' }).waitFor({ timeout: UI_TIMEOUT_MS });
      await statusBarItem(page, 'grassmannLens.run').filter({ hasText: 'exp: 3 checkpoints' }).waitFor({ timeout: UI_TIMEOUT_MS });
    });
    assert.equal(await page.locator('.tabs-container .tab', { hasText: 'epoch_2.pt' }).count(), 0, 'the newest file (epoch_2.pt) is not the latest checkpoint');
    // The checkpoint view opened beside the script; give it the focus to drive it.
    await page.locator('.tabs-container .tab', { hasText: 'best.pt' }).click();
    await webview().locator('#summary').waitFor({ timeout: UI_TIMEOUT_MS });
    await webview().locator('vscode-tab-header[data-view="drift"]').click();
    await webview().locator('#drift-watching').waitFor({ timeout: UI_TIMEOUT_MS });
    await webview().locator('#drift-button').click();
    const rows = webview().locator('#drift-metrics tbody tr');
    await rows.nth(2).waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(await rows.count(), 3);
    assert.equal(await webview().locator('#drift-metrics tr[data-checkpoint="epoch_2.pt"] td[data-metric="val_ppl"]').getAttribute('data-value'), '45.43274761408276');

    // epoch 3 written in two parts, 2.5 s apart: the half-written zip must not show up.
    const bytes = readFileSync(fixture('best.pt'));
    const target = join(runDir(), 'epoch_3.pt');
    writeFileSync(target, bytes.subarray(0, bytes.length >> 1));
    await page.waitForTimeout(2500);
    assert.equal(await webview().locator('#drift-metrics tr[data-checkpoint="epoch_3.pt"]').count(), 0, 'not shown while half written');
    appendFileSync(target, bytes.subarray(bytes.length >> 1));
    const written = Date.now();
    const row = webview().locator('#drift-metrics tr[data-checkpoint="epoch_3.pt"]');
    await row.waitFor({ timeout: 30_000 });
    timings.set('complete checkpoint -> drift view', Date.now() - written);
    assert.equal(await row.getAttribute('data-epoch'), '3');
    assert.equal(await row.locator('td[data-metric="val_loss"]').getAttribute('data-value'), '3.6884889602661133');
    assert.equal(await row.locator('td[data-metric="val_ppl"]').getAttribute('data-value'), '39.984383295399056');
    assert.equal(await rows.count(), 4, 'each checkpoint once');
    await webview().locator('#drift-table tbody tr').first().waitFor({ timeout: UI_TIMEOUT_MS });
    await statusBarItem(page, 'grassmannLens.run').filter({ hasText: 'exp: 4 checkpoints' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, SCENARIO, 'epoch-3-arrived');
    console.log(`complete checkpoint -> drift view: ${timings.get('complete checkpoint -> drift view')} ms`);
  });
});
