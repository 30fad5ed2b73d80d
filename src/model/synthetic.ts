/**
 * Random GrassmannGPT weights in the reference state-dict layout, for the benchmark and for tests
 * on shapes other than the fixture's. Seeded, so a run is repeatable.
 */
import type { TensorToWrite } from '../checkpoint/safetensorsWriter';

export interface GrassmannDims {
  vocabSize: number;
  modelDim: number;
  layers: number;
  reducedDim: number;
  ffDim: number;
  maxPositions: number;
}

/** The paper-size model the benchmark measures (d=256, 6 layers, r=32, ff=1024, BERT vocabulary). */
export const PAPER_DIMS: GrassmannDims = { vocabSize: 30522, modelDim: 256, layers: 6, reducedDim: 32, ffDim: 1024, maxPositions: 256 };

/** mulberry32: a small, fast, seedable PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` seeded uniform values in [-1, 1): deterministic inputs for tests and benchmarks. */
export function uniformValues(n: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 2 * rand() - 1;
  return out;
}

function normal(rand: () => number, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // Box-Muller: two independent normals per pair of uniforms.
    const u = 1 - rand();
    const v = rand();
    const m = std * Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * State-dict tensors of a randomly initialised GrassmannGPT (std 0.02 weights, zero biases,
 * unit LayerNorm gains perturbed slightly so a wrong LayerNorm would show). No lm_head: it is tied.
 */
export function randomGrassmannWeights(dims: GrassmannDims, seed = 1): TensorToWrite[] {
  const rand = seededRandom(seed);
  const { vocabSize: V, modelDim: d, layers: L, reducedDim: r, ffDim: f, maxPositions: T } = dims;
  const pairs = (r * (r - 1)) / 2;
  const out: TensorToWrite[] = [];
  const add = (name: string, shape: number[], data: Float32Array) => out.push({ name, dtype: 'F32', shape, data });
  const weight = (name: string, shape: number[], std = 0.02) => add(name, shape, normal(rand, shape.reduce((a, b) => a * b, 1), std));
  const bias = (name: string, n: number) => add(name, [n], normal(rand, n, 0.01));
  const gain = (name: string, n: number) => add(name, [n], normal(rand, n, 0.05).map((x) => 1 + x));
  weight('token_embedding.weight', [V, d]);
  weight('position_embedding.weight', [T, d]);
  for (let l = 0; l < L; l++) {
    const p = `blocks.${l}`;
    gain(`${p}.ln1.weight`, d); bias(`${p}.ln1.bias`, d);
    weight(`${p}.grassmann.W_red.weight`, [r, d], 0.2); bias(`${p}.grassmann.W_red.bias`, r);
    weight(`${p}.grassmann.W_plu.weight`, [d, pairs], 0.1); bias(`${p}.grassmann.W_plu.bias`, d);
    weight(`${p}.grassmann.W_gate.weight`, [d, 2 * d], 0.05); bias(`${p}.grassmann.W_gate.bias`, d);
    gain(`${p}.grassmann.layer_norm.weight`, d); bias(`${p}.grassmann.layer_norm.bias`, d);
    gain(`${p}.ln2.weight`, d); bias(`${p}.ln2.bias`, d);
    weight(`${p}.ffn.0.weight`, [f, d]); bias(`${p}.ffn.0.bias`, f);
    weight(`${p}.ffn.3.weight`, [d, f]); bias(`${p}.ffn.3.bias`, d);
  }
  gain('ln_f.weight', d); bias('ln_f.bias', d);
  return out;
}
