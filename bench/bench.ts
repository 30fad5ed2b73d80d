/**
 * `npm run bench`: load time, forward+taps time per backend, tokens/s, GFLOP/s, peak RSS and the
 * longest event-loop stall, for the tiny fixture and for a paper-size model with random weights
 * (d=256, 6 layers, r=32, ff=1024, V=30522, T=256); then the geometry: distance matrices for
 * T = 256 and 1024, features of every layer and offset at T = 256, drift over 10 checkpoints.
 * Prints numbers; asserts nothing.
 *
 * Each backend runs the block ops it uses by default (host kernels on wasm and cpu); wasm is also
 * timed with the TensorFlow.js-op versions ('composite'), the path native backends take.
 * The machine's WebAssembly SIMD ceiling (./simdPeak.ts) is measured next to the paper-size
 * forward pass, so its GFLOP/s can be read as a fraction of what the cores give right now.
 *
 *   npm run bench                 everything
 *   npm run bench -- --quick      skip the slow plain-CPU backend on the paper-size model
 *   npm run bench -- --requests   only the worker-request section (Explain twice, cancel, yield cost)
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { openCheckpoint } from '../src/checkpoint/open';
import { initBackend, type BackendName } from '../src/model/backend';
import type { BlockOpsKind } from '../src/model/blockOps';
import { forwardFlops } from '../src/model/flops';
import { loadGrassmannModel } from '../src/model/grassmann';
import { hostKernelsAvailable } from '../src/model/hostKernels';
import { describeModel, type GrassmannSpec } from '../src/model/spec';
import { PAPER_DIMS, uniformValues } from '../src/model/synthetic';
import { driftOfCheckpoints } from '../src/core/drift';
import { featuresInSession } from '../src/core/features';
import { ModelSession } from '../src/core/session';
import { distanceFromAngles, GRASSMANN_METRICS } from '../src/geometry/angles';
import { planeDistanceMatrix, tokenPlanes } from '../src/geometry/planes';
import { loadTokenizer } from '../src/tokenizer';
import { relevanceOf, relevanceOfAsync } from '../src/relevance/lrp';
import { yieldToEventLoop } from '../src/core/cancellation';
import { targetGradients } from '../src/relevance/gradients';
import { DEFAULT_RELEVANCE_OPTIONS } from '../src/relevance/types';
import { CancelledError, ComputeClient } from '../src/worker/client';
import { paperModelFiles, paperRunFiles, PAPER_WINDOWS } from './paperModel';
import { measureWasmSimdPeak, type SimdPeak } from './simdPeak';

const root = join(__dirname, '..');
const distDir = __dirname; // the bundle runs from dist/
const tiny = join(root, 'test/fixtures/tiny-grassmann');
const dataDir = join(root, 'bench/.data');
const quick = process.argv.includes('--quick');
/** `npm run bench -- --relevance`: only the paper-size relevance section. */
const onlyRelevance = process.argv.includes('--relevance');
/** `npm run bench -- --requests`: only the paper-size worker-request section. */
const onlyRequests = process.argv.includes('--requests');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

function row(cells: (string | number)[]): void {
  console.log(cells.map((c, i) => String(c).padEnd(i === 1 ? 22 : 14)).join(''));
}

const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;

/** Opens (header + state-dict layout + architecture, no weights) `repeats` times. */
async function openTimes(path: string, repeats: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const [, ms] = await timed(async () => {
      const ck = await openCheckpoint(path);
      const d = await describeModel(ck);
      if (!d.recognized) throw new Error(`${path}: not recognised: ${d.problems.join('; ')}`);
      await ck.close();
    });
    times.push(ms);
  }
  return median(times);
}

interface Run {
  backend: BackendName;
  ops: 'auto' | BlockOpsKind;
}

