/**
 * Analyze This Text in a real VS Code (code-server), driven with Playwright: a text file of about
 * 300 tokens (three windows of the fixture's 128 positions) bound to model.safetensors from the
 * palette's checkpoint pick; hovering a word (and a sub-word piece) in each window shows the numbers
 * the CLI prints for that window's text — `features --json` (gate openness, plane areas),
 * `relevance --json` (token + position relevance), `distances --json` (nearest planes at layer 0,
 * d=1, geodesic) and `run --dump` (the token's loss) — as the hover writes them; each token span
 * carries the decoration colour of its relevance level; Toggle Token Colours removes and restores
 * them; an edit is analysed again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { encodeSafetensors } from '../../src/checkpoint/safetensorsWriter';
import { openTorchCheckpoint } from '../../src/checkpoint/torch';
import { readFloat32 } from '../../src/checkpoint/tensorData';
import { splitTextIntoWindows, type TextWindow } from '../../src/core/textWindows';
import { findTokenizer } from '../../src/tokenizer';
import { colorId, colorOf, formatValue, LEVELS, type ColorScale } from '../../src/extension/textTokens';
import {
  activeWebview, checkPrerequisites, closeScenario, type CodeServer, makeWorkspace, openQuick, openScenarioPage, repoRoot,
  runCommand, screenshot, startCodeServer, statusBarItem, timed, UI_TIMEOUT_MS,
} from './harness';

const SCENARIO = 'text-analysis';
const FILE = 'notes.txt';
const TEXT = readFileSync(join(repoRoot, 'test', 'fixtures', 'tiny-grassmann', 'eval.txt'), 'utf8').slice(0, 1400);

interface FeaturesJson {
  tokens: { text: string; id: number; start: number; end: number }[];
  layers: { layer: number; alphaMean: number[]; offsets: { offset: number; positions: number[]; area: number[]; degenerate: boolean[] }[] }[];
}
interface RelevanceJson { tokens: number[]; positionEmbedding: number[] }
interface DistancesJson { positions: number[]; matrix: (number | null)[][] }

/** What the CLI says about one window's text. */
interface WindowExpectation {
  window: TextWindow;
  text: string;
  features: FeaturesJson;
  relevance: RelevanceJson;
  distances: DistancesJson;
  nll: Float32Array;
}

