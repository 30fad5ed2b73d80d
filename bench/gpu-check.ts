/**
 * `npm run gpu-check`: on every backend of the ladder that is available here, the parity suite
 * (./parity.ts: every case of every fixture against its PyTorch reference) and a paper-size
 * forward + relevance timing (d=256, 6 layers, r=32, ff=1024, V=30522, T=256, random weights);
 * one table: backend, device, max error, ms, GFLOP/s. A GPU rung that is not available is listed
 * as skipped with the reason its probe gave. Builds nothing: runs from dist/ (npm run build).
 *
 *   npm run gpu-check                         every backend
 *   npm run gpu-check -- --backend wasm       one backend (repeatable)
 *   npm run gpu-check -- --no-paper           parity only
 *   npm run gpu-check -- --native-dir D       where the optional backends were installed
 *   npm run gpu-check -- --json               the rows as JSON
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { openCheckpoint } from '../src/checkpoint/open';
import { BACKEND_NAMES, GPU_BACKENDS, initBackend, releaseBackend, skippedText, type BackendName, type WebGpuHooks } from '../src/model/backend';
import { forwardFlops } from '../src/model/flops';
import { GrassmannModel } from '../src/model/grassmann';
import { firstLine } from '../src/model/gpuProbe';
import { hostKernelsAvailable } from '../src/model/hostKernels';
import { describeModel } from '../src/model/spec';
import { PAPER_DIMS } from '../src/model/synthetic';
import { relevanceOf } from '../src/relevance/lrp';
import { paperModelFiles } from './paperModel';
import { PARITY_ABS_TOL, PARITY_GRAD_REL_TOL, parityFixtures, runParity } from './parity';

const root = join(__dirname, '..');
const distDir = __dirname;

export interface GpuCheckRow {
  backend: BackendName;
  /** 'failed': the parity suite or the timing threw (see error). */
  status: 'ok' | 'skipped' | 'parity failed' | 'failed';
  /** What it computes on (GPU only when its probe proved it), or why it was skipped. */
  device: string;
  reason?: string;
  /** Largest tap error over the whole suite, and where. */
  maxError?: number;
  worstTap?: string;
  gradRelError?: number;
  taps?: number;
  /** Reference taps it did not produce, or produced in another shape (must be none). */
  problems?: string[];
  forwardMs?: number;
  gflops?: number;
  relevanceMs?: number;
  /** Why the relevance pass failed on this backend. */
  relevanceError?: string;
  probeGflops?: number;
  /** Why the parity suite or the paper-size forward pass threw. */
  error?: string;
}

export interface GpuCheckOptions {
  /** The rungs to check, in this order. */
  backends: readonly BackendName[];
  /** Time the paper-size forward and relevance passes (else parity only). */
  paper: boolean;
  /** Where the optional backends were installed (default: the folder install-gpu uses). */
  nativeModulesDir?: string;
  /** The .wasm binaries (default: beside this bundle, dist/). */
  wasmDir?: string;
  /** The WebGPU rung's loaders (default: the installed packages); tests inject fakes. */
  webgpu?: WebGpuHooks;
  /** For the probes' words (default process.platform). */
  platform?: NodeJS.Platform;
  log?: (s: string) => void;
}

function option(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => {
    if (a === `--${name}` && process.argv[i + 1]) out.push(process.argv[i + 1]);
  });
  return out;
}

async function time<T>(fn: () => Promise<T> | T): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function paperTiming(backend: BackendName, row: GpuCheckRow): Promise<void> {
  const { safetensors } = await paperModelFiles(join(root, 'bench/.data'));
  const checkpoint = await openCheckpoint(safetensors);
  try {
    const described = await describeModel(checkpoint);
    if (!described.recognized) throw new Error(described.problems.join('; '));
    const spec = described.spec;
    const model = await GrassmannModel.load(checkpoint, spec);
    try {
      const ids = Array.from({ length: PAPER_DIMS.maxPositions }, (_, i) => (i * 7919 + 13) % PAPER_DIMS.vocabSize);
      await model.forward(ids); // warm-up: kernel compilation, uploads
      const repeats = backend === 'cpu' ? 1 : 3;
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) times.push(await time(() => model.forward(ids)));
      times.sort((a, b) => a - b);
      row.forwardMs = times[Math.floor(times.length / 2)];
      const kind = hostKernelsAvailable(backend) ? 'host' : 'composite';
      row.gflops = forwardFlops(spec.dims, ids.length, spec.layerShapes, 1, kind).executed.total / row.forwardMs / 1e6;
      try {
        row.relevanceMs = await time(() => relevanceOf(model, ids, { kind: 'next-token' }));
      } catch (e) {
        row.relevanceError = firstLine(e);
      }
    } finally {
      model.dispose();
    }
  } finally {
    await checkpoint.close();
  }
}

/**
 * Each backend in turn: skipped (with its probe's reason) unless initBackend makes exactly it
 * active, else the parity suite and, with `paper`, the paper-size timing on it.
 */
