/** `relevance`: LRP of a text through a model (../relevance/lrp.ts), with its tokens. */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendReport } from '../model/backend';
import { relevanceOfAsync } from '../relevance/lrp';
import { DEFAULT_RELEVANCE_OPTIONS, type RelevanceOptions, type RelevanceResult } from '../relevance/types';
import { InputError } from '../util/errors';
import { degeneratePlanesWarning } from './degeneratePlanes';
import type { TapValue } from '../model/grassmann';
import { readInput, tokensForModel } from './input';
import { pauseFor, type Cancellation } from './cancellation';
import { freshSession, type SessionProvider } from './session';
import type { ModelSession } from './session';

export interface RelevanceParams extends Partial<RelevanceOptions> {
  text?: string;
  file?: string;
  /** Start at one logit: the token at `position`'s prediction of `tokenId` (default: the next token of the text there). */
  position?: number;
  tokenId?: number;
  config?: string;
  /** An architecture description file (--arch); otherwise one found beside the checkpoint, or the built-ins. */
  arch?: string;
  tokenizer?: string;
  backend?: BackendReport;
}

export interface RelevanceReport extends RelevanceResult {
  checkpoint: string;
  tokens_text: { id: number; text: string }[];
  truncated: { total: number; kept: number } | null;
  backend: string;
  seconds: number;
  warnings: string[];
}

/**
 * `relevance` of p's text or file. The model comes from `sessions` (default: opened and closed
 * here; the worker lends its cached one, so a second request reads no weights).
 */
export async function relevanceOfText(checkpointPath: string, p: RelevanceParams, control?: Cancellation, sessions: SessionProvider = freshSession): Promise<RelevanceReport> {
  const text = await readInput(p);
  return sessions(checkpointPath, { config: p.config, arch: p.arch, tokenizer: p.tokenizer }, (session) => relevanceInSession(session, text, p, control));
}

/**
 * `relevance` of `text` on an opened model (its tokenizer, its loaded model); `p`'s text and file
 * are not read. With a cancellation it stops between blocks (forward and backward).
 */
export async function relevanceInSession(session: ModelSession, text: string, p: RelevanceParams, control?: Cancellation): Promise<RelevanceReport> {
  const checkpointPath = session.checkpoint.path;
  const options: RelevanceOptions = {
    rule: p.rule ?? DEFAULT_RELEVANCE_OPTIONS.rule,
    epsilon: p.epsilon ?? DEFAULT_RELEVANCE_OPTIONS.epsilon,
    gamma: p.gamma ?? DEFAULT_RELEVANCE_OPTIONS.gamma,
    gate: p.gate ?? DEFAULT_RELEVANCE_OPTIONS.gate,
    start: p.start ?? DEFAULT_RELEVANCE_OPTIONS.start,
    composite: p.composite ?? DEFAULT_RELEVANCE_OPTIONS.composite,
    epsilonPlacement: p.epsilonPlacement ?? DEFAULT_RELEVANCE_OPTIONS.epsilonPlacement,
    ...(p.overrides ? { overrides: p.overrides } : {}),
  };
  const input = tokensForModel(session, text);
  const model = await session.loadModel();
  const T = input.ids.length;
  let target: { kind: 'next-token' } | { kind: 'token'; position: number; tokenId: number } = { kind: 'next-token' };
  if (p.position !== undefined || p.tokenId !== undefined) {
    const position = p.position ?? T - 2;
    if (!Number.isInteger(position) || position < 0 || position >= T) {
      throw new InputError(checkpointPath, `--position ${position} is outside the text's ${T} tokens (0..${T - 1})`);
    }
    const tokenId = p.tokenId ?? input.ids[position + 1];
    if (tokenId === undefined) throw new InputError(checkpointPath, `--position ${position} is the last token: give --token-id, there is no next token to explain`);
    target = { kind: 'token', position, tokenId };
  } else if (T < 2) {
    throw new InputError(checkpointPath, 'the text has one token: there is no next token to explain (give --position and --token-id)');
  }
  const started = Date.now();
  // The near-degenerate-plane count reads the z that LRP's recorded forward pass holds.
  const states = new Map<string, TapValue>();
  const result = await relevanceOfAsync(model, input.ids, target, options, {
    pause: pauseFor(control),
    onReducedStates: (z) => z.forEach((data, l) => states.set(`layers.${l}.z`, { shape: [T, session.spec.layerShapes[l].reducedDim], data })),
  });
  const degenerate = degeneratePlanesWarning(session.spec, states, T, `counted on every plane of the ${T} tokens`);

  return {
    checkpoint: checkpointPath,
    ...result,
    tokens_text: input.tokens.map((t) => ({ id: t.id, text: t.text })),
    truncated: input.truncated,
    backend: p.backend?.active ?? tf.getBackend(),
    seconds: (Date.now() - started) / 1000,
    warnings: [...input.warnings, ...session.notices, ...model.warnings, ...(degenerate ? [degenerate] : [])],
  };
}

