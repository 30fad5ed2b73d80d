/**
 * Runs test/e2e/exthost/*.test.ts inside code-server's real extension host: the web workbench
 * takes extensionDevelopmentPath/extensionTestsPath in its `payload` query parameter and calls
 * window.codeAutomationExit(code) when the suite ends.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import type { ExtHostTestResult } from './exthost/index';
import {
  checkPrerequisites, closeScenario, type CodeServer, launchBrowser, makeWorkspace, repoRoot, startCodeServer, timed, workbenchUrl,
} from './harness';

const SCENARIO = 'exthost';
const SUITE_TIMEOUT_MS = 5 * 60_000;
const outDir = join(repoRoot, 'out', 'test');

describe('extension-host suite in code-server', { timeout: 10 * 60_000 }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  const timings = new Map<string, number>();
  let exitCode: number | undefined;
  let results: ExtHostTestResult[] = [];

  before(async () => {
    checkPrerequisites();
    rmSync(outDir, { recursive: true, force: true });
    await esbuild.build({
      entryPoints: [join(repoRoot, 'test', 'e2e', 'exthost', 'index.ts')],
      outfile: join(outDir, 'index.js'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      // vscode is provided by the extension host; mocha loads its reporters from disk.
      external: ['vscode', 'mocha'],
      logLevel: 'warning',
    });
    workspace = makeWorkspace(SCENARIO);
    server = await startCodeServer({ name: SCENARIO, installExtension: false });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });

    const ended = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
    });
    const remote = (path: string) => `vscode-remote://127.0.0.1:${server.port}${path}`;
    const url = workbenchUrl(server, workspace, [
      ['extensionDevelopmentPath', remote(repoRoot)],
      ['extensionTestsPath', remote(join(outDir, 'index.js'))],
    ]);
    exitCode = await timed('extension-host suite', timings, async () => {
      await page.goto(url);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the suite did not end within ${SUITE_TIMEOUT_MS} ms`)), SUITE_TIMEOUT_MS);
      });
      try {
        return await Promise.race([ended, timeout]);
      } finally {
        clearTimeout(timer);
      }
    });
    const resultsFile = join(outDir, 'results.json');
    if (existsSync(resultsFile)) results = JSON.parse(readFileSync(resultsFile, 'utf8')) as ExtHostTestResult[];
  });

  after(async () => {
    await closeScenario(SCENARIO, { page, browser, server, workspace, timings, writeTimings: false });
  });

  it('runs the suite to the end', () => {
    assert.ok(results.length > 0, `the suite reported no results (exit code ${exitCode}); see test-results/e2e/${SCENARIO}/code-server.log`);
    const failed = results.filter((r) => r.state === 'failed');
    assert.deepEqual(failed.map((r) => `${r.title}\n${r.error}`), []);
    assert.equal(exitCode, 0);
  });

  it('passes each extension-host test', async (t) => {
    for (const r of results) {
      await t.test(`${r.title}${r.durationMs !== undefined ? ` (${r.durationMs} ms in the extension host)` : ''}`, () => {
        if (r.state === 'failed') assert.fail(r.error);
      });
    }
  });
});
