/**
 * Seeded mutation fuzzing of every reader of untrusted bytes (issue 13): safetensors headers,
 * torch zips (the pickle inside and the zip structures), legacy-format files, shard indexes,
 * config.json and tokenizer.json, plus generators of deep nesting, amplification and unusual-but-
 * valid files (test/support/fuzzCases.ts). Each case runs the reader in this process (the CLI's
 * `inspect` path: openCheckpoint + describeModel + config; the tokenizer loader + encode) and
 * must end in success or an InputError, under the time and memory bounds below; a sample of the
 * cases also runs the built CLI (dist/cli.js) as a child, which must exit 0 or 1 under the bounds
 * and print escaped, one-line errors.
 *
 *   npm run fuzz -- --minutes 10            # round-robin over the readers for 10 minutes
 *   npm run fuzz -- --cases 200 --seed 7    # 200 cases per reader, reproducible
 *   options: --readers safetensors,config  --cli-every N (default 25; 0: no CLI runs)
 *            --summary FILE (JSON counts)  --out DIR (failing inputs; default test-results/fuzz)
 *            --no-minimise  --current FILE (always names the case being run)  --quiet
 *
 * Failures are printed with the seed and case index (rerun: --seed S --only I --readers R) and
 * written under --out with the files and a case.json. Exit code: 0 no failure, 1 failures.
 */
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectCheckpoint } from '../src/core/inspect';
import { loadTokenizer } from '../src/tokenizer';
import { isInputError } from '../src/util/errors';
import { caseArb, fixtureBytes, READERS, ROOT, TINY_MODEL, type FuzzCase, type ReaderName } from '../test/support/fuzzCases';
import { runCliMeasured } from '../test/support/boundedRun';

/** Bounds of one in-process case. */
export const CASE_SECONDS = 10;
/** Peak resident memory of the fuzzing process (MB): a case that takes it past this fails. */
export const PROCESS_RSS_MB = 1536;
/** Bounds of one CLI run (the acceptance bounds). */
export const CLI_SECONDS = 30;
export const CLI_RSS_MB = 1536;

interface Options {
  seed: number;
  cases: number;
  minutes: number;
  readers: ReaderName[];
  cliEvery: number;
  summary?: string;
  out: string;
  only?: number;
  minimise: boolean;
  quiet: boolean;
  /** A file that always names the case being run (for a run that is killed). */
  current?: string;
}

function parse(argv: string[]): Options {
  const o: Options = { seed: Date.now() % 1_000_000, cases: 0, minutes: 0, readers: [...READERS], cliEvery: 25, out: join(ROOT, 'test-results/fuzz'), minimise: true, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--seed') o.seed = Number(v());
    else if (a === '--cases') o.cases = Number(v());
    else if (a === '--minutes') o.minutes = Number(v());
    else if (a === '--readers') o.readers = v().split(',') as ReaderName[];
    else if (a === '--cli-every') o.cliEvery = Number(v());
    else if (a === '--summary') o.summary = v();
    else if (a === '--out') o.out = v();
    else if (a === '--only') o.only = Number(v());
    else if (a === '--no-minimise') o.minimise = false;
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--current') o.current = v();
    else throw new Error(`unknown option ${a}`);
  }
  for (const r of o.readers) if (!READERS.includes(r)) throw new Error(`unknown reader ${r} (one of ${READERS.join(', ')})`);
  if (!o.cases && !o.minutes) o.minutes = 1;
  return o;
}

export interface Failure {
  seed: number;
  index: number;
  reader: ReaderName;
  origin: string;
  kind: 'exception' | 'accepted' | 'time' | 'memory' | 'cli-exit' | 'cli-time' | 'cli-memory' | 'cli-output';
  error: string;
  seconds: number;
  /** Where the input was written. */
  saved: string;
  mutations?: unknown;
}

export interface ReaderCounts {
  tried: number;
  opened: number;
  inputError: number;
  other: number;
  overBounds: number;
  cliRuns: number;
  cliBad: number;
  maxSeconds: number;
  messageClasses: Record<string, number>;
}

