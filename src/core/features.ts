/**
 * `features` and `distances`: text through the model, then the geometry of its token planes
 * (src/geometry): per-token Plücker features, offset contributions, gate openness and blend
 * balance; and distance matrices between the planes of one (layer, offset).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GRASSMANN_METRICS, isGrassmannMetric, METRIC_FORMULAS, type GrassmannMetric } from '../geometry/angles';
import { blendBalance, offsetContributions, pluckerResidual, rowMeans } from '../geometry/features';
import { planeDistanceMatrix, tokenPlanes } from '../geometry/planes';
import { DEGENERATE_SINE, pairCount, planesAtOffset } from '../model/plucker';
import type { MixOutput } from '../model/architecture';
import type { BackendReport } from '../model/backend';
import type { GrassmannModel, TapValue } from '../model/grassmann';
import { planeLayoutOf, planOffsets } from '../model/offsets';
import { uniformLayerShapes } from '../model/spec';
import { InputError, UsageError } from '../util/errors';
import { readInput, tokensForModel, type TextInput } from './input';
import { pauseFor, type Cancellation } from './cancellation';
import { freshSession, type ModelSession, type SessionProvider } from './session';

export interface GeometryParams extends TextInput {
  config?: string;
  /** An architecture description file (--arch); otherwise one found beside the checkpoint, or the built-ins. */
  arch?: string;
  tokenizer?: string;
  backend?: BackendReport;
}

export interface FeaturesParams extends GeometryParams {
  /** Only this layer (default: all). */
  layer?: number;
  /** Only this window offset (default: all offsets valid for the text). */
  window?: number;
}

export interface OffsetFeatures {
  offset: number;
  /** Position t of each plane span(z_t, z_{t-d}) (or z_{t+d}); the arrays below are in this order. */
  positions: number[];
  /** Plane area ||p|| = |z_t| |z_s| sin(angle between them). */
  area: number[];
  /** True where the two states are (nearly) parallel: sin(angle) < degenerateSine; no distances from these. */
  degenerate: boolean[];
  /** Plücker-relation residual of p_hat (max over i<j<k<l): ~1e-7 is float32 rounding. Empty when not asked for. */
  residual: number[];
  /** ||W_plu p_hat + b_plu||: the size of this offset's term of g. */
  contributionNorm: number[];
  /** This offset's share of g_t (projection of its weighted term on g_t; the shares at t add up to 1); null where g_t = 0. */
  share: (number | null)[];
  /** p_hat [positions, P] (row-major pairs), only when one layer and one window are asked for. */
  coordinates?: number[][];
}

export interface LayerFeatures {
  layer: number;
  /** This block's reduced dimension r_l (planes live in Gr(2, r_l); P_l = r_l(r_l-1)/2 coordinates). */
  reducedDim: number;
  /** This block's window list (its `offsets` below are the ones valid for the text). */
  windowSizes: number[];
  /** Gate openness per token: mean of alpha over the model dimensions. */
  alphaMean: number[];
  /** alpha per token and dimension [T][d], only when one layer is asked for. */
  alpha?: number[][];
  blend: {
    gating: MixOutput;
    /** Share of the gate's output that came from h (the rest from g), per token. */
    hShare: (number | null)[];
    hNorm: number[];
    gNorm: number[];
  };
  offsets: OffsetFeatures[];
}

export interface TokenInfo {
  text: string;
  id: number;
  start: number;
  end: number;
}

