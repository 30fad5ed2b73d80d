/**
 * The benchmark's paper-size GrassmannGPT (d=256, 6 layers, r=32, ff=1024, V=30522, Tmax=256) with
 * random weights, written once under bench/.data as .safetensors and as a torch.save-style .pt
 * (with an explicit tied lm_head), plus the config.json that gives its window list.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../src/checkpoint/safetensorsWriter';
import { writeTorchCheckpoint } from '../src/checkpoint/torchWriter';
import { PAPER_DIMS, randomGrassmannWeights, seededRandom } from '../src/model/synthetic';

export const PAPER_WINDOWS = [1, 2, 4, 8, 12, 16];

export async function paperModelFiles(dataDir: string): Promise<{ safetensors: string; pt: string }> {
  mkdirSync(dataDir, { recursive: true });
  const safetensors = join(dataDir, 'paper.safetensors');
  const pt = join(dataDir, 'paper.pt');
  if (!existsSync(safetensors) || !existsSync(pt)) {
    const weights = randomGrassmannWeights(PAPER_DIMS, 7);
    await writeSafetensors(safetensors, weights, { format: 'pt' });
    const tied = weights.find((w) => w.name === 'token_embedding.weight')!;
    await writeTorchCheckpoint(pt, [...weights, { ...tied, name: 'lm_head.weight' }], { epoch: 1 });
  }
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ architecture: 'GrassmannGPT', window_sizes: PAPER_WINDOWS }));
  return { safetensors, pt };
}

/**
 * `count` checkpoints of one pretend run of the paper-size model: the random weights plus noise
 * that grows with the step (relative size 1e-3 * step), as safetensors with `epoch` metadata.
 */
export async function paperRunFiles(dataDir: string, count: number): Promise<string[]> {
  const dir = join(dataDir, 'run');
  mkdirSync(dir, { recursive: true });
  const files = Array.from({ length: count }, (_, i) => join(dir, `epoch-${i + 1}.safetensors`));
  if (files.every((f) => existsSync(f))) return files;
  const weights = randomGrassmannWeights(PAPER_DIMS, 7);
  for (let i = 0; i < count; i++) {
    const noise = seededRandom(100 + i);
    const step = weights.map((w) => ({ ...w, data: (w.data as Float32Array).map((v) => v * (1 + 1e-3 * (i + 1) * (noise() - 0.5))) }));
    await writeSafetensors(files[i], step, { format: 'pt', epoch: String(i + 1) });
  }
  return files;
}