describe('Analyze This Text in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  let model: string;
  let windows: WindowExpectation[];
  const timings = new Map<string, number>();

  function cli(...args: string[]): string {
    // The extension's worker loads native backends from the harness's private folder: so does the CLI here.
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli.js'), ...args], {
      encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28, env: { ...process.env, GRASSMANN_LENS_NATIVE_DIR: join(server.home, 'native') },
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  }

  before(async () => {
    checkPrerequisites();
    workspace = makeWorkspace(SCENARIO);
    writeFileSync(join(workspace, FILE), TEXT);
    model = join(workspace, 'tiny-grassmann', 'model.safetensors');
    server = await timed('code-server start', timings, () => startCodeServer({ name: SCENARIO, installExtension: true }));
    // The windows as the core cuts them (unit-tested against the tokenizer), and the CLI's numbers for each.
    const { tokenizer } = findTokenizer({ checkpointPath: model });
    const cut = splitTextIntoWindows(TEXT, tokenizer.encode(TEXT, { addSpecialTokens: false }), 128 - 2);
    assert.equal(cut.length, 3);
    windows = await Promise.all(cut.map(async (window, k) => {
      const text = TEXT.slice(window.start, window.end);
      const dump = join(workspace, `window-${k}.safetensors`);
      cli('run', model, '--text', text, '--dump', dump);
      const taps = await openSafetensors(dump);
      const nll = await readFloat32(taps.tensors.get('nll')!);
      await taps.close();
      rmSync(dump);
      return {
        window, text, nll,
        features: JSON.parse(cli('features', model, '--text', text, '--json')) as FeaturesJson,
        relevance: JSON.parse(cli('relevance', model, '--text', text, '--json')) as RelevanceJson,
        distances: JSON.parse(cli('distances', model, '--text', text, '--layer', '0', '--window', '1', '--json')) as DistancesJson,
      };
    }));
    ({ browser, page } = await openScenarioPage(server, workspace, timings));
  });

  after(async () => {
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings, extra: { hoverHeights: fits } });
  });

  const status = () => statusBarItem(page, 'grassmannLens.tokenColors');
  /** The token colours: VS Code draws a background decoration as a box (class ced-…) behind the line's text. */
  const decorations = () => page.locator('.monaco-editor .view-overlays .cdr[class*="ced-"]');

  interface Box { x: number; y: number; width: number; height: number }

  /** Where characters [from, to) of `word` (a whole word, once in the visible lines) are on screen. */
  function wordBox(word: string, from = 0, to = word.length): Promise<Box> {
    return page.evaluate(({ word, from, to }) => {
      const hits: { line: Element; index: number }[] = [];
      for (const line of document.querySelectorAll('.monaco-editor .view-lines .view-line')) {
        const text = (line.textContent ?? '').replace(/\u00a0/g, ' ');
        for (const m of text.matchAll(new RegExp(`(?<![A-Za-z])${word}(?![A-Za-z])`, 'g'))) hits.push({ line, index: m.index! });
      }
      if (hits.length !== 1) throw new Error(`'${word}' is shown ${hits.length} times`);
      const { line, index } = hits[0];
      // (No named functions in here: the test runner's transform would wrap them in a helper the page lacks.)
      const range = document.createRange();
      const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
      let seen = 0;
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const length = (n as Text).length;
        if (index + from >= seen && index + from < seen + length) range.setStart(n, index + from - seen);
        if (index + to - 1 >= seen && index + to - 1 < seen + length) range.setEnd(n, index + to - seen);
        seen += length;
      }
      const r = range.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    }, { word, from, to });
  }

  /** The background of the colour box under the middle of `box`, or null where there is none. */
  function decorationAt(box: Box): Promise<string | null> {
    const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
    return decorations().evaluateAll((els, [x, y]) => {
      const under = els.find((el) => {
        const r = el.getBoundingClientRect();
        return r.left <= x && x <= r.right && r.top <= y && y <= r.bottom;
      });
      return under ? getComputedStyle(under).backgroundColor : null;
    }, [x, y]);
  }

  async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
    const deadline = Date.now() + UI_TIMEOUT_MS;
    for (;;) {
      const value = await probe();
      if (value !== null && value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await page.waitForTimeout(100);
    }
  }

  /** The relevance scale of the whole text: the largest |relevance| of a text token in any window. */
  function relevanceScale(): ColorScale {
    let scale = 0;
    let count = 0;
    for (const w of windows) {
      w.features.tokens.forEach((t, i) => {
        if (t.end <= t.start) return;
        count++;
        scale = Math.max(scale, Math.abs(w.relevance.tokens[i] + w.relevance.positionEmbedding[i]));
      });
    }
    return { quantity: 'relevance', scale, signed: true, count };
  }

  /** The background a theme colour of the package resolves to in the workbench. */
  function themeColor(id: string): Promise<string> {
    return page.evaluate((variable) => {
      const probe = document.createElement('span');
      probe.style.backgroundColor = `var(${variable})`;
      document.querySelector('.monaco-workbench')!.appendChild(probe);
      const color = getComputedStyle(probe).backgroundColor;
      probe.remove();
      return color;
    }, `--vscode-${id.replace(/\./g, '-')}`);
  }

  /** Heights of each hover's content and of its box (px), for the timings file. */
  const fits: { content: number; box: number }[] = [];

  /** Hovers the middle of `box` and returns the hover's text and its table (rows of cells). */
  async function hoverOver(box: Box): Promise<{ text: string; table: string[][] }> {
    await page.mouse.move(5, 5);
    await page.locator('.monaco-hover:not(.hidden)').waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS }).catch(() => undefined);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 4 });
    const hover = page.locator('.monaco-hover:not(.hidden)').filter({ hasText: 'text tokens' });
    await hover.waitFor({ timeout: UI_TIMEOUT_MS });
    const text = (await hover.innerText()).replace(/[ \t]+/g, ' ');
    const table = await hover.locator('table tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('th, td')].map((c) => (c as HTMLElement).innerText.trim())));
    // Everything shows without scrolling: the content is no taller than the box VS Code gives it.
    const fit = await hover.evaluate((el) => {
      const content = el.querySelector('.monaco-hover-content') as HTMLElement | null;
      const box = (content?.parentElement ?? el) as HTMLElement;
      return { content: content?.scrollHeight ?? el.scrollHeight, box: box.clientHeight };
    });
    fits.push(fit);
    assert.ok(fit.content <= fit.box + 1, `the hover's content (${fit.content} px) fits its box (${fit.box} px)`);
    return { text, table };
  }

  /** The hover of the token at position t of window k, checked against the CLI's numbers for that window. */
  async function checkToken(box: Box, k: number, t: number): Promise<void> {
    const w = windows[k];
    const token = w.features.tokens[t];
    const { text, table } = await hoverOver(box);
    assert.ok(text.includes(`${token.text} · id ${token.id} · position ${t} · model.safetensors`), text);
    assert.ok(text.includes(`window ${k + 1} of 3, text tokens ${w.window.firstToken}–${w.window.firstToken + w.window.tokenCount - 1}`), text);
    const R = w.relevance.tokens[t] + w.relevance.positionEmbedding[t];
    assert.ok(text.includes(`relevance ${formatValue(R)} (token ${formatValue(w.relevance.tokens[t])}, position ${formatValue(w.relevance.positionEmbedding[t])})`), text);
    assert.ok(text.includes(`loss ${formatValue(w.nll[t - 1])} nats`), text);
    // One row per layer: gate openness, then the plane area at each offset (— where the token has no plane).
    const offsets = [...new Set(w.features.layers.flatMap((l) => l.offsets.map((o) => o.offset)))].sort((a, b) => a - b);
    assert.deepEqual(table[0], ['layer', 'gate α', ...offsets.map((d) => `d=${d}`)]);
    assert.deepEqual(table.slice(1), w.features.layers.map((l) => [
      String(l.layer),
      formatValue(l.alphaMean[t]),
      ...offsets.map((d) => {
        const o = l.offsets.find((x) => x.offset === d)!;
        const i = o.positions.indexOf(t);
        return i < 0 ? '—' : `${formatValue(o.area[i])}${o.degenerate[i] ? '*' : ''}`;
      }),
    ]));
    // Nearest planes at layer 0, d = 1, geodesic: the CLI's distance row, smallest first.
    const row = w.distances.matrix[w.distances.positions.indexOf(t)];
    const nearest = row
      .map((v, j) => ({ v, position: w.distances.positions[j] }))
      .filter((x) => x.position !== t && x.v !== null)
      .sort((a, b) => a.v! - b.v!)
      .slice(0, 3)
      .map((x) => `${w.features.tokens[x.position].text} @${x.position} ${formatValue(x.v)}`);
    assert.ok(text.includes(`nearest planes (layer 0, d=1, geodesic): ${nearest.join(' · ')}`), text);
    assert.ok(text.includes('Open in checkpoint view'));
    // The token is coloured by the level of its relevance.
    const expected = colorOf(R, relevanceScale())!;
    assert.equal(await decorationAt(box), await themeColor(colorId(expected)), `level ${expected.level} of ${LEVELS}, ${expected.ramp}`);
  }

  /** Position of the token with this surface text in window k (the only one). */
  function positionOf(k: number, surface: string): number {
    const w = windows[k];
    const found = w.features.tokens.map((t, i) => ({ t, i })).filter(({ t }) => w.text.slice(t.start, t.end) === surface);
    assert.equal(found.length, 1, `${surface} in window ${k}`);
    return found[0].i;
  }

  it('binds the text file to a checkpoint picked from the workspace and colours its tokens', async () => {
    await openQuick(page, FILE);
    await timed('analyze this text (pick + first analysis)', timings, async () => {
      await runCommand(page, 'Grassmann Lens: Analyze This Text');
      const pick = page.locator('.quick-input-widget .monaco-list-row');
      await pick.filter({ hasText: 'best.pt' }).first().waitFor({ timeout: UI_TIMEOUT_MS });
      await pick.filter({ has: page.locator('.label-name', { hasText: /^model\.safetensors$/ }) }).first().click();
      await status().filter({ hasText: /GL: relevance/ }).waitFor({ timeout: UI_TIMEOUT_MS });
      await status().locator('.codicon-symbol-color').waitFor({ timeout: UI_TIMEOUT_MS });
      await until('the last window\'s colours', async () => decorationAt(await wordBox('particular')));
    });
    // Every text token is coloured (all 33 lines are in view); neighbours of one colour share a box.
    const count = await decorations().count();
    const tokens = windows.reduce((n, w) => n + w.window.tokenCount, 0);
    assert.ok(count > 0.8 * tokens && count <= tokens, `${count} colour boxes for ${tokens} tokens`);
    await screenshot(page, SCENARIO, 'a-colours');
  });

  it('hovering a word shows the CLI numbers of its window (window 1)', async () => {
    await checkToken(await wordBox('verbatim'), 0, positionOf(0, 'verbatim'));
    await screenshot(page, SCENARIO, 'b-hover-window-1');
  });

  it('a sub-word piece has its own hover (the ##s of "incorporates")', async () => {
    const t = positionOf(0, 'incorporate') + 1;
    assert.equal(windows[0].features.tokens[t].text, '##s');
    await checkToken(await wordBox('incorporates', 11, 12), 0, t);
  });

  it('tokens of the second and third windows say which window they were seen in', async () => {
    await checkToken(await wordBox('governed'), 1, positionOf(1, 'governed'));
    await screenshot(page, SCENARIO, 'c-hover-window-2');
    await checkToken(await wordBox('particular'), 2, positionOf(2, 'particular'));
  });

  it('"Open in checkpoint view" runs the token\'s window on the checkpoint\'s Run tab with the token pinned', async () => {
    const t = positionOf(1, 'governed');
    await hoverOver(await wordBox('governed'));
    await page.locator('.monaco-hover:not(.hidden) a', { hasText: 'Open in checkpoint view' }).click();
    await page.locator('.tabs-container .tab.active', { hasText: 'model.safetensors' }).waitFor({ timeout: UI_TIMEOUT_MS });
    const view = activeWebview(page);
    const pinned = view.locator('.token.pinned');
    await pinned.waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(await pinned.getAttribute('data-t'), String(t));
    assert.equal(await pinned.innerText(), 'governed');
    // The Run tab holds the window's tokens, as the CLI encodes the window's text.
    assert.deepEqual(await view.locator('.token').allInnerTexts(), windows[1].features.tokens.map((x) => x.text));
    await screenshot(page, SCENARIO, 'c2-pinned-in-checkpoint-view');
    // Back to the text file for the tests that follow (its tab: Ctrl+P may go to the focused webview).
    await page.locator('.tabs-container .tab', { hasText: FILE }).click();
    await page.locator('.tabs-container .tab.active', { hasText: FILE }).waitFor({ timeout: UI_TIMEOUT_MS });
  });

  it('Toggle Token Colours removes the colours and brings them back; the status bar item is the legend', async () => {
    await page.mouse.move(5, 5);
    await runCommand(page, 'Grassmann Lens: Toggle Token Colours');
    await status().filter({ hasText: 'colours off' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await until('no colours', async () => (await decorations().count()) === 0);
    await status().click();
    await status().filter({ hasText: 'GL: relevance' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await until('the colours again', async () => decorationAt(await wordBox('verbatim')));
    // The pointer is still on the item after the click: leave it and come back for the tooltip.
    await page.mouse.move(5, 5);
    await status().hover();
    const legend = page.locator('.monaco-hover:not(.hidden)', { hasText: 'relevance (LRP' });
    await legend.waitFor({ timeout: UI_TIMEOUT_MS });
    const text = await legend.innerText();
    assert.match(text, /302 tokens in 3 windows of up to 126/);
    assert.equal(await legend.locator('table tr').count(), 1 + 2 * LEVELS);
    const scale = relevanceScale().scale;
    assert.match(text, new RegExp(`${formatValue((4 / LEVELS) * scale)} … ${formatValue(scale)}`));
    assert.match(text, new RegExp(`−${formatValue((1 / LEVELS) * scale)} … 0\\b`));
    await screenshot(page, SCENARIO, 'd-legend');
  });

  it('an edit is analysed again after a pause: the new word gets a colour and a hover', async () => {
    await page.mouse.move(5, 5);
    const particular = await wordBox('particular');
    await page.mouse.click(particular.x + 2, particular.y + particular.height / 2);
    await page.keyboard.press('Control+End');
    await timed('edit re-analysed', timings, async () => {
      await page.keyboard.type(' the licensor grants', { delay: 30 });
      await until('the new word\'s colour', async () => decorationAt(await wordBox('licensor')));
    });
    const { text } = await hoverOver(await wordBox('licensor'));
    assert.match(text, /licensor · id \d+ · position \d+/);
    assert.match(text, /window 3 of 3, text tokens 251–304/);
  });

  it('the checkpoint written again (as training saves it) is read again and the text analysed again', async () => {
    // model.safetensors becomes epoch 1's weights, written in place.
    const current = await openSafetensors(model);
    const epoch1 = await openTorchCheckpoint(join(workspace, 'tiny-grassmann', 'checkpoints', 'epoch_1.pt'));
    const tensors = await Promise.all([...current.tensors.values()].map(async (t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: await readFloat32(epoch1.tensors.get(t.name)!) })));
    await Promise.all([current.close(), epoch1.close()]);
    writeFileSync(model, encodeSafetensors(tensors));
    const t = positionOf(0, 'verbatim');
    const relevance = JSON.parse(cli('relevance', model, '--text', windows[0].text, '--json')) as RelevanceJson;
    const expected = `relevance ${formatValue(relevance.tokens[t] + relevance.positionEmbedding[t])} (token ${formatValue(relevance.tokens[t])}, position ${formatValue(relevance.positionEmbedding[t])})`;
    assert.ok(!expected.includes(formatValue(windows[0].relevance.tokens[t])), 'epoch 1 gives other numbers');
    await timed('checkpoint rewritten -> analysed again', timings, () => until('the hover of the new weights', async () => (await hoverOver(await wordBox('verbatim'))).text.includes(expected)));
  });
});