export interface FeaturesReport {
  checkpoint: string;
  tokenizer: string;
  backend: string;
  tokens: TokenInfo[];
  /** The model's window list; a block's own is in its LayerFeatures.windowSizes (a pruned model's differ). */
  windowSizes: number[];
  windowSource: 'config' | 'assumed';
  degenerateSine: number;
  layers: LayerFeatures[];
  truncated: { total: number; kept: number } | null;
  warnings: string[];
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function checkLayer(session: ModelSession, layer: number): void {
  const L = session.spec.dims.layers;
  if (!Number.isInteger(layer) || layer < 0 || layer >= L) {
    throw new InputError(session.checkpoint.path, `layer ${layer} does not exist: the model has ${L} layers (0..${L - 1})`);
  }
}

/**
 * The distinct offsets valid for T tokens in block `layer` (without a layer: in any block), or just
 * `window` after checking it is one of them.
 */
export function offsetsFor(session: ModelSession, T: number, window?: number, layer?: number): number[] {
  const spec = session.spec;
  const lists = layer === undefined ? spec.layerShapes.map((s) => s.windowSizes) : [spec.layerShapes[layer].windowSizes];
  const windows = [...new Set(lists.flat())].sort((a, b) => a - b);
  const { offsets } = planOffsets(windows, T, spec.variant.pairing);
  if (window === undefined) return offsets;
  if (!windows.includes(window)) {
    const source = spec.windowSource === 'config' ? 'from config' : 'assumed: the paper default';
    const list = layer === undefined || uniformLayerShapes(spec.layerShapes)
      ? `the model's window list [${spec.windowSizes.join(', ')}]`
      : `layer ${layer}'s window list [${spec.layerShapes[layer].windowSizes.join(', ')}]`;
    throw new InputError(spec.configPath ?? session.checkpoint.path, `window ${window} is not in ${list} (${source})`);
  }
  if (!offsets.includes(window)) {
    throw new InputError(session.checkpoint.path, `window ${window} has no planes in a text of ${T} tokens (it needs at least ${window + 1})`);
  }
  return [window];
}

const tokenInfo = (tokens: { text: string; id: number; start: number; end: number }[]): TokenInfo[] =>
  tokens.map(({ text, id, start, end }) => ({ text, id, start, end }));

export async function featuresOfText(checkpointPath: string, params: FeaturesParams, control?: Cancellation, sessions: SessionProvider = freshSession): Promise<FeaturesReport> {
  return sessions(checkpointPath, { config: params.config, arch: params.arch, tokenizer: params.tokenizer }, async (session) => featuresInSession(session, await readInput(params), params, control));
}

/** With a cancellation, stops between blocks of the forward pass and between layers of the features. */
export async function featuresInSession(session: ModelSession, text: string, params: FeaturesParams, control?: Cancellation): Promise<FeaturesReport> {
  const spec = session.spec;
  const L = spec.dims.layers;
  if (params.layer !== undefined) checkLayer(session, params.layer);
  const { tokens, ids, truncated, warnings } = tokensForModel(session, text);
  const T = ids.length;
  const offsets = offsetsFor(session, T, params.window, params.layer);
  const layers = params.layer === undefined ? Array.from({ length: L }, (_, l) => l) : [params.layer];
  const model = await session.loadModel();
  const taps = layers.flatMap((l) => ['z', 'mix_in', 'g', 'alpha'].map((n) => `layers.${l}.${n}`));
  const pause = pauseFor(control);
  const { taps: values } = await model.forward(ids, { taps, pause });
  const detailed = params.layer !== undefined && params.window !== undefined;

  const out: LayerFeatures[] = [];
  for (const l of layers) {
    await pause?.();
    out.push(await layerFeatures(model, values, T, l, offsets, { alphaPerDimension: params.layer !== undefined, coordinates: detailed, residuals: true }));
  }
  return {
    checkpoint: session.checkpoint.path,
    tokenizer: session.tokenizer.path,
    backend: params.backend?.active ?? tf.getBackend(),
    tokens: tokenInfo(tokens),
    windowSizes: spec.windowSizes,
    windowSource: spec.windowSource,
    degenerateSine: DEGENERATE_SINE,
    layers: out,
    truncated,
    warnings: [...session.notices, ...model.warnings, ...warnings],
  };
}

export interface LayerFeatureOptions {
  /** alpha per token and dimension. */
  alphaPerDimension: boolean;
  /** p_hat per plane. */
  coordinates: boolean;
  /** Plücker-relation residuals (C(r, 4) terms per plane: most of the cost at r = 32). */
  residuals: boolean;
}

/**
 * The features of one layer from a forward pass's taps (layers.l.z, .mix_in, .g, .alpha of a
 * sequence of T tokens), for those of the given offsets that are in this block's window list
 * (each block has its own r and window list: spec.layerShapes[l]).
 */
export async function layerFeatures(model: GrassmannModel, values: Map<string, TapValue>, T: number, l: number, offsets: readonly number[], options: LayerFeatureOptions): Promise<LayerFeatures> {
  const spec = model.spec;
  const d = spec.dims.modelDim;
  const { reducedDim: r, windowSizes } = spec.layerShapes[l];
  const plan = planOffsets(windowSizes, T, spec.variant.pairing);
  const tap = (name: string) => {
    const v = values.get(`layers.${l}.${name}`);
    if (!v) throw new Error(`layer features need the tap layers.${l}.${name}`);
    return v.data;
  };
  const [z, h, g, alpha] = [tap('z'), tap('mix_in'), tap('g'), tap('alpha')];
  const layout = planeLayoutOf(spec, l);
  // W_plu p_hat + b_plu for every plane of every offset (all of them: the shares need the whole of g)
  const allPlanes = plan.offsets.map((offset) => planesAtOffset(z, T, offset, layout));
  const projected = await Promise.all(allPlanes.map((p) => model.pluckerProjection(l, p.coordinates, p.count)));
  const contributions = offsetContributions(plan.offsets, allPlanes.map((p) => Array.from({ length: p.count }, (_, i) => p.first + i)), projected, plan.weights, T, d);
  const balance = blendBalance(h, g, alpha, d, spec.variant.mixOutput);
  const P = pairCount(r);
  return {
    layer: l,
    reducedDim: r,
    windowSizes: [...windowSizes],
    alphaMean: Array.from(rowMeans(alpha, d)),
    ...(options.alphaPerDimension ? { alpha: Array.from({ length: T }, (_, t) => Array.from(alpha.subarray(t * d, (t + 1) * d))) } : {}),
    blend: { gating: spec.variant.mixOutput, hShare: Array.from(balance.hShare, finiteOrNull), hNorm: Array.from(balance.hNorm), gNorm: Array.from(balance.gNorm) },
    offsets: offsets.filter((offset) => plan.offsets.includes(offset)).map((offset) => {
      const k = plan.offsets.indexOf(offset);
      const p = allPlanes[k];
      const contribution = contributions[k];
      const positions = Array.from({ length: p.count }, (_, i) => p.first + i);
      return {
        offset,
        positions,
        area: Array.from(p.norms),
        degenerate: p.degenerate,
        residual: options.residuals ? positions.map((_, i) => pluckerResidual(p.coordinates, i * P, r)) : [],
        contributionNorm: Array.from(contribution.norm),
        share: Array.from(contribution.share, finiteOrNull),
        ...(options.coordinates ? { coordinates: positions.map((_, i) => Array.from(p.coordinates.subarray(i * P, (i + 1) * P))) } : {}),
      };
    }),
  };
}

const fixed = (v: number | null, digits: number): string => (v === null ? '—' : v.toFixed(digits));

export function formatFeaturesReport(r: FeaturesReport): string {
  const lines = [`${r.checkpoint} (tokenizer ${r.tokenizer}, backend ${r.backend}); windows [${r.windowSizes.join(', ')}]${r.windowSource === 'assumed' ? ' (assumed)' : ''}`];
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  lines.push('area: plane area ||p|| (* degenerate: sin < ' + r.degenerateSine + '); share: the offset\'s share of g; h: share of the gate output from h');
  const perBlock = r.layers.some((l) => l.windowSizes.join(',') !== r.windowSizes.join(',') || l.reducedDim !== r.layers[0].reducedDim);
  for (const layer of r.layers) {
    lines.push('', `layer ${layer.layer}${perBlock ? ` (r ${layer.reducedDim}, windows ${layer.windowSizes.length ? `[${layer.windowSizes.join(', ')}]` : 'none: g = 0'})` : ''}`);
    const header = ['  t', 'token'.padEnd(14), 'alpha', '   h', ...layer.offsets.map((o) => `d=${o.offset} area/share`.padEnd(18))];
    lines.push(header.join('  '));
    r.tokens.forEach((tok, t) => {
      const cells = [String(t).padStart(3), tok.text.slice(0, 14).padEnd(14), layer.alphaMean[t].toFixed(3), fixed(layer.blend.hShare[t], 2).padStart(4)];
      for (const o of layer.offsets) {
        const i = o.positions.indexOf(t);
        cells.push((i < 0 ? '' : `${o.area[i].toExponential(2)}${o.degenerate[i] ? '*' : ' '} ${fixed(o.share[i], 2)}`).padEnd(18));
      }
      lines.push(cells.join('  '));
    });
    const residual = Math.max(0, ...layer.offsets.flatMap((o) => o.residual));
    lines.push(`  max Plücker-relation residual ${residual.toExponential(2)}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// distances
// ---------------------------------------------------------------------------------------------

export interface DistancesParams extends GeometryParams {
  layer: number;
  window: number;
  metric?: string;
}

export interface DistancesReport {
  checkpoint: string;
  tokenizer: string;
  backend: string;
  layer: number;
  window: number;
  metric: GrassmannMetric;
  formula: string;
  tokens: TokenInfo[];
  /** Position t of the plane of each row (and column) of the matrix. */
  positions: number[];
  /** Distances [N][N]; null in the rows and columns of degenerate planes. */
  matrix: (number | null)[][];
  /** Principal angles [N][N][2] (ascending), radians; null for degenerate planes. */
  angles: ([number, number] | null)[][];
  degenerate: number[];
  truncated: { total: number; kept: number } | null;
  warnings: string[];
}

export function parseMetric(name: string | undefined): GrassmannMetric {
  const metric = name ?? 'geodesic';
  if (!isGrassmannMetric(metric)) throw new UsageError(`--metric must be one of ${GRASSMANN_METRICS.join(', ')}; got '${metric}'`);
  return metric;
}

export async function distancesOfText(checkpointPath: string, params: DistancesParams, control?: Cancellation, sessions: SessionProvider = freshSession): Promise<DistancesReport> {
  const metric = parseMetric(params.metric);
  const pause = pauseFor(control);
  return sessions(checkpointPath, { config: params.config, arch: params.arch, tokenizer: params.tokenizer }, async (session) => {
    const spec = session.spec;
    checkLayer(session, params.layer);
    const { tokens, ids, truncated, warnings } = tokensForModel(session, await readInput(params));
    const [offset] = offsetsFor(session, ids.length, params.window, params.layer);
    const model = await session.loadModel();
    const z = (await model.forward(ids, { taps: [`layers.${params.layer}.z`], pause })).taps.get(`layers.${params.layer}.z`)!;
    await pause?.();
    const planes = tokenPlanes(z.data, ids.length, spec.layerShapes[params.layer].reducedDim, offset, spec.variant.pairing);
    const result = planeDistanceMatrix(planes, metric);
    const N = result.positions.length;
    return {
      checkpoint: session.checkpoint.path,
      tokenizer: session.tokenizer.path,
      backend: params.backend?.active ?? tf.getBackend(),
      layer: params.layer,
      window: offset,
      metric,
      formula: METRIC_FORMULAS[metric],
      tokens: tokenInfo(tokens),
      positions: result.positions,
      matrix: Array.from({ length: N }, (_, i) => Array.from(result.matrix.subarray(i * N, (i + 1) * N), finiteOrNull)),
      angles: Array.from({ length: N }, (_, i) =>
        Array.from({ length: N }, (_, j) => {
          const a = result.angles[(i * N + j) * 2];
          return Number.isFinite(a) ? ([a, result.angles[(i * N + j) * 2 + 1]] as [number, number]) : null;
        }),
      ),
      degenerate: result.degenerate,
      truncated,
      warnings: [...session.notices, ...model.warnings, ...warnings],
    };
  });
}

export function formatDistancesReport(r: DistancesReport, nearest = 3): string {
  const lines = [`${r.checkpoint}: layer ${r.layer}, window ${r.window}, ${r.positions.length} planes, ${r.metric} distance = ${r.formula}`];
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  if (r.degenerate.length) lines.push(`degenerate planes (no distances): t = ${r.degenerate.join(', ')}`);
  lines.push(`plane (t, token)      nearest ${nearest} planes: token@t distance`);
  r.positions.forEach((t, i) => {
    const row = r.matrix[i]
      .map((v, j) => ({ j, v }))
      .filter(({ j, v }) => j !== i && v !== null)
      .sort((a, b) => (a.v as number) - (b.v as number))
      .slice(0, nearest)
      .map(({ j, v }) => `${r.tokens[r.positions[j]].text}@${r.positions[j]} ${(v as number).toFixed(4)}`);
    lines.push(`${String(t).padStart(4)} ${r.tokens[t].text.slice(0, 16).padEnd(16)}  ${row.join(', ')}`);
  });
  return lines.join('\n');
}
