/**
 * What the backend choice looks like to callers — names, the report, its text — without loading
 * TensorFlow.js, so the extension host can import it (backend.ts does the choosing, in the worker).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;
/** The ladder, fastest first. */
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];
/** The rungs that are only worth taking on a GPU: a probe must prove one (else they are skipped). */
export const GPU_BACKENDS: readonly BackendName[] = ['tensorflow-gpu', 'webgpu'];

/** How a rung is named in one-line summaries. */
export const BACKEND_LABELS: Record<BackendName, string> = {
  'tensorflow-gpu': 'tensorflow-gpu',
  webgpu: 'WebGPU',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** One timed step of a backend's probe (loading the package, finding the adapter, the probe product…). */
export interface ProbeStep {
  step: string;
  ms: number;
}

/** The probe product: C = A B for n × n matrices on the backend, checked against float64. */
export interface ProbeProduct {
  n: number;
  /** The first run (kernel compilation, uploads included). */
  firstMs: number;
  /** The median of the warm runs, each read back to the host. */
  ms: number;
  /** 2n³ / ms. */
  gflops: number;
  /** max |C - C64| over the elements. */
  maxError: number;
}

export interface BackendAttempt {
  name: BackendName;
  available: boolean;
  /** Why it was (not) used, in words a user can act on. */
  detail: string;
  /**
   * Short outcome of an unavailable rung, as in "WebGPU skipped: no adapter": 'not installed',
   * 'failed to load', 'failed to initialise', 'no adapter', 'software adapter', 'no GPU device',
   * 'probe failed'. Absent when the rung is used.
   */
  skip?: string;
  /** What it computes on, when known: "GPU: nvidia ampere (WebGPU)" only when a probe proved it, else "CPU …". */
  device?: string;
  /** True only when a probe proved that the rung computes on a GPU. */
  gpu?: boolean;
  /** The probe's steps and their times, in order (also for rungs that failed part-way). */
  probe?: ProbeStep[];
  product?: ProbeProduct;
}

export interface BackendReport {
  active: BackendName;
  /** One line: why the active backend was chosen. */
  reason: string;
  attempts: BackendAttempt[];
  /** Compute threads the backend uses. */
  threads: number;
  /** True only when the active backend's GPU was proved by its probe. */
  gpu?: boolean;
  /** What the active backend computes on ("GPU: …" only when proved). */
  device?: string;
}

/** Where `grassmann-lens install-gpu` installs the native packages unless told otherwise. */
export function defaultNativeModulesDir(): string {
  return process.env.GRASSMANN_LENS_NATIVE_DIR || join(homedir(), '.grassmann-lens', 'native');
}

const ms = (v: number): string => `${v.toFixed(v < 10 ? 2 : 1)} ms`;

/** "WebGPU skipped: no adapter — <detail>" */
export function skippedText(a: BackendAttempt): string {
  return `${BACKEND_LABELS[a.name]} skipped: ${a.skip ?? 'unavailable'} — ${a.detail}`;
}

/**
 * One line: the active backend, what it runs on, and every GPU rung that was skipped with its
 * reason, e.g. "wasm, CPU (WebGPU skipped: no adapter — …)". A backend is called GPU here only when
 * its probe proved it.
 */
export function backendSummary(r: BackendReport): string {
  const device = r.device ?? (r.gpu ? 'GPU' : 'CPU');
  const skipped = r.attempts.filter((a) => !a.available && GPU_BACKENDS.includes(a.name));
  return `${r.active}, ${device}${skipped.length ? ` (${skipped.map(skippedText).join('; ')})` : ''}`;
}

/** The probe of one rung in one line: "probe: load webgpu 3.1 ms, requestAdapter 2.0 ms; product 128² 0.4 ms (10.5 GFLOP/s, max error 2.1e-6)". */
export function probeText(a: BackendAttempt): string | undefined {
  const parts: string[] = [];
  if (a.probe?.length) parts.push(a.probe.map((s) => `${s.step} ${ms(s.ms)}`).join(', '));
  const p = a.product;
  if (p) parts.push(`product ${p.n}x${p.n}: first ${ms(p.firstMs)}, warm ${ms(p.ms)} (${p.gflops.toFixed(2)} GFLOP/s), max error ${p.maxError.toExponential(1)}`);
  return parts.length ? `probe: ${parts.join('; ')}` : undefined;
}

/** The full report, a line per backend tried, for an Output channel or `--verbose`. */
export function describeBackend(r: BackendReport): string {
  const lines = [
    `Compute backend: ${r.active} (${r.threads} thread${r.threads === 1 ? '' : 's'})`,
    `Runs on: ${backendSummary(r)}`,
    `Why: ${r.reason}`,
    'Tried, fastest first:',
  ];
  for (const a of r.attempts) {
    lines.push(`  ${a.available ? '✓' : '✗'} ${a.name}: ${a.available ? '' : `${a.skip ?? 'unavailable'} — `}${a.detail}${a.device && a.available ? ` [${a.device}]` : ''}`);
    const probe = probeText(a);
    if (probe) lines.push(`      ${probe}`);
  }
  return lines.join('\n');
}