export interface Summary {
  seed: number;
  seconds: number;
  peakRssMB: number;
  bounds: { caseSeconds: number; processRssMB: number; cliSeconds: number; cliRssMB: number };
  readers: Record<string, ReaderCounts>;
  failures: Failure[];
}

const TOKENIZER_TEXT = 'Hello world, the quick brown fox jumps over 13 lazy dogs. ñandú 日本語 🙂 ' + 'supercalifragilistic'.repeat(20);

/** One case in this process: 'opened', an InputError, or a thrown non-InputError. */
async function runInProcess(c: FuzzCase, dir: string): Promise<{ outcome: 'opened' | 'input'; message?: string }> {
  const first = join(dir, c.files[0].name);
  try {
    if (c.reader === 'tokenizer') {
      const tok = loadTokenizer(first);
      tok.encode(TOKENIZER_TEXT);
    } else if (c.reader === 'config') {
      // Found beside the model (read leniently), then named explicitly (--config: strict).
      await inspectCheckpoint(join(dir, 'model.safetensors'));
      await inspectCheckpoint(join(dir, 'model.safetensors'), { config: first });
    } else {
      await inspectCheckpoint(first);
    }
    return { outcome: 'opened' };
  } catch (e) {
    if (isInputError(e)) return { outcome: 'input', message: e.message };
    throw e;
  }
}

function writeCase(c: FuzzCase, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of c.files) writeFileSync(join(dir, f.name), f.bytes);
  if (c.reader === 'config') writeFileSync(join(dir, 'model.safetensors'), fixtureBytes(TINY_MODEL));
}

/** A message's class: the file named and the numbers taken out. */
function messageClass(message: string, dir: string): string {
  return message.split(dir).join('<dir>').replace(/<dir>\/[^\s:]*/g, '<file>').replace(/'[^']{0,200}'/g, "'…'").replace(/\d+(\.\d+)?/g, 'N').slice(0, 90);
}

const peakRssMB = (): number => process.resourceUsage().maxRSS / 1024;

function cliArgs(c: FuzzCase, dir: string): string[] {
  const first = join(dir, c.files[0].name);
  if (c.reader === 'tokenizer') return ['run', TINY_MODEL, '--text', 'hello world', '--tokenizer', first, '--backend', 'cpu'];
  if (c.reader === 'config') return ['inspect', join(dir, 'model.safetensors'), '--config', first];
  return ['inspect', first];
}

/** The CLI on the case's files: exit 0 or 1, within the bounds, escaped one-line errors. */
function checkCli(c: FuzzCase, dir: string): { kind: Failure['kind']; error: string; seconds: number } | null {
  const r = runCliMeasured(cliArgs(c, dir), { timeoutMs: (CLI_SECONDS + 10) * 1000 });
  const stderr = r.stderr.trim();
  if (r.timedOut || r.seconds > CLI_SECONDS) return { kind: 'cli-time', error: `the CLI ran ${r.seconds.toFixed(1)} s (bound ${CLI_SECONDS} s)`, seconds: r.seconds };
  if (r.code !== 0 && r.code !== 1) return { kind: 'cli-exit', error: `the CLI exited ${r.code}: ${stderr.slice(0, 400)}`, seconds: r.seconds };
  if (r.maxRssMB > CLI_RSS_MB) return { kind: 'cli-memory', error: `the CLI peaked at ${r.maxRssMB.toFixed(0)} MB (bound ${CLI_RSS_MB} MB)`, seconds: r.seconds };
  // eslint-disable-next-line no-control-regex
  const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
  if (raw.test(r.stdout) || raw.test(r.stderr)) return { kind: 'cli-output', error: 'the CLI printed a raw control character (an escape sequence from the file)', seconds: r.seconds };
  if (r.code === 1 && stderr.split('\n').length !== 1) return { kind: 'cli-output', error: `the CLI's error is ${stderr.split('\n').length} lines, not one: ${stderr.slice(0, 300)}`, seconds: r.seconds };
  if (r.code === 1 && stderr.length > 4500) return { kind: 'cli-output', error: `the CLI's error is ${stderr.length} characters long`, seconds: r.seconds };
  return null;
}

