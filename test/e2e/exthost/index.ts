/**
 * Entry point the extension host loads as `extensionTestsPath` (bundled to out/test/index.js by
 * test/e2e/exthost.e2e.ts). Runs the mocha suite with the real `vscode` API and writes one result
 * per test to results.json beside the bundle, for the runner outside to report.
 */
import Mocha from 'mocha';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineExtensionSuite } from './extension.test';

export interface ExtHostTestResult {
  title: string;
  state: 'passed' | 'failed';
  durationMs?: number;
  error?: string;
}

export const RESULTS_FILE = 'results.json';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: 'spec' });
  // What mocha does before requiring a spec file: binds describe/it/... for the suite below.
  mocha.suite.emit('pre-require', {}, 'extension.test', mocha);
  defineExtensionSuite();
  const results: ExtHostTestResult[] = [];
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      writeFileSync(join(__dirname, RESULTS_FILE), JSON.stringify(results, null, 2));
      if (failures) reject(new Error(`${failures} extension-host test(s) failed`));
      else resolve();
    });
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }));
    runner.on('fail', (t, err: Error) => results.push({ title: t.fullTitle(), state: 'failed', error: err.stack ?? err.message }));
  });
}