/** fwd+taps and fwd without taps, median of `repeats`, for each backend (and block ops) in `runs`. */
async function forwardBench(label: string, path: string, ids: number[], runs: Run[], repeats: number, peak?: SimdPeak): Promise<void> {
  for (const { backend: b, ops } of runs) {
    const report = await initBackend({ preference: b, wasmDir: distDir });
    if (report.active !== b) {
      row([label, b, 'unavailable', report.attempts.find((a) => a.name === b)?.detail ?? '']);
      continue;
    }
    const ck = await openCheckpoint(path);
    const d = await describeModel(ck);
    if (!d.recognized) throw new Error('not recognised');
    const spec: GrassmannSpec = d.spec;
    const [model, loadMs] = await timed(() => loadGrassmannModel(ck, spec));
    await model.forward(ids, { taps: true, ops }); // warm-up: kernel compilation, allocation
    const n = b === 'cpu' && ids.length > 128 ? 1 : repeats;
    const times: number[] = [];
    for (let i = 0; i < n; i++) times.push((await timed(() => model.forward(ids, { taps: true, ops })))[1]);
    const ms = median(times);
    const plain: number[] = [];
    for (let i = 0; i < n; i++) plain.push((await timed(() => model.forward(ids, { ops })))[1]);
    const plainMs = median(plain);
    const kind: BlockOpsKind = ops === 'auto' ? (hostKernelsAvailable(b) ? 'host' : 'composite') : ops;
    const flops = forwardFlops(spec.dims, ids.length, spec.layerShapes, 1, kind);
    const rate = (t: number) => `${(flops.nominal.total / t / 1e6).toFixed(1)}/${(flops.executed.total / t / 1e6).toFixed(1)}`;
    const ofPeak = peak && b === 'wasm' ? `${((flops.executed.total / ms / 1e6 / peak.allThreads) * 100).toFixed(0)}%` : '';
    row([label, `${b}/${report.threads}t ${kind}`, fmt(loadMs), fmt(ms), `${((ids.length / ms) * 1000).toFixed(0)} tok/s`, rate(ms),
      fmt(plainMs), rate(plainMs), ofPeak]);
    model.dispose();
    await ck.close();
  }
}

async function stallBench(checkpoint: string, text: string, tokenizerDir: string): Promise<void> {
  const client = new ComputeClient({ workerPath: join(distDir, 'worker.js'), backend: 'auto' });
  const backend = await client.backend();
  await client.request('run', { checkpoint, text, tokenizer: tokenizerDir }); // warm-up
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  // A 1 ms timer on this thread: the longest gap between its ticks is the longest stall.
  let last = performance.now();
  let longestGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 1);
  histogram.enable();
  const started = performance.now();
  const runs = 3;
  for (let i = 0; i < runs; i++) await client.request('run', { checkpoint, text, tokenizer: tokenizerDir });
  const elapsed = performance.now() - started;
  histogram.disable();
  clearInterval(timer);
  await client.dispose();
  console.log(`  ${runs} paper-size runs in the worker (${backend.active}/${backend.threads}t) took ${fmt(elapsed)}; ` +
    `caller's longest event-loop stall ${fmt(Math.max(longestGap - 1, 0))} (timer gap - 1 ms), ` +
    `event-loop delay p99 ${fmt(histogram.percentile(99) / 1e6)}, max ${fmt(histogram.max / 1e6)}`);
}

/** Median time of `fn` over `repeats` runs (after one warm-up). */
async function medianMs(repeats: number, fn: () => unknown): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push((await timed(async () => fn()))[1]);
  return median(times);
}

/**
 * LRP (src/relevance/lrp.ts) against the forward pass on the same model and tokens: the
 * relevance pass records the forward stages, then propagates from the true next token at every
 * position. The goal is relevance / forward <= 2.5.
 */
async function relevanceBench(path: string, ids: number[], repeats: number): Promise<void> {
  const backend = await initBackend({ preference: 'wasm', wasmDir: distDir });
  const checkpoint = await openCheckpoint(path);
  const described = await describeModel(checkpoint);
  if (!described.recognized) throw new Error(described.problems.join('; '));
  const model = await loadGrassmannModel(checkpoint, described.spec);
  try {
    const forwardMs = await medianMs(repeats, () => model.forward(ids));
    const forwardTapsMs = await medianMs(repeats, () => model.forward(ids, { taps: true }));
    console.log(`  (${backend.active}/${backend.threads}t, T=${ids.length}, median of ${repeats}) forward ${fmt(forwardMs)}, forward + every tap ${fmt(forwardTapsMs)}`);
    for (const rule of ['epsilon', 'zplus', 'gamma'] as const) {
      const options = { ...DEFAULT_RELEVANCE_OPTIONS, rule };
      let account = { start: 0, input: 0, bias: 0, epsilon: 0 };
      const ms = await medianMs(repeats, async () => (account = (await relevanceOf(model, ids, { kind: 'next-token' }, options)).accounting));
      console.log(`  relevance (${rule}, signal-take-all, ${ids.length - 1} targets): ${fmt(ms)} = ${(ms / forwardMs).toFixed(2)} x forward (goal <= 2.5); start ${account.start.toPrecision(4)} = input ${account.input.toPrecision(4)} + biases ${account.bias.toPrecision(4)} + eps ${account.epsilon.toPrecision(4)}`);
    }
    const gradMs = await medianMs(repeats, () => targetGradients(model, ids));
    console.log(`  gradients of the target logits w.r.t. z, g and the FFN activations (gradient/taylor criteria): ${fmt(gradMs)} = ${(gradMs / forwardMs).toFixed(2)} x forward`);
  } finally {
    model.dispose();
    await checkpoint.close();
  }
}

