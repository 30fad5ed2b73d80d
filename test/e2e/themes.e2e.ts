/**
 * Every view of the checkpoint editor in the four kinds of VS Code theme (dark, light, high
 * contrast dark and light), screenshotted into test-results/e2e/themes/. The theme is switched as a
 * user switches it (Preferences: Color Theme from the palette);
 * for each one the view must follow it: the webview's body carries the theme kind VS Code gives
 * it, its background is the theme's editor background (dark or light as the kind says; the four
 * background/text pairs differ), and its text has
 * at least the WCAG contrast ratio against it (4.5:1; 7:1 in high contrast).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import {
  activeWebview, checkPrerequisites, closeScenario, type CodeServer, makeWorkspace, openQuick, openScenarioPage, runCommand, screenshot, startCodeServer,
  timed, UI_TIMEOUT_MS,
} from './harness';

const SCENARIO = 'themes';
const SENTENCE = 'the licensor grants you a worldwide, royalty-free license to use the software';
const THEMES = [
  // name: as the Color Theme picker lists it
  { name: 'Dark Modern', kind: 'vscode-dark', slug: 'dark', minContrast: 4.5 },
  { name: 'Light Modern', kind: 'vscode-light', slug: 'light', minContrast: 4.5 },
  { name: 'Dark High Contrast', kind: 'vscode-high-contrast', slug: 'hc-dark', minContrast: 7 },
  { name: 'Light High Contrast', kind: 'vscode-high-contrast-light', slug: 'hc-light', minContrast: 7 },
] as const;
const TABS = ['overview', 'run', 'plucker', 'distances', 'gates', 'relevance', 'drift'] as const;

/** WCAG relative luminance of an `rgb(…)`/`rgba(…)` colour. */
function luminance(css: string): number {
  const [r, g, b] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number).map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** `#rrggbb` as getComputedStyle writes it: `rgb(r, g, b)`. */
function hexToRgb(hex: string): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  assert.ok(m, `a #rrggbb colour: ${JSON.stringify(hex)}`);
  return `rgb(${m.slice(1).map((x) => parseInt(x, 16)).join(', ')})`;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

describe('The checkpoint editor in four themes in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  const timings = new Map<string, number>();
  const seen: Record<string, { background: string; foreground: string; contrast: number }> = {};

  before(async () => {
    checkPrerequisites();
    workspace = makeWorkspace(SCENARIO);
    server = await timed('code-server start', timings, () => startCodeServer({ name: SCENARIO, installExtension: true }));
    ({ browser, page } = await openScenarioPage(server, workspace, timings));
  });

  after(async () => {
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings, extra: { themes: seen } });
  });

  const webview = () => activeWebview(page);
  const tab = (view: string) => webview().locator(`vscode-tab-header[data-view="${view}"]`);

  it('opens best.pt, runs a sentence and explains it', async () => {
    await openQuick(page, 'best.pt');
    await tab('run').click();
    await webview().locator('#run-text').click();
    await page.keyboard.type(SENTENCE);
    await webview().locator('#run-button').click();
    await webview().locator('#run-summary', { hasText: 'features of 4 layers' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await tab('relevance').click();
    await webview().locator('#relevance-button').click();
    await webview().locator('#relevance-summary').waitFor({ timeout: UI_TIMEOUT_MS });
    await tab('drift').click();
    await webview().locator('#drift-button').click();
    await webview().locator('#drift-to-last svg').waitFor({ timeout: UI_TIMEOUT_MS });
  });

  for (const theme of THEMES) {
    it(`${theme.name}: every view follows the theme (screenshots ${theme.slug}-*)`, async () => {
      await runCommand(page, 'Preferences: Color Theme');
      const input = page.locator('.quick-input-widget input[placeholder*="Color Theme"]');
      await input.fill(theme.name, { timeout: UI_TIMEOUT_MS });
      const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: theme.name }).first();
      await row.waitFor({ timeout: UI_TIMEOUT_MS });
      await row.click();
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
      await webview().locator(`body[data-vscode-theme-kind="${theme.kind}"]`).waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
      const body = await webview().locator('body').evaluate((el) => {
        const style = getComputedStyle(el);
        return {
          classes: [...el.classList],
          kind: el.getAttribute('data-vscode-theme-kind'),
          background: style.backgroundColor,
          foreground: style.color,
          editorBackground: getComputedStyle(document.documentElement).getPropertyValue('--vscode-editor-background').trim(),
        };
      });
      assert.equal(body.kind, theme.kind, `theme kind: ${JSON.stringify(body)}`);
      const ratio = contrast(body.foreground, body.background);
      seen[theme.slug] = { background: body.background, foreground: body.foreground, contrast: Number(ratio.toFixed(2)) };
      assert.equal(body.background, hexToRgb(body.editorBackground), `the body's background is the theme's editor background ${body.editorBackground}`);
      assert.ok(ratio >= theme.minContrast, `text ${body.foreground} on ${body.background}: contrast ${ratio.toFixed(2)} < ${theme.minContrast}`);
      for (const view of TABS) {
        await tab(view).click();
        await page.waitForTimeout(400);
        await screenshot(page, SCENARIO, `${theme.slug}-${view}`);
        // Every chart of the view lies inside the panel that clips it, every text inside its chart (nothing is cut off).
        const cut = await webview().locator('vscode-tab-panel:not([hidden]) svg.chart').evaluateAll((svgs) => svgs.filter((s) => (s as SVGSVGElement).getBoundingClientRect().width > 0).map((s) => {
          const panel = s.closest('vscode-tab-panel')!.getBoundingClientRect();
          const r = (s as SVGSVGElement).getBoundingClientRect();
          const out = [...s.querySelectorAll('text')].filter((t) => getComputedStyle(t).visibility !== 'hidden' && t.getBoundingClientRect().width > 0)
            .filter((t) => t.getBoundingClientRect().right > r.right + 0.5 || t.getBoundingClientRect().left < r.left - 0.5).map((t) => `${t.textContent} ${t.getBoundingClientRect().left}-${t.getBoundingClientRect().right}`);
          return { id: s.parentElement?.id ?? '', svg: [r.left, r.right], panelRight: panel.right, out };
        }));
        assert.ok(cut.length > 0 || view === 'run', `${theme.name}, ${view}: a chart is drawn`);
        for (const c of cut) assert.deepEqual(c.out, [], `${theme.name}, ${view}, #${c.id}: text outside the chart ${JSON.stringify(c.svg)}`);
        for (const c of cut) assert.ok(c.svg[1] <= c.panelRight + 0.5, `${theme.name}, ${view}, #${c.id}: the chart (to ${c.svg[1]}) leaves its panel (to ${c.panelRight})`);
      }
    });
  }

  it('each theme gives its own colours: dark backgrounds for the dark kinds, light for the light ones, four different pairs', () => {
    for (const t of THEMES) {
      const c = seen[t.slug];
      assert.ok(c, `${t.name} was seen`);
      const dark = t.kind === 'vscode-dark' || t.kind === 'vscode-high-contrast';
      const l = luminance(c.background);
      assert.ok(dark ? l < 0.05 : l > 0.8, `${t.name}: background ${c.background} (luminance ${l.toFixed(3)})`);
    }
    const pairs = THEMES.map((t) => `${seen[t.slug].background} / ${seen[t.slug].foreground}`);
    assert.equal(new Set(pairs).size, 4, JSON.stringify(seen));
  });
});
