/**
 * The parity comparison shared by the parity tests (test/unit/parity.test.ts,
 * test/unit/implementations.test.ts) and `npm run gpu-check`: every tensor of a PyTorch reference
 * file against what the runtime produced, and the suite that gpu-check runs on each backend —
 * every case of test/fixtures/tiny-grassmann and of each implementation fixture
 * (test/fixtures/implementations: grasslm-tiny, lifting-postnorm).
 *
 * The bound: 1e-4 absolute for logits and every tap, 1e-4 relative to its largest magnitude for
 * grad.embeddings (float32 against float32 PyTorch), measured on cpu and wasm. On a GPU backend
 * gpu-check reports the same errors against the same bound; no looser GPU bound is stated
 * until one has been measured on a GPU.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../src/checkpoint/open';
import { openSafetensors } from '../src/checkpoint/safetensors';
import { readFloat32 } from '../src/checkpoint/tensorData';
import type { BlockOpsKind } from '../src/model/blockOps';
import { GrassmannModel } from '../src/model/grassmann';
import { describeModel } from '../src/model/spec';

export const PARITY_ABS_TOL = 1e-4;
export const PARITY_GRAD_REL_TOL = 1e-4;

/** Tap kind for the error report: layers.3.plucker.12 -> layers.plucker */
export const tapKind = (name: string): string => name.replace(/\.\d+(?=\.|$)/g, '');

export interface TapValues {
  shape: readonly number[];
  data: ArrayLike<number>;
}

/** One reference tensor compared: its max abs error, or why it could not be compared. */
export interface TapComparison {
  name: string;
  /** max_i |ours_i - reference_i| (NaN when missing or of another shape). */
  error: number;
  problem?: 'missing' | 'shape';
  shape: number[];
  expectedShape: number[];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return m;
}

/**
 * Every tensor of `referenceFile` whose name `include` accepts, against `ours(name)`; records the
 * largest error per tap kind in `worst`.
 */
export async function compareWithReference(
  referenceFile: string,
  ours: (name: string) => TapValues | undefined,
  worst: Map<string, number>,
  include: (name: string) => boolean = () => true,
): Promise<TapComparison[]> {
  const reference = await openSafetensors(referenceFile);
  try {
    const out: TapComparison[] = [];
    for (const [name, info] of reference.tensors) {
      if (!include(name)) continue;
      const expectedShape = [...info.shape];
      const tap = ours(name);
      if (!tap) {
        out.push({ name, error: Number.NaN, problem: 'missing', shape: [], expectedShape });
        continue;
      }
      if (tap.shape.length !== expectedShape.length || tap.shape.some((d, i) => d !== expectedShape[i])) {
        out.push({ name, error: Number.NaN, problem: 'shape', shape: [...tap.shape], expectedShape });
        continue;
      }
      const error = maxAbsDiff(tap.data, await readFloat32(info));
      worst.set(tapKind(name), Math.max(worst.get(tapKind(name)) ?? 0, error));
      out.push({ name, error, shape: [...tap.shape], expectedShape });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } finally {
    await reference.close();
  }
}

/** A fixture of the suite: a checkpoint and the reference cases of its manifest. */
export interface ParityFixture {
  label: string;
  checkpoint: string;
  manifest: string;
  /** The fixture's manifest has grad.embeddings with grad_position / grad_target_id (tiny-grassmann). */
  gradient: boolean;
}

export function parityFixtures(root: string): ParityFixture[] {
  const tiny = join(root, 'test/fixtures/tiny-grassmann');
  const impl = join(root, 'test/fixtures/implementations');
  return [
    { label: 'tiny-grassmann', checkpoint: join(tiny, 'model.safetensors'), manifest: join(tiny, 'reference/manifest.json'), gradient: true },
    { label: 'grasslm-tiny', checkpoint: join(impl, 'grasslm-tiny/checkpoints/best_model.pt'), manifest: join(impl, 'grasslm-tiny/reference/manifest.json'), gradient: false },
    { label: 'lifting-postnorm', checkpoint: join(impl, 'lifting-postnorm/checkpoints/model.pt'), manifest: join(impl, 'lifting-postnorm/reference/manifest.json'), gradient: false },
  ];
}

export interface ParityResult {
  label: string;
  cases: number;
  taps: number;
  /** Largest abs error over every tap and case. */
  maxError: number;
  /** The tap kind where it is. */
  worstTap: string;
  /** grad.embeddings: max abs error / max |reference| (tiny-grassmann only). */
  gradRelError?: number;
  worst: Map<string, number>;
  /** Taps missing or of another shape (must be none). */
  problems: string[];
}

/** Runs every case of `fixture` on the active backend and compares it with its references. */
export async function runParity(fixture: ParityFixture, ops: 'auto' | BlockOpsKind = 'auto'): Promise<ParityResult> {
  const manifest = JSON.parse(readFileSync(fixture.manifest, 'utf8')) as { cases: { file: string; input_ids: number[]; grad_position?: number; grad_target_id?: number }[] };
  const folder = join(fixture.manifest, '..', '..');
  const checkpoint = await openCheckpoint(fixture.checkpoint);
  const worst = new Map<string, number>();
  const problems: string[] = [];
  let taps = 0;
  let gradRelError: number | undefined;
  try {
    const described = await describeModel(checkpoint);
    if (!described.recognized) throw new Error(`${fixture.checkpoint}: not recognised: ${described.problems.join('; ')}`);
    const model = await GrassmannModel.load(checkpoint, described.spec);
    try {
      for (const c of manifest.cases) {
        const result = await model.forward(c.input_ids, { taps: true, ops });
        const compared = await compareWithReference(join(folder, c.file), (name) => result.taps.get(name), worst, (name) => !name.startsWith('distances.') && !name.startsWith('grad.'));
        taps += compared.length;
        for (const t of compared) if (t.problem) problems.push(`${c.file} ${t.name}: ${t.problem}`);
        if (fixture.gradient && c.grad_position !== undefined && c.grad_target_id !== undefined) {
          const gradient = await model.gradient(c.input_ids, c.grad_position, c.grad_target_id);
          const reference = await openSafetensors(join(folder, c.file));
          try {
            const info = reference.tensors.get('grad.embeddings');
            if (info) {
              const expected = await readFloat32(info);
              let scale = 0;
              for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
              const rel = maxAbsDiff(gradient.data, expected) / scale;
              gradRelError = Math.max(gradRelError ?? 0, rel);
            }
          } finally {
            await reference.close();
          }
        }
      }
    } finally {
      model.dispose();
    }
  } finally {
    await checkpoint.close();
  }
  let maxError = 0;
  let worstTap = '';
  for (const [kind, e] of worst) if (e > maxError || worstTap === '') [maxError, worstTap] = [e, kind];
  return { label: fixture.label, cases: manifest.cases.length, taps, maxError, worstTap, gradRelError, worst, problems };
}
