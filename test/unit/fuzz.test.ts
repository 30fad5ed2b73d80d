/**
 * The fuzz suite of issue 13 in `npm test`: a fixed seed and case count of scripts/fuzz.ts
 * (seeded fast-check mutations of the fixtures and generators of deep nesting, amplification and
 * unusual-but-valid files, for every reader), run as a child process so that a hang or a heap
 * exhaustion is a reported failure, not a stuck test run. Asserts, per case: success or an
 * InputError only, under CASE_SECONDS and PROCESS_RSS_MB in process; on a sample, the built CLI
 * (dist/cli.js) exits 0 or 1 under CLI_SECONDS and CLI_RSS_MB with escaped, one-line errors.
 * About 2-2.5 minutes on 2 cores (2,400 cases, 120 CLI runs); the longer run is `npm run fuzz -- --minutes 10`.
 * A failing input is written under test-results/fuzz-unit/ with its case.json.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatSummary, type Summary } from '../../scripts/fuzz';

const root = join(__dirname, '..', '..');
const SEED = 1313;
const CASES_PER_READER = 400;
const CLI_EVERY = 20;
const LIMIT_MS = 6 * 60_000;

test(`fuzz: ${CASES_PER_READER} seeded cases per reader (seed ${SEED}) end in success or an InputError, within the bounds`, { timeout: LIMIT_MS + 30_000 }, () => {
  assert.ok(existsSync(join(root, 'dist', 'cli.js')), 'dist/cli.js missing: run npm run build');
  const dir = mkdtempSync(join(tmpdir(), 'gl-fuzz-test-'));
  const summaryFile = join(dir, 'summary.json');
  try {
    const r = spawnSync(process.execPath, [
      '--expose-gc', '--max-old-space-size=2048', '--import', 'tsx', join(root, 'scripts/fuzz.ts'),
      '--seed', String(SEED), '--cases', String(CASES_PER_READER), '--cli-every', String(CLI_EVERY),
      '--summary', summaryFile, '--current', join(dir, 'current'), '--out', join(root, 'test-results/fuzz-unit'), '--quiet',
    ], { cwd: root, encoding: 'utf8', timeout: LIMIT_MS, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
    if (!existsSync(summaryFile)) {
      // Killed (a hang or a heap exhaustion in process) or crashed: say which case it was on.
      let current = '';
      try {
        current = readFileSync(join(dir, 'current'), 'utf8');
      } catch {
        // unknown
      }
      assert.fail(`the fuzzer did not finish (exit ${r.status}, signal ${r.signal}${r.error ? `, ${r.error.message}` : ''}); last case: ${current}\n${(r.stdout ?? '').slice(-2000)}\n${(r.stderr ?? '').slice(-4000)}`);
    }
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Summary;
    const text = formatSummary(summary);
    console.log(text);
    for (const [reader, k] of Object.entries(summary.readers)) assert.equal(k.tried, CASES_PER_READER, `${reader}: every case ran`);
    assert.deepEqual(summary.failures.map((f) => `${f.reader} case ${f.index} [${f.kind}] ${f.origin}: ${f.error.split('\n')[0]}`), [], text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
