/**
 * Runs the built CLI (dist/cli.js) as a child process and measures what a hostile input costs it:
 * wall time, and peak resident memory (from the child's own process.resourceUsage(), written at
 * exit by ./reportRss.cjs; no external tool needed). A run past `timeoutMs` is killed (timedOut).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
export const CLI = join(root, 'dist', 'cli.js');

export interface MeasuredRun {
  /** Exit code (null when killed). */
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** Peak resident set size in MB, or NaN when the child was killed before it could say. */
  maxRssMB: number;
  timedOut: boolean;
}

export function runCliMeasured(args: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): MeasuredRun {
  const dir = mkdtempSync(join(tmpdir(), 'gl-rss-'));
  const rssFile = join(dir, 'rss');
  const started = process.hrtime.bigint();
  try {
    const r = spawnSync(process.execPath, ['--require', join(__dirname, 'reportRss.cjs'), CLI, ...args], {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
      maxBuffer: 64 << 20,
      env: { ...process.env, ...opts.env, GL_RSS_FILE: rssFile },
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    let maxRssMB = NaN;
    try {
      maxRssMB = Number(readFileSync(rssFile, 'utf8')) / 1024;
    } catch {
      // killed before exit: unknown
    }
    const timedOut = r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', seconds, maxRssMB, timedOut };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