/** Greedy: drop mutations one at a time while the case still fails the same way. */
async function minimise(c: FuzzCase, dir: string, stillFails: (c: FuzzCase) => Promise<boolean>): Promise<FuzzCase> {
  if (!c.rebuild || !c.mutations || c.mutations.length <= 1) return c;
  let best = c;
  for (let i = 0; i < best.mutations!.length && best.mutations!.length > 1;) {
    const fewer = best.mutations!.filter((_, k) => k !== i);
    const candidate = c.rebuild(fewer);
    writeCase(candidate, dir);
    if (await stillFails(candidate)) best = candidate;
    else i++;
  }
  return best;
}

export async function fuzz(o: Options): Promise<Summary> {
  const started = Date.now();
  const deadline = o.minutes ? started + o.minutes * 60_000 : Infinity;
  const tmp = mkdtempSync(join(tmpdir(), 'gl-fuzz-'));
  const arbs = new Map(o.readers.map((r) => [r, caseArb(r)]));
  const counts: Record<string, ReaderCounts> = {};
  for (const r of o.readers) counts[r] = { tried: 0, opened: 0, inputError: 0, other: 0, overBounds: 0, cliRuns: 0, cliBad: 0, maxSeconds: 0, messageClasses: {} };
  const failures: Failure[] = [];
  const log = (s: string): void => {
    if (!o.quiet) process.stdout.write(s + '\n');
  };
  const record = (f: Omit<Failure, 'saved'>, c: FuzzCase): void => {
    const saved = join(o.out, `${f.reader}-seed${f.seed}-case${f.index}`);
    rmSync(saved, { recursive: true, force: true });
    mkdirSync(saved, { recursive: true });
    for (const file of c.files) writeFileSync(join(saved, file.name), file.bytes);
    writeFileSync(join(saved, 'case.json'), JSON.stringify({ ...f, mutations: c.mutations }, null, 2));
    failures.push({ ...f, saved, mutations: c.mutations });
    log(`FAIL ${f.reader} seed ${f.seed} case ${f.index} [${f.kind}] ${c.origin}: ${f.error.slice(0, 300)}\n     input: ${saved}`);
  };
  let lastProgress = Date.now();
  try {
    for (let index = o.only ?? 0; ; index++) {
      if (Date.now() - lastProgress > 60_000) {
        lastProgress = Date.now();
        const tried = Object.values(counts).reduce((n, k) => n + k.tried, 0);
        log(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${tried} cases, ${failures.length} failure(s), peak RSS ${peakRssMB().toFixed(0)} MB`);
      }
      if (o.only !== undefined && index > o.only) break;
      if (o.cases && o.only === undefined && index >= o.cases) break;
      if (Date.now() > deadline) break;
      for (const reader of o.readers) {
        if (Date.now() > deadline) break;
        // One case per (seed, reader, index): reproducible alone.
        const caseSeed = (o.seed * 1_000_003 + index * 7919 + READERS.indexOf(reader) * 104_729) | 0;
        const c = fc.sample(arbs.get(reader)!, { seed: caseSeed, numRuns: 1 })[0];
        const dir = join(tmp, reader);
        writeCase(c, dir);
        writeFileSync(o.current ?? join(tmp, 'current'), `${reader} seed ${o.seed} case ${index}: ${c.origin}`);
        const k = counts[reader];
        k.tried++;
        const t0 = process.hrtime.bigint();
        const rss0 = peakRssMB();
        let failed = false;
        try {
          const r = await runInProcess(c, dir);
          if (r.outcome === 'opened' && c.mustRefuse) {
            failed = true;
            k.other++;
            record({ seed: o.seed, index, reader, origin: c.origin, kind: 'accepted', error: 'opened a file that must be refused', seconds: 0 }, c);
          } else if (r.outcome === 'opened') k.opened++;
          else {
            k.inputError++;
            const cls = messageClass(r.message ?? '', dir);
            k.messageClasses[cls] = (k.messageClasses[cls] ?? 0) + 1;
          }
        } catch (e) {
          failed = true;
          k.other++;
          const err = e as Error;
          const describe = (x: unknown): string => `${(x as Error)?.name ?? 'Error'}: ${String((x as Error)?.message ?? x).slice(0, 300)}`;
          const sameFailure = async (cand: FuzzCase): Promise<boolean> => {
            try {
              await runInProcess(cand, dir);
              return false;
            } catch (e2) {
              return !isInputError(e2) && (e2 as Error)?.name === err?.name;
            }
          };
          const min = o.minimise ? await minimise(c, dir, sameFailure) : c;
          record({ seed: o.seed, index, reader, origin: c.origin, kind: 'exception', error: `${describe(err)}\n${(err?.stack ?? '').split('\n').slice(1, 4).join('\n')}`, seconds: 0 }, min);
        }
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        k.maxSeconds = Math.max(k.maxSeconds, seconds);
        const rss = peakRssMB();
        if (!failed && seconds > CASE_SECONDS) {
          k.overBounds++;
          record({ seed: o.seed, index, reader, origin: c.origin, kind: 'time', error: `took ${seconds.toFixed(1)} s (bound ${CASE_SECONDS} s)`, seconds }, c);
        } else if (!failed && rss > PROCESS_RSS_MB && rss > rss0) {
          k.overBounds++;
          record({ seed: o.seed, index, reader, origin: c.origin, kind: 'memory', error: `the process peaked at ${rss.toFixed(0)} MB during this case (bound ${PROCESS_RSS_MB} MB)`, seconds }, c);
        }
        if (o.cliEvery > 0 && index % o.cliEvery === READERS.indexOf(reader) % o.cliEvery) {
          writeCase(c, dir);
          k.cliRuns++;
          const bad = checkCli(c, dir);
          if (bad) {
            k.cliBad++;
            record({ seed: o.seed, index, reader, origin: c.origin, ...bad }, c);
          }
        }
        (globalThis as { gc?: () => void }).gc?.();
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return {
    seed: o.seed,
    seconds: (Date.now() - started) / 1000,
    peakRssMB: peakRssMB(),
    bounds: { caseSeconds: CASE_SECONDS, processRssMB: PROCESS_RSS_MB, cliSeconds: CLI_SECONDS, cliRssMB: CLI_RSS_MB },
    readers: counts,
    failures,
  };
}

export function formatSummary(s: Summary): string {
  const lines = [`fuzz: seed ${s.seed}, ${s.seconds.toFixed(0)} s, peak RSS ${s.peakRssMB.toFixed(0)} MB (bounds: ${s.bounds.caseSeconds} s and ${s.bounds.processRssMB} MB per in-process case; CLI ${s.bounds.cliSeconds} s, ${s.bounds.cliRssMB} MB, exit 0/1)`];
  lines.push('reader         tried  opened  InputError  other  over-bounds  CLI runs  CLI bad  max s');
  for (const [r, k] of Object.entries(s.readers)) {
    lines.push(`${r.padEnd(13)} ${String(k.tried).padStart(6)} ${String(k.opened).padStart(7)} ${String(k.inputError).padStart(11)} ${String(k.other).padStart(6)} ${String(k.overBounds).padStart(12)} ${String(k.cliRuns).padStart(9)} ${String(k.cliBad).padStart(8)} ${k.maxSeconds.toFixed(2).padStart(6)}`);
  }
  for (const [r, k] of Object.entries(s.readers)) {
    const top = Object.entries(k.messageClasses).sort((a, b) => b[1] - a[1]).slice(0, 8);
    if (top.length) lines.push(`${r} InputErrors by message (top ${top.length} of ${Object.keys(k.messageClasses).length}):`, ...top.map(([m, n]) => `  ${String(n).padStart(5)}  ${m}`));
  }
  lines.push(`${s.failures.length} failure(s)`);
  for (const f of s.failures) lines.push(`  ${f.reader} seed ${f.seed} case ${f.index} [${f.kind}] ${f.origin}: ${f.error.split('\n')[0]} (${f.saved})`);
  return lines.join('\n');
}

if (require.main === module) {
  const o = parse(process.argv.slice(2));
  fuzz(o).then(
    (s) => {
      if (o.summary) writeFileSync(o.summary, JSON.stringify(s, null, 2));
      process.stdout.write(formatSummary(s) + '\n');
      process.exitCode = s.failures.length ? 1 : 0;
    },
    (e) => {
      process.stderr.write(`fuzz: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 2;
    },
  );
}
