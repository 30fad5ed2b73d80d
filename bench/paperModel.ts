/**
 * The benchmark's paper-size GrassmannGPT (d=256, 6 layers, r=32, ff=1024, V=30522, Tmax=256) with
 * random weights, written once under bench/.data as .safetensors and as a torch.save-style .pt
 * (with an explicit tied lm_head), plus the config.json that gives its window list.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../src/checkpoint/safetensorsWriter';
import { writeTorchCheckpoint } from '../src/checkpoint/torchWriter';
import { PAPER_DIMS, randomGrassmannWeights } from '../src/model/synthetic';

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