const fmt = (v: number): string => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4));

/** Top entries of a score list, by |value|. */
function top(values: readonly number[], k: number, label: (i: number) => string): string {
  return values
    .map((v, i) => ({ v, i }))
    .sort((a, b) => Math.abs(b.v) - Math.abs(a.v))
    .slice(0, k)
    .map(({ v, i }) => `${label(i)} ${fmt(v)}`)
    .join(', ');
}

/**
 * The conservation account, signed: start = input + biases + eps + remainder, then per stage
 * entering = leaving + biases + eps + remainder, and each bias that absorbed relevance.
 */
export function formatAccounting(r: Pick<RelevanceResult, 'accounting' | 'conservation'>): string[] {
  const a = r.accounting;
  const lines: string[] = [];
  const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
  lines.push(`  relevance    start ${fmt(a.start)} = input ${fmt(a.input)} + biases ${fmt(a.bias)} + eps ${fmt(a.epsilon)} + rounding ${fmt(a.remainder)}`);
  if (a.shares) lines.push(`               of the start: input ${pct(a.shares.input)}, biases ${pct(a.shares.bias)}, eps ${pct(a.shares.epsilon)}`);
  else if (a.note) lines.push(`               ${a.note}`);
  lines.push(`  conservation ${'stage'.padEnd(11)} ${'entering'.padStart(11)} ${'leaving'.padStart(11)} ${'biases'.padStart(11)} ${'eps'.padStart(11)} ${'rounding'.padStart(11)}`);
  for (const s of r.conservation) lines.push(`               ${s.stage.padEnd(11)} ${fmt(s.upper).padStart(11)} ${fmt(s.lower).padStart(11)} ${fmt(s.bias).padStart(11)} ${fmt(s.epsilon).padStart(11)} ${fmt(s.remainder).padStart(11)}`);
  const biases = [...a.biases].filter((b) => b.relevance !== 0).sort((x, y) => Math.abs(y.relevance) - Math.abs(x.relevance));
  if (biases.length > 0) lines.push(`  biases       ${biases.slice(0, 8).map((b) => `${b.name} ${fmt(b.relevance)}`).join(', ')}${biases.length > 8 ? `, and ${biases.length - 8} more (--json)` : ''}`);
  return lines;
}

export function formatRelevanceReport(r: RelevanceReport): string {
  const lines: string[] = [];
  const target = r.target.kind === 'token'
    ? `logit of token ${r.target.tokenId} at position ${r.target.position}`
    : `true next token at every position (${r.length - 1} targets)`;
  lines.push(`${r.checkpoint}`);
  lines.push(`  target       ${target}`);
  const composite = r.options.composite === 'uniform' ? `linear ${r.options.rule}` : `composite ${r.options.composite}`;
  lines.push(`  rules        ${composite} (eps ${r.options.epsilon} at ${r.options.epsilonPlacement}${r.options.rule === 'gamma' || r.options.composite === 'epsilon-gamma' ? `, gamma ${r.options.gamma}` : ''}), gate ${r.options.gate}, start ${r.options.start}`);
  for (const rule of r.rules ?? []) lines.push(`               ${rule}`);
  lines.push(...formatAccounting(r));
  lines.push('  tokens (token embedding part; position part)');
  r.tokens_text.slice(0, r.length).forEach((t, i) => lines.push(`    ${String(i).padStart(4)} ${JSON.stringify(t.text).padEnd(16)} ${fmt(r.tokens[i]).padStart(11)} ${fmt(r.positionEmbedding[i]).padStart(11)}`));
  for (const layer of r.layers) {
    lines.push(`  layer ${layer.layer}: input ${fmt(layer.input)}, output ${fmt(layer.output)}, mixing branch ${fmt(layer.mixing)}, FFN branch ${fmt(layer.ffn)}`);
    lines.push(`    offsets      ${layer.offsets.map((o) => `${o.offset}: ${(o.share * 100).toFixed(1)}%`).join(', ')}`);
    lines.push(`    top neurons  ${top(layer.ffnNeurons, 5, (i) => `#${i}`)}`);
    lines.push(`    top z dims   ${top(layer.reducedDims, 5, (i) => `z${i}`)}`);
    if (layer.gate.some((v) => v !== 0)) lines.push(`    top gate     ${top(layer.gate, 5, (i) => `a${i}`)}`);
  }
  lines.push(`  backend      ${r.backend}, ${r.seconds.toFixed(2)} s`);
  for (const w of r.warnings) lines.push(`  warning      ${w}`);
  return lines.join('\n');
}