export async function gpuCheck(opts: GpuCheckOptions): Promise<GpuCheckRow[]> {
  const { backends, paper, nativeModulesDir, webgpu, platform } = opts;
  const log = opts.log ?? (() => {});
  const rows: GpuCheckRow[] = [];
  for (const backend of backends) {
    const report = await initBackend({ preference: backend, wasmDir: opts.wasmDir ?? distDir, nativeModulesDir, webgpu, platform });
    const attempt = report.attempts.find((a) => a.name === backend);
    if (report.active !== backend || !attempt) {
      rows.push({ backend, status: 'skipped', device: '-', reason: attempt ? skippedText(attempt) : `${backend} was not tried` });
      log(`${backend}: skipped`);
      continue;
    }
    const row: GpuCheckRow = { backend, status: 'ok', device: report.device ?? 'CPU', probeGflops: attempt.product?.gflops };
    rows.push(row);
    log(`${backend}: parity…`);
    try {
      let maxError = 0;
      let taps = 0;
      for (const fixture of parityFixtures(root)) {
        const result = await runParity(fixture);
        taps += result.taps;
        if (result.problems.length) [row.status, row.problems] = ['parity failed', [...(row.problems ?? []), ...result.problems.map((p) => `${fixture.label} ${p}`)]];
        if (result.maxError >= maxError) [maxError, row.worstTap] = [result.maxError, `${fixture.label} ${result.worstTap}`];
        if (result.gradRelError !== undefined) row.gradRelError = Math.max(row.gradRelError ?? 0, result.gradRelError);
      }
      Object.assign(row, { maxError, taps });
      if (!(maxError <= PARITY_ABS_TOL) || !((row.gradRelError ?? 0) <= PARITY_GRAD_REL_TOL)) row.status = 'parity failed';
    } catch (e) {
      // One backend that throws (a kernel it lacks, a lost device) must not cost the other rows.
      [row.status, row.error] = ['failed', `parity: ${firstLine(e)}`];
      continue;
    }
    if (paper) {
      log(`${backend}: paper-size forward and relevance…`);
      try {
        await paperTiming(backend, row);
      } catch (e) {
        [row.status, row.error] = ['failed', `paper-size forward: ${firstLine(e)}`];
      }
    }
  }
  return rows;
}

const cell = (v: number | undefined, digits: number) => (v === undefined ? '-' : v.toFixed(digits));

export function formatTable(rows: GpuCheckRow[]): string {
  const header = ['backend', 'device', 'parity', 'max error', 'grad rel', 'forward ms', 'GFLOP/s', 'relevance ms', 'probe GFLOP/s'];
  const parity = { ok: 'ok', skipped: 'skipped', 'parity failed': 'FAILED', failed: 'error' } as const;
  const body = rows.map((r) => [
    r.backend, r.device, parity[r.status], r.maxError === undefined ? '-' : r.maxError.toExponential(2),
    r.gradRelError === undefined ? '-' : r.gradRelError.toExponential(2), cell(r.forwardMs, 1), cell(r.gflops, 2),
    r.relevanceError ? 'fails' : cell(r.relevanceMs, 1), cell(r.probeGflops, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
  for (const r of rows) if (r.status === 'skipped') out.push(r.reason ?? `${r.backend} skipped`);
  for (const r of rows) if (r.error) out.push(`${r.backend} failed: ${r.error}`);
  for (const r of rows) if (r.status === 'parity failed') out.push(`${r.backend}: parity FAILED: max error ${r.maxError?.toExponential(2)} at ${r.worstTap}${r.gradRelError !== undefined ? `, grad.embeddings ${r.gradRelError.toExponential(2)} relative` : ''}${r.problems?.length ? `; ${r.problems.length} taps missing or misshapen, first ${r.problems[0]}` : ''}`);
  for (const r of rows) if (r.relevanceError) out.push(`${r.backend}: relevance failed: ${r.relevanceError}`);
  out.push(`parity: every case of ${parityFixtures(root).map((f) => f.label).join(', ')}; bound ${PARITY_ABS_TOL} absolute per tap, grad.embeddings ${PARITY_GRAD_REL_TOL} relative (the same bound on every backend).`);
  if (rows.some((r) => r.forwardMs !== undefined)) out.push(`timing: paper size d=${PAPER_DIMS.modelDim}, ${PAPER_DIMS.layers} layers, r=${PAPER_DIMS.reducedDim}, ff=${PAPER_DIMS.ffDim}, V=${PAPER_DIMS.vocabSize}, T=${PAPER_DIMS.maxPositions}: forward without taps (median), GFLOP/s of the products it executes; relevance: LRP from the next token at every position (epsilon).`);
  return out.join('\n');
}

async function main(): Promise<number> {
  const wanted = option('backend');
  for (const b of wanted) {
    if (!(BACKEND_NAMES as readonly string[]).includes(b)) {
      process.stderr.write(`gpu-check: --backend must be one of ${BACKEND_NAMES.join(', ')}; got '${b}'\n`);
      return 2;
    }
  }
  const backends = wanted.length ? (wanted as BackendName[]) : [...BACKEND_NAMES];
  const rows = await gpuCheck({ backends, paper: !process.argv.includes('--no-paper'), nativeModulesDir: option('native-dir')[0], log: (s) => process.stderr.write(`${s}\n`) });
  if (process.argv.includes('--json')) console.log(JSON.stringify(rows, null, 2));
  else console.log(formatTable(rows));
  tf.disposeVariables();
  const gpuRan = rows.some((r) => GPU_BACKENDS.includes(r.backend) && r.status !== 'skipped');
  if (!gpuRan) process.stderr.write('No GPU backend is available here: the GPU rows are skipped (see the reasons above).\n');
  return rows.some((r) => r.status === 'parity failed' || r.status === 'failed') ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`gpu-check: ${(e as Error)?.stack ?? e}\n`);
      process.exitCode = 1;
    },
  ).finally(() => {
    releaseBackend();
    setTimeout(() => process.exit(), 1000).unref();
  });
}
