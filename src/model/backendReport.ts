/**
 * What the backend choice looks like to callers — names, the report, its text — without loading
 * TensorFlow.js, so the extension host can import it (backend.ts does the choosing, in the worker).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendAttempt {
  name: BackendName;
  available: boolean;
  /** Why it was (not) used, in words a user can act on. */
  detail: string;
}

export interface BackendReport {
  active: BackendName;
  /** One line: why the active backend was chosen. */
  reason: string;
  attempts: BackendAttempt[];
  /** Compute threads the backend uses. */
  threads: number;
}

/** Where `grassmann-lens install-gpu` installs the native packages unless told otherwise. */
export function defaultNativeModulesDir(): string {
  return process.env.GRASSMANN_LENS_NATIVE_DIR || join(homedir(), '.grassmann-lens', 'native');
}

/** The full report, a line per backend tried, for an Output channel or `--verbose`. */
export function describeBackend(r: BackendReport): string {
  const lines = [`Compute backend: ${r.active} (${r.threads} thread${r.threads === 1 ? '' : 's'})`, `Why: ${r.reason}`, 'Tried, fastest first:'];
  for (const a of r.attempts) lines.push(`  ${a.available ? '✓' : '✗'} ${a.name}: ${a.detail}`);
  return lines.join('\n');
}
