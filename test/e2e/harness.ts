/**
 * Runs a real VS Code (code-server 4.100.3, installed by scripts/e2e-setup.sh) on a loopback port
 * with isolated data folders, installs the built extension into it, and drives the web workbench
 * with Playwright in Debian's Chromium.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type FrameLocator, type Locator, type Page } from 'playwright-core';

export const repoRoot = resolve(__dirname, '..', '..');
export const resultsDir = join(repoRoot, 'test-results', 'e2e');
const codeServerEntry = join(repoRoot, '.e2e', 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
export const extensionId = `${manifest.publisher}.${manifest.name}`;

/** Generous: two shared cores, and the first workbench load compiles a lot of JavaScript. */
export const UI_TIMEOUT_MS = 60_000;

export function checkPrerequisites(): void {
  const missing: string[] = [];
  if (!existsSync(codeServerEntry)) missing.push(`code-server (${codeServerEntry})`);
  if (!existsSync(chromiumPath)) missing.push(`Chromium (${chromiumPath})`);
  if (missing.length) throw new Error(`e2e prerequisites missing: ${missing.join(', ')}; run scripts/e2e-setup.sh`);
  for (const f of ['extension.js', 'worker.js', 'webview/main.js']) {
    if (!existsSync(join(repoRoot, 'dist', f))) throw new Error(`dist/${f} is missing; run npm run build`);
  }
  if (!existsSync(vsixPath)) throw new Error(`${vsixPath} is missing; run npm run package`);
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** The packaged extension (`npm run package`, which `npm run test:e2e` runs first). */
export const vsixPath = join(repoRoot, 'grassmann-lens.vsix');

/** Installs the packaged .vsix into an isolated extensions folder with code-server's own installer. */
export function installPackagedExtension(extensionsDir: string, userDataDir: string, env: NodeJS.ProcessEnv): void {
  if (!existsSync(vsixPath)) throw new Error(`${vsixPath} is missing; run npm run package`);
  const r = spawnSync(process.execPath, [codeServerEntry, '--install-extension', vsixPath, '--extensions-dir', extensionsDir, '--user-data-dir', userDataDir], { env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`code-server --install-extension ${vsixPath} failed (${r.status}): ${r.stderr || r.stdout}`);
  if (!existsSync(join(extensionsDir, `${extensionId}-${manifest.version}`, 'dist', 'extension.js'))) {
    throw new Error(`installing ${vsixPath} did not put the extension in ${extensionsDir}: ${r.stdout}`);
  }
}

export interface CodeServer {
  port: number;
  baseUrl: string;
  /** The isolated folder holding user data, extensions, config and logs. */
  home: string;
  extensionsDir: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  /** Installs the packaged .vsix into the isolated extensions folder before starting. */
  installExtension: boolean;
  settings?: Record<string, unknown>;
  /** Port to listen on (default: a free one). */
  port?: number;
}

export async function startCodeServer(opts: StartOptions): Promise<CodeServer> {
  const home = mkdtempSync(join(tmpdir(), `gl-e2e-${opts.name}-`));
  const dirs = { ud: join(home, 'ud'), exts: join(home, 'exts'), config: join(home, 'xdg-config'), data: join(home, 'xdg-data') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  mkdirSync(join(dirs.ud, 'User'), { recursive: true });
  writeFileSync(join(dirs.ud, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'security.workspace.trust.enabled': false,
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    ...opts.settings,
  }, null, 2));

  const env = { ...process.env, EXTENSIONS_GALLERY: '{}', XDG_CONFIG_HOME: dirs.config, XDG_DATA_HOME: dirs.data, GRASSMANN_LENS_NATIVE_DIR: join(home, 'native'),
    // An empty Hugging Face cache: a tokenizer cached on this machine must not be found instead of the fixtures'.
    HF_HUB_CACHE: join(home, 'hf-hub') };
  if (opts.installExtension) installPackagedExtension(dirs.exts, dirs.ud, env);
  const port = opts.port ?? (await freePort());
  const configFile = join(home, 'config.yaml');
  writeFileSync(configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  mkdirSync(join(resultsDir, opts.name), { recursive: true });
  const log = createWriteStream(join(resultsDir, opts.name, 'code-server.log'));

  const child: ChildProcess = spawn(process.execPath, [
    codeServerEntry,
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', '--ignore-last-opened',
    '--user-data-dir', dirs.ud, '--extensions-dir', dirs.exts, '--config', configFile,
  ], {
    // Its own process group, so stop() also ends the extension hosts it forks.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // A private native-modules folder: the extension's default (~/.grassmann-lens/native) is the user's.
    env,
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
      const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref())]);
      if (!killed) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    log.end();
    rmSync(home, { recursive: true, force: true, maxRetries: 3 });
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + UI_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`code-server exited with ${child.exitCode}; see ${join(resultsDir, opts.name, 'code-server.log')}`);
    }
    try {
      const res = await fetch(`${baseUrl}/healthz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not answer /healthz within ${UI_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { port, baseUrl, home, extensionsDir: dirs.exts, stop };
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

export function workbenchUrl(server: CodeServer, folder: string, payload?: [string, string][]): string {
  let url = `${server.baseUrl}/?folder=${encodeURIComponent(folder)}`;
  if (payload) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return url;
}

export async function openWorkbench(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: UI_TIMEOUT_MS });
}

const quickInput = (page: Page): Locator => page.locator('.quick-input-widget');

/**
 * Runs a command from the palette by its full title. The palette snapshots its list when it opens
 * and the extension host registers commands a little after the explorer shows, so a palette that
 * does not list the command yet is closed and opened again.
 */
export async function runCommand(page: Page, title: string): Promise<void> {
  const deadline = Date.now() + UI_TIMEOUT_MS;
  for (;;) {
    try {
      // A quick input that is still closing (after a pick) swallows F1 and then hides: wait it out.
      await quickInput(page).waitFor({ state: 'hidden', timeout: 5_000 });
      await page.keyboard.press('F1');
      const input = quickInput(page).locator('input');
      await input.waitFor({ state: 'visible', timeout: 5_000 });
      await input.fill(`>${title}`, { timeout: 5_000 });
      const row = quickInput(page).locator('.monaco-list-row', { hasText: title }).first();
      await row.waitFor({ state: 'visible', timeout: 2_000 });
      // The row whose label is the title (another command may rank first: "Preferences: Browse
      // Color Themes in Marketplace" above "Preferences: Color Theme"): Enter when it is the first.
      const labels = await quickInput(page).locator('.monaco-list-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).innerText.split('\n')[0].trim()));
      const exact = labels.indexOf(title);
      if (exact > 0) await quickInput(page).locator('.monaco-list-row').nth(exact).click({ timeout: 5_000 });
      else await page.keyboard.press('Enter');
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`command "${title}" could not be run from the palette`, { cause: e });
      await page.keyboard.press('Escape');
    }
  }
}

/** Opens a file of the workspace by name with Quick Open (in its default editor). */
export async function openQuick(page: Page, fileName: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await input.fill(fileName);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: fileName }).first().waitFor({ timeout: UI_TIMEOUT_MS });
  await page.keyboard.press('Enter');
  await page.locator('.tabs-container .tab.active', { hasText: fileName }).waitFor({ timeout: UI_TIMEOUT_MS });
}

/** The page inside the active webview (the checkpoint editor when one is the active editor). */
export function activeWebview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
}

/** Answers VS Code's simple file dialog (the web workbench's Open dialog) with an absolute path. */
export async function answerFileDialog(page: Page, path: string): Promise<void> {
  const input = quickInput(page).locator('input');
  await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  const name = path.slice(path.lastIndexOf('/') + 1);
  const deadline = Date.now() + UI_TIMEOUT_MS;
  // The dialog fills in its starting folder after it shows; typing before that is overwritten.
  while (!(await input.inputValue()).endsWith('/')) {
    if (Date.now() > deadline) throw new Error('the file dialog never showed its starting folder');
    await page.waitForTimeout(100);
  }
  const row = quickInput(page).locator('.monaco-list-row', { hasText: name }).first();
  for (;;) {
    await input.fill(path);
    // The dialog lists the folder's entries as the path is typed; Enter accepts the typed path.
    // It sometimes drops an update that races its own folder listing (seen once in CI): the
    // path is typed again until the entry shows.
    const listed = await row.waitFor({ state: 'visible', timeout: 5000 }).then(() => true, () => false);
    if (listed && (await input.inputValue()) === path) break;
    if (Date.now() > deadline) {
      throw new Error(`the file dialog ${listed ? `did not keep the path ${path}` : `never listed ${name} (input: '${await input.inputValue()}')`}`);
    }
  }
  await page.keyboard.press('Enter');
  await quickInput(page).waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
}

/** Answers the simple Save dialog with an absolute path (the file need not exist yet). */
export async function answerSaveDialog(page: Page, path: string): Promise<void> {
  const input = quickInput(page).locator('input');
  await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  const deadline = Date.now() + UI_TIMEOUT_MS;
  // As with the Open dialog: the starting folder arrives after the dialog shows.
  while (!(await input.inputValue()).includes('/')) {
    if (Date.now() > deadline) throw new Error('the save dialog never showed its starting folder');
    await page.waitForTimeout(100);
  }
  for (;;) {
    await input.fill(path);
    // The dialog re-lists the folder as the path changes; Enter before it settles can be taken by the list.
    await page.waitForTimeout(500);
    if ((await input.inputValue()) === path) {
      await page.keyboard.press('Enter');
      const closed = await quickInput(page).waitFor({ state: 'hidden', timeout: 5000 }).then(() => true, () => false);
      if (closed) return;
    }
    if (Date.now() > deadline) throw new Error(`the save dialog did not accept ${path} (input: '${await input.inputValue()}')`);
  }
}

/** A toast once its fade-in has finished (so screenshots show it). */
export function notification(page: Page, severity: 'error' | 'warning' | 'info', text: string | RegExp): Locator {
  return page.locator(
    `.notifications-toasts .notification-toast.notification-fade-in-done:has(.notification-list-item-icon.codicon-${severity})`,
    { hasText: text },
  );
}

export function statusBarItem(page: Page, id: string): Locator {
  return page.locator(`[id="${extensionId}.${id}"]`);
}

/** The text of the Output panel's editor (the lines it has rendered), whitespace collapsed. */
export async function outputPanelText(page: Page): Promise<string> {
  const lines = page.locator('.part.panel .monaco-editor .view-lines');
  await lines.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  return (await lines.first().innerText()).replace(/\s+/g, ' ');
}

export function squash(s: string): string {
  return s.replace(/\s+/g, '');
}

export async function screenshot(page: Page, scenario: string, name: string): Promise<void> {
  const dir = join(resultsDir, scenario);
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

/** A fresh workspace folder holding copies of the fixtures (tests never touch the originals). */
export function makeWorkspace(name: string): string {
  const ws = mkdtempSync(join(tmpdir(), `gl-e2e-ws-${name}-`));
  cpSync(join(repoRoot, 'test', 'fixtures', 'tiny-grassmann'), join(ws, 'tiny-grassmann'), { recursive: true });
  mkdirSync(join(ws, 'bad-inputs'));
  cpSync(join(repoRoot, 'test', 'fixtures', 'bad-inputs', 'hostile-os-system.pt'), join(ws, 'bad-inputs', 'hostile-os-system.pt'));
  return ws;
}

export async function timed<T>(label: string, timings: Map<string, number>, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    timings.set(label, Math.round(performance.now() - start));
  }
}

/** A browser and a page (1600 x 1000) showing the workbench of `workspace`. */
export async function openScenarioPage(server: CodeServer, workspace: string, timings: Map<string, number>): Promise<{ browser: Browser; page: Page }> {
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await timed('workbench ready', timings, () => openWorkbench(page, workbenchUrl(server, workspace)));
  return { browser, page };
}

/**
 * The end of a scenario: a last screenshot, browser and code-server stopped, the workspace
 * removed, and the timings written to test-results/e2e/<scenario>-timings.json (with `extra`,
 * e.g. measured numbers, beside them when given) and printed.
 */
export async function closeScenario(
  scenario: string,
  parts: { page?: Page; browser?: Browser; server?: CodeServer; workspace?: string; timings: Map<string, number>; extra?: Record<string, unknown>; writeTimings?: boolean },
): Promise<void> {
  if (parts.page) await screenshot(parts.page, scenario, 'final').catch(() => undefined);
  await parts.browser?.close();
  await parts.server?.stop();
  if (parts.workspace) rmSync(parts.workspace, { recursive: true, force: true });
  const timings = Object.fromEntries(parts.timings);
  if (parts.writeTimings !== false) {
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, `${scenario}-timings.json`), JSON.stringify(parts.extra ? { timings, ...parts.extra } : timings, null, 2) + '\n');
  }
  console.log(`e2e timings (ms): ${[...parts.timings].map(([k, v]) => `${k} ${v}`).join(', ')}${parts.extra ? `; ${JSON.stringify(parts.extra)}` : ''}`);
}


/** What the tick labels of one axis of a chart look like on screen (axisLabels). */
export interface AxisLabels {
  /** The axis group's classes ("axis axis-cols"), for messages. */
  axis: string;
  horizontal: boolean;
  labels: number;
  /** Smallest space between two neighbouring labels' boxes along the axis, px (Infinity below 2 labels). */
  minGap: number;
  /** "a | b" for every two labels whose bounding boxes overlap. */
  overlaps: string[];
  /** Labels whose box reaches outside the SVG (it would be cut off). */
  clipped: string[];
  /** Labels cut with "…" and whether each carries its full text in a <title> on its tick. */
  truncated: { text: string; title: string | null }[];
}

/**
 * The tick labels of every axis of the chart `svg` as the browser laid them out: bounding boxes
 * (getBoundingClientRect, so turned labels count with the box they take), which pairs overlap,
 * which reach outside the SVG's own box.
 */
export async function axisLabels(svg: Locator): Promise<AxisLabels[]> {
  return svg.evaluate((el) => {
    const s = el.getBoundingClientRect();
    return [...el.querySelectorAll('g.axis')].map((axis) => {
      const boxes = [...axis.querySelectorAll<SVGTextElement>(':scope > g.tick > text')].filter((t) => t.textContent).map((t) => {
        const r = t.getBoundingClientRect();
        return { text: t.textContent ?? '', title: t.parentElement?.querySelector(':scope > title')?.textContent ?? null, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
      });
      const spreadX = boxes.length ? Math.max(...boxes.map((b) => b.left)) - Math.min(...boxes.map((b) => b.left)) : 0;
      const spreadY = boxes.length ? Math.max(...boxes.map((b) => b.top)) - Math.min(...boxes.map((b) => b.top)) : 0;
      const horizontal = spreadX >= spreadY;
      const overlaps: string[] = [];
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const [a, b] = [boxes[i], boxes[j]];
          if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) overlaps.push(`${a.text} | ${b.text}`);
        }
      }
      const sorted = [...boxes].sort((a, b) => (horizontal ? a.left - b.left : a.top - b.top));
      let minGap = Infinity;
      for (let i = 1; i < sorted.length; i++) minGap = Math.min(minGap, horizontal ? sorted[i].left - sorted[i - 1].right : sorted[i].top - sorted[i - 1].bottom);
      const clipped = boxes.filter((b) => b.left < s.left - 0.5 || b.right > s.right + 0.5 || b.top < s.top - 0.5 || b.bottom > s.bottom + 0.5)
        .map((b) => `${b.text} [${Math.round(b.left - s.left)}, ${Math.round(b.top - s.top)}, ${Math.round(b.right - s.left)}, ${Math.round(b.bottom - s.top)}] in ${Math.round(s.width)} x ${Math.round(s.height)}`);
      return { axis: axis.getAttribute('class') ?? '', horizontal, labels: boxes.length, minGap, overlaps, clipped, truncated: boxes.filter((b) => b.text.endsWith('…')).map((b) => ({ text: b.text, title: b.title })) };
    });
  });
}

/** Asserts that no two tick labels of an axis of `svg` overlap and that none is cut off by the SVG; returns the axes. */
export async function assertReadableAxes(svg: Locator, what: string): Promise<AxisLabels[]> {
  const axes = await axisLabels(svg);
  if (!axes.length) throw new Error(`${what}: no axis`);
  for (const a of axes) {
    if (a.overlaps.length) throw new Error(`${what}, ${a.axis}: ${a.overlaps.length} pairs of labels overlap, e.g. ${a.overlaps.slice(0, 3).join('; ')}`);
    if (a.clipped.length) throw new Error(`${what}, ${a.axis}: ${a.clipped.length} labels cut off by the SVG, e.g. ${a.clipped.slice(0, 3).join('; ')}`);
    const untitled = a.truncated.filter((t) => !t.title);
    if (untitled.length) throw new Error(`${what}, ${a.axis}: cut labels without their full text in a <title>: ${untitled.map((t) => t.text).join(', ')}`);
  }
  return axes;
}