/**
 * The checkpoint editor's requests through the worker, as the editor sends them (issue 15):
 * Explain (relevance) pressed twice on the same checkpoint and text — the second reads no weights —
 * and a cancelled request, which frees the worker within about one block; then what the yields
 * between blocks (one setImmediate each) cost in the bench's own thread.
 */
async function requestsBench(checkpoint: string, text: string, tokenizerDir: string, ids: number[]): Promise<void> {
  const backend = await initBackend({ preference: 'wasm', wasmDir: distDir });
  // Weight load alone (what a first press includes and a second does not), here on the same backend.
  const loads: number[] = [];
  let perBlock: number[] = [];
  let forwardMs = 0;
  for (let i = 0; i < 3; i++) {
    const session = await ModelSession.open(checkpoint, { tokenizer: tokenizerDir });
    loads.push((await timed(() => session.loadModel()))[1]);
    if (i === 2) {
      const model = await session.loadModel();
      await model.forward(ids);
      forwardMs = (await timed(() => model.forward(ids)))[1];
      // One block's forward: the time between two pauses of a block-by-block pass.
      let last = 0;
      const gaps: number[] = [];
      await model.forward(ids, { pause: async () => { if (last) gaps.push(performance.now() - last); await yieldToEventLoop(); last = performance.now(); } });
      gaps.push(performance.now() - last);
      perBlock = gaps;
      // The cost of yielding: the same passes with and without a pause (one setImmediate) per block.
      const pause = () => yieldToEventLoop();
      // Alternated, so that drift of the machine's speed falls on both alike.
      const alternate = async (rounds: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> => {
        await a();
        await b();
        const [ta, tb]: number[][] = [[], []];
        for (let k = 0; k < rounds; k++) {
          ta.push((await timed(a))[1]);
          tb.push((await timed(b))[1]);
        }
        return [median(ta), median(tb)];
      };
      const [plain, stepwise] = await alternate(7, () => model.forward(ids), () => model.forward(ids, { pause }));
      const [lrp, lrpStepwise] = await alternate(7, async () => relevanceOf(model, ids, { kind: 'next-token' }), () => relevanceOfAsync(model, ids, { kind: 'next-token' }, DEFAULT_RELEVANCE_OPTIONS, { pause }));
      const yields = await medianMs(5, async () => { for (let k = 0; k < 1000; k++) await yieldToEventLoop(); });
      console.log(`  yield cost (${backend.active}/${backend.threads}t, T=${ids.length}, median): forward ${fmt(plain)} in one tf.tidy, ${fmt(stepwise)} block by block with ${PAPER_DIMS.layers} yields (${(((stepwise - plain) / plain) * 100).toFixed(1)}%); ` +
        `relevance ${fmt(lrp)}, ${fmt(lrpStepwise)} with ${2 * PAPER_DIMS.layers} yields (${(((lrpStepwise - lrp) / lrp) * 100).toFixed(1)}%); one setImmediate ${((yields / 1000) * 1000).toFixed(1)} us`);
    }
    await session.close();
  }
  console.log(`  weight load (open session, loadModel) in this thread: median ${fmt(median(loads))}; forward ${fmt(forwardMs)}, one block ${fmt(median(perBlock))} (median; the largest step, the last block with the head's logits, ${fmt(Math.max(...perBlock))})`);

  const client = new ComputeClient({ workerPath: join(distDir, 'worker.js'), backend: 'wasm', wasmDir: distDir });
  try {
    const workerBackend = await client.backend();
    const request = { checkpoint, text, tokenizer: tokenizerDir };
    const [first, firstMs] = await timed(() => client.request('relevance', request));
    const [second, secondMs] = await timed(() => client.request('relevance', request));
    const loaded = await client.request('cachedModel', { path: checkpoint, tokenizer: tokenizerDir });
    const [, thirdMs] = await timed(() => client.request('relevance', request));
    console.log(`  Explain pressed twice (worker ${workerBackend.active}/${workerBackend.threads}t, T=${first.length}): first ${fmt(firstMs)} (of which LRP ${fmt(first.seconds * 1000)}; ` +
      `open + weight load + messages ${fmt(firstMs - first.seconds * 1000)}), second ${fmt(secondMs)} (LRP ${fmt(second.seconds * 1000)}; no weights read: model cached ${loaded}), third ${fmt(thirdMs)}`);

    // Cancel a relevance request part-way, send the next at once: how long until the worker serves it.
    const stops: number[] = [];
    const nexts: number[] = [];
    for (const at of [0.2, 0.45, 0.7]) {
      const abort = new AbortController();
      const running = client.request('relevance', request, { signal: abort.signal, untilStopped: true }).then(() => 'finished', (e: unknown) => (e instanceof CancelledError ? 'cancelled' : String(e)));
      await new Promise((resolve) => setTimeout(resolve, secondMs * at));
      const cancelledAt = performance.now();
      abort.abort();
      await client.request('cachedModel', { path: checkpoint, tokenizer: tokenizerDir }); // answered as soon as the worker turns its event loop
      nexts.push(performance.now() - cancelledAt);
      const outcome = await running;
      stops.push(performance.now() - cancelledAt);
      if (outcome !== 'cancelled') console.log(`  (the request cancelled at ${at * 100}% ended: ${outcome})`);
    }
    console.log(`  a cancelled relevance (${fmt(secondMs)} uncancelled), cancelled at 20/45/70%: next request served ${nexts.map(fmt).join(', ')} after the cancel; ` +
      `the cancelled one stopped ${stops.map(fmt).join(', ')} after; one block's forward ${fmt(median(perBlock))}, the whole LRP / ${2 * PAPER_DIMS.layers} blocks ${fmt(second.seconds * 1000 / (2 * PAPER_DIMS.layers))}`);
  } finally {
    await client.dispose();
  }
}

/** Distances, features and drift (src/geometry) at the sizes of the issue. */
async function geometryBench(paperCheckpoint: string, text: string, tokenizerDir: string): Promise<void> {
  console.log('\n== geometry (float64, one thread of JavaScript) ==');
  const r = PAPER_DIMS.reducedDim;
  for (const T of [256, 1024]) {
    // planes of random states: the cost depends on T and r only
    const z = uniformValues(T * r, T);
    const planes = tokenPlanes(z, T, r, 1, 'previous');
    let matrix = planeDistanceMatrix(planes, 'geodesic');
    const anglesMs = await medianMs(3, () => (matrix = planeDistanceMatrix(tokenPlanes(z, T, r, 1, 'previous'), 'geodesic')));
    const N = matrix.positions.length;
    const allMetricsMs = await medianMs(3, () => {
      const out = new Float64Array(N * N);
      const pair = [0, 0];
      for (const metric of GRASSMANN_METRICS) {
        for (let k = 0; k < N * N; k++) {
          pair[0] = matrix.angles[2 * k];
          pair[1] = matrix.angles[2 * k + 1];
          out[k] = distanceFromAngles(metric, pair);
        }
      }
      return out;
    });
    console.log(`  T=${T}, r=${r}: ${N}x${N} planes, principal angles + geodesic matrix ${fmt(anglesMs)} ` +
      `(${((N * (N - 1)) / 2 / anglesMs / 1000).toFixed(2)} M pairs/s); the 7 metrics from those angles ${fmt(allMetricsMs)}`);
  }
  const backend = await initBackend({ preference: 'auto', wasmDir: distDir }); // the forward bench ends on cpu
  const session = await ModelSession.open(paperCheckpoint, { tokenizer: tokenizerDir });
  try {
    await session.loadModel();
    const featuresMs = await medianMs(3, () => featuresInSession(session, text, {}));
    const report = await featuresInSession(session, text, {});
    const planesCount = report.layers.reduce((s, l) => s + l.offsets.reduce((a, o) => a + o.positions.length, 0), 0);
    console.log(`  features (${backend.active}/${backend.threads}t), paper size, all ${report.layers.length} layers x ${report.layers[0].offsets.length} offsets at T=${report.tokens.length} ` +
      `(${planesCount} planes: forward with taps, Plücker residuals over C(${r},4) quadruples, W_plu projections): ${fmt(featuresMs)}`);
  } finally {
    await session.close();
  }
  const runFiles = await paperRunFiles(dataDir, 10);
  const [drift, driftMs] = await timed(() => driftOfCheckpoints({ paths: runFiles }));
  console.log(`  drift over ${runFiles.length} paper-size checkpoints (${drift.consecutive[0].tensors.length} tensors each, W_red subspaces): ${fmt(driftMs)}; ` +
    `W_red of layer 0 moves ${drift.consecutive[0].tensors.find((t) => t.subspace)!.subspace!.maxAngle.toExponential(2)} rad in the first step`);
}

async function main(): Promise<void> {
  console.log(`Grassmann Lens bench — node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, tfjs ${tf.version_core}`);
  const auto = await initBackend({ preference: 'auto', wasmDir: distDir });
  const backends = auto.attempts.filter((a) => a.available || a.name === 'cpu').map((a) => a.name);
  for (const b of ['wasm', 'cpu'] as BackendName[]) if (!backends.includes(b)) backends.push(b);
  console.log(`auto backend: ${auto.active} — ${auto.reason}`);
  const runs: Run[] = backends.flatMap((backend): Run[] => (backend === 'wasm' ? [{ backend, ops: 'auto' }, { backend, ops: 'composite' }] : [{ backend, ops: 'auto' }]));
  const header = ['model', 'backend, ops', 'load', 'fwd+taps', 'tokens/s', 'GF/s nom/exe', 'fwd no taps', 'GF/s nom/exe', 'of SIMD peak'];

  const tokenizer = loadTokenizer(join(tiny, 'tokenizer.json'));
  const evalText = readFileSync(join(tiny, 'eval.txt'), 'utf8');
  const evalIds = tokenizer.encode(evalText).map((t) => t.id);

  console.log('\n== tiny fixture (V=1200, d=64, L=4, r=16, ff=256), T=128 ==');
  const tinyPt = join(tiny, 'checkpoints/best.pt');
  const tinySt = join(tiny, 'model.safetensors');
  console.log(`  open (header + layout + architecture): .pt ${fmt(await openTimes(tinyPt, 9))}, .safetensors ${fmt(await openTimes(tinySt, 9))}`);
  row(header);
  await forwardBench('tiny', tinyPt, evalIds.slice(0, 128), runs, 9);

  console.log('\n== paper size (V=30522, d=256, L=6, r=32, ff=1024), random weights, T=256 ==');
  const { safetensors: paperSt, pt: paperPt } = await paperModelFiles(dataDir);
  console.log(`  open (header + layout + architecture): .pt ${fmt(await openTimes(paperPt, 5))}, .safetensors ${fmt(await openTimes(paperSt, 5))}`);
  const paperIds = Array.from({ length: PAPER_DIMS.maxPositions }, (_, i) => evalIds[i % evalIds.length]);
  const paperFlops = forwardFlops({ ...PAPER_DIMS, pairCount: (PAPER_DIMS.reducedDim * (PAPER_DIMS.reducedDim - 1)) / 2 }, 256, PAPER_WINDOWS);
  console.log(`  FLOPs per forward: nominal ${(paperFlops.nominal.total / 1e9).toFixed(2)} G (paper's equations), executed ${(paperFlops.executed.total / 1e9).toFixed(2)} G`);
  if (onlyRequests) {
    console.log('\n== worker requests as the checkpoint editor sends them, paper size ==');
    await requestsBench(paperSt, tokenizer.decode(paperIds.slice(1, 255)), tiny, paperIds);
    return;
  }
  if (onlyRelevance) {
    console.log('\n== relevance (LRP) vs forward, paper size ==');
    await relevanceBench(paperSt, paperIds, 3);
    return;
  }
  const threads = (await initBackend({ preference: 'wasm', wasmDir: distDir })).threads;
  const peak = await measureWasmSimdPeak(threads);
  console.log(`  WebAssembly SIMD ceiling now (4x8 f32x4 multiply-add micro-kernel, L1-resident): ${peak.oneThread.toFixed(1)} GFLOP/s on 1 thread, ${peak.allThreads.toFixed(1)} on ${threads} at once`);
  row(header);
  await forwardBench('paper', paperSt, paperIds, quick ? runs.filter((r) => r.backend !== 'cpu') : runs, 5, peak);
  const after = await measureWasmSimdPeak(threads);
  console.log(`  (SIMD ceiling after the forward passes: ${after.oneThread.toFixed(1)} / ${after.allThreads.toFixed(1)} GFLOP/s; "of SIMD peak" = executed GFLOP/s of fwd+taps / the ceiling before)`);

  await geometryBench(paperSt, tokenizer.decode(paperIds.slice(1, 255)), tiny);

  console.log('\n== relevance (LRP) vs forward, paper size ==');
  await relevanceBench(paperSt, paperIds, quick ? 3 : 5);

  console.log('\n== worker requests as the checkpoint editor sends them, paper size ==');
  await requestsBench(paperSt, tokenizer.decode(paperIds.slice(1, 255)), tiny, paperIds);

  console.log('\n== event loop of the caller while the worker computes (paper size, T=256) ==');
  const text = tokenizer.decode(paperIds.slice(1, 255));
  await stallBench(paperSt, text, tiny);

  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
