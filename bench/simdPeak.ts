/**
 * What WebAssembly SIMD can compute on this machine right now: the GFLOP/s of a 4x8 f32x4
 * multiply-add micro-kernel (the inner loop of a GEMM: per k, two 4-float loads of B, four
 * broadcast loads of A, 8 multiplies and 8 adds into 8 accumulators) on data that stays in L1,
 * on 1 thread and on N threads at once. No matrix product in WebAssembly (without the relaxed-SIMD
 * FMA, which tfjs-backend-wasm 4.22 does not use) can beat it, so it is the yardstick for the
 * forward pass's GFLOP/s on shared machines whose speed changes from run to run.
 *
 * The module is assembled below, byte by byte (a few dozen instructions; no assembler needed).
 */
import { Worker } from 'node:worker_threads';

const K = 256; // k-steps per panel: A panel 4 KiB, B panel 8 KiB
const A_OFFSET = 0;
const B_OFFSET = 65536;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/** Signed LEB128 for small non-negative constants. */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

/** (func (param a b k reps i32) (result f32)): reps times over the panels, k steps each. */
export function microKernelModule(): Uint8Array<ArrayBuffer> {
  const [A, B, KK, REPS] = [0, 1, 2, 3];
  const c = (i: number, j: number) => 4 + i * 2 + j; // 8 v128 accumulators: locals 4..11
  const [B0, B1, S] = [12, 13, 14];
  const [PA, PB, KLEFT] = [15, 16, 17];
  const get = (i: number) => [0x20, ...uleb(i)];
  const set = (i: number) => [0x21, ...uleb(i)];
  const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
  const load = (offset: number) => simd(0x00, 4, ...uleb(offset)); // v128.load align=16
  const splat = (offset: number) => simd(0x09, 2, ...uleb(offset)); // v128.load32_splat align=4
  const F32X4_ADD = 0xe4;
  const F32X4_MUL = 0xe6;
  const body: number[] = [
    0x02, 0x40, // block $outerDone
    0x03, 0x40, //   loop $outer
    ...get(REPS), 0x45, 0x0d, 1, // br_if $outerDone (reps == 0)
    ...get(A), ...set(PA), ...get(B), ...set(PB), ...get(KK), ...set(KLEFT),
    0x02, 0x40, //     block
    0x03, 0x40, //       loop $step
    ...get(PB), ...load(0), ...set(B0),
    ...get(PB), ...load(16), ...set(B1),
  ];
  for (let i = 0; i < 4; i++) {
    body.push(...get(PA), ...splat(4 * i), ...set(S));
    for (let j = 0; j < 2; j++) body.push(...get(c(i, j)), ...get(S), ...get(j ? B1 : B0), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(c(i, j)));
  }
  body.push(
    ...get(PA), 0x41, ...sleb(16), 0x6a, ...set(PA),
    ...get(PB), 0x41, ...sleb(32), 0x6a, ...set(PB),
    ...get(KLEFT), 0x41, ...sleb(1), 0x6b, ...set(KLEFT),
    ...get(KLEFT), 0x0d, 0, // br_if $step
    0x0b, 0x0b, //     end loop, end block
    ...get(REPS), 0x41, ...sleb(1), 0x6b, ...set(REPS),
    0x0c, 0, //   br $outer
    0x0b, 0x0b, // end loop, end block
    ...get(c(0, 0)),
  );
  for (let k = 1; k < 8; k++) body.push(...get(4 + k), ...simd(F32X4_ADD));
  body.push(...simd(0x1f, 0), 0x0b); // f32x4.extract_lane 0; end
  const locals = vec([[...uleb(11), 0x7b], [...uleb(3), 0x7f]]); // 11 v128, 3 i32
  const code = [...locals, ...body];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[0x7f], [0x7f], [0x7f], [0x7f]]), ...vec([[0x7d]])]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, ...uleb(4)]])), // memory: 4 pages
    ...section(7, vec([[...vec([[0x6b]]), 0x00, 0], [...vec([[0x6d]]), 0x02, 0]])), // export "k" (func 0), "m" (memory 0)
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ];
  return Uint8Array.from(bytes);
}

interface PanelLayout {
  steps: number;
  aOffset: number;
  bOffset: number;
}

/**
 * Runs the micro-kernel for about `ms` milliseconds; returns GFLOP/s. Workers run its source
 * text, so it uses nothing but its arguments and JavaScript globals.
 */
function runMicroKernel(bytes: Uint8Array<ArrayBuffer>, ms: number, layout: PanelLayout): number {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const { k, m } = instance.exports as { k: (a: number, b: number, steps: number, reps: number) => number; m: WebAssembly.Memory };
  new Float32Array(m.buffer).fill(1e-3);
  k(layout.aOffset, layout.bOffset, layout.steps, 2000); // tier up
  let reps = 1000;
  for (;;) {
    const t0 = performance.now();
    k(layout.aOffset, layout.bOffset, layout.steps, reps);
    const elapsed = performance.now() - t0;
    if (elapsed >= ms) return (2 * 4 * 8 * layout.steps * reps) / (elapsed / 1000) / 1e9;
    reps = Math.ceil(reps * Math.min(10, (ms * 1.1) / Math.max(elapsed, 0.1)));
  }
}

export interface SimdPeak {
  oneThread: number;
  /** Sum over `threads` workers running at the same time. */
  allThreads: number;
  threads: number;
}

/** GFLOP/s of the micro-kernel on this thread, then on `threads` worker threads at once. */
export async function measureWasmSimdPeak(threads: number, ms = 400): Promise<SimdPeak> {
  const bytes = microKernelModule();
  const layout: PanelLayout = { steps: K, aOffset: A_OFFSET, bOffset: B_OFFSET };
  const oneThread = runMicroKernel(bytes, ms, layout);
  const source = `const { parentPort, workerData } = require('node:worker_threads');
const run = ${runMicroKernel.toString()};
parentPort.postMessage(run(workerData.bytes, workerData.ms, workerData.layout));`;
  const rates = await Promise.all(
    Array.from({ length: threads }, () =>
      new Promise<number>((resolve, reject) => {
        const worker = new Worker(source, { eval: true, workerData: { bytes, ms, layout } });
        worker.once('message', (rate: number) => {
          resolve(rate);
          void worker.terminate();
        });
        worker.once('error', reject);
      }),
    ),
  );
  return { oneThread, allThreads: rates.reduce((s, r) => s + r, 0), threads };
}
