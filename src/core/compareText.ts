/**
 * `compare --text`: two checkpoints on the same text. The weight comparison of `compare` (per
 * layer, principal angles between the W_red row spaces of A and B), and per token what `features`
 * and `relevance` report for each model alone, side by side with the difference B − A:
 * plane area per layer × offset, gate openness (mean of alpha) per layer, and input relevance
 * (token-embedding part + position-embedding part, LRP from the true next token at every position
 * with the defaults: epsilon rule, eps 1e-6, gate policy signal-take-all).
 *
 * The values are those of `features` and `relevance` run on each checkpoint separately (the same
 * functions on the same tokens), so a checkpoint compared with itself differs by exactly 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendReport } from '../model/backend';
import { DEFAULT_RELEVANCE_OPTIONS, type RelevanceOptions } from '../relevance/types';
import type { Token } from '../tokenizer';
import { InputError } from '../util/errors';
import { throwIfCancelled, type Cancellation } from './cancellation';
import { compareCheckpoints, formatCompareReport, type CompareReport } from './drift';
import { featuresInSession, type TokenInfo } from './features';
import { readInput, type TextInput } from './input';
import { relevanceInSession, type RelevanceReport } from './relevance';
import { freshSession, type ModelSession, type SessionProvider } from './session';

export interface CompareTextParams extends TextInput {
  config?: string;
  /** An architecture description file (--arch); otherwise one found beside the checkpoint, or the built-ins. */
  arch?: string;
  tokenizer?: string;
  /** As `compare --tensor/--with`: one weight's row and column spaces as well. */
  tensor?: string;
  with?: string;
  backend?: BackendReport;
}

/** One quantity of one token in A and in B; null where the token has no such value (t < offset). */
export interface Difference {
  a: number | null;
  b: number | null;
  /** b − a */
  diff: number | null;
}

export interface ComparedToken extends TokenInfo {
  position: number;
  /** Plane area ||p|| per compared layer × offset (the order of TextComparison.planes). */
  area: ({ layer: number; offset: number } & Difference)[];
  /** Gate openness (mean of alpha over the model dimensions) per compared layer. */
  gate: ({ layer: number } & Difference)[];
  /** Input relevance (token-embedding + position-embedding part); null when it cannot be explained (one token). */
  relevance: Difference | null;
}

/** Mean and largest |B − A| over the tokens that have the value. */
export interface DifferenceSummary {
  meanAbsDiff: number;
  maxAbsDiff: number;
  count: number;
}

export interface TextComparison {
  /** `text` when given inline, else the file read. */
  source: string;
  /** The tokenizer of A and of B (the same file, or files with the same vocabulary). */
  tokenizers: [string, string];
  backend: string;
  /** Layers present in both models. */
  layers: number[];
  /** (layer, offset) pairs with planes in both models, in the order of ComparedToken.area. */
  planes: { layer: number; offset: number }[];
  relevanceOptions: RelevanceOptions;
  tokens: ComparedToken[];
  summary: {
    layers: { layer: number; area: DifferenceSummary; areaByOffset: ({ offset: number } & DifferenceSummary)[]; gate: DifferenceSummary }[];
    relevance: DifferenceSummary | null;
  };
  /** When the text has more tokens than a model's position table: the tokens compared. */
  truncated: { total: number; kept: number } | null;
  seconds: number;
  warnings: string[];
}

/** `compare`'s report with the per-token part (the JSON of `compare --text`). */
export interface CompareTextReport extends CompareReport {
  text: TextComparison;
}

/**
 * The two models must read the text the same way: the same vocabulary size and the same token
 * for every id (the same tokenizer file, or equal vocabularies), and the same tokens for this text.
 */
function checkSameVocabulary(a: ModelSession, b: ModelSession): void {
  const [va, vb] = [a.spec.dims.vocabSize, b.spec.dims.vocabSize];
  const notShared = 'the checkpoints do not share a tokenizer, so their tokens cannot be compared';
  if (va !== vb) throw new InputError(b.checkpoint.path, `has a vocabulary of ${vb} tokens and ${a.checkpoint.path} one of ${va}: ${notShared}`);
  const [ta, tb] = [a.tokenizer, b.tokenizer];
  if (ta.path === tb.path) return;
  const [x, y] = [ta.tokenizer, tb.tokenizer];
  const which = `${tb.path} (the tokenizer of ${b.checkpoint.path}) and ${ta.path} (that of ${a.checkpoint.path})`;
  if (x.kind !== y.kind) throw new InputError(tb.path, `is a ${y.kind} tokenizer and ${ta.path} (the tokenizer of ${a.checkpoint.path}) a ${x.kind} one: ${notShared}`);
  if (x.vocabSize !== y.vocabSize) throw new InputError(tb.path, `has ${y.vocabSize} ids and ${ta.path} (the tokenizer of ${a.checkpoint.path}) ${x.vocabSize}: ${notShared}`);
  for (let id = 0; id < x.vocabSize; id++) {
    const [sa, sb] = [x.idToToken(id), y.idToToken(id)];
    if (sa !== sb) throw new InputError(tb.path, `id ${id} is '${sb}' here and '${sa}' in ${ta.path} (the tokenizer of ${a.checkpoint.path}): ${notShared}; ${which} differ`);
  }
}

function checkSameTokens(a: ModelSession, b: ModelSession, text: string): void {
  const [ta, tb] = [a.encode(text), b.encode(text)];
  const n = Math.max(ta.length, tb.length);
  for (let t = 0; t < n; t++) {
    if (ta[t]?.id !== tb[t]?.id) {
      const show = (tok: Token | undefined) => (tok ? `${tok.id} ('${tok.text}')` : 'past the end');
      throw new InputError(b.tokenizer.path, `token ${t} of the text is ${show(tb[t])} here and ${show(ta[t])} with ${a.tokenizer.path}: the tokenizers of ${b.checkpoint.path} and ${a.checkpoint.path} split the text differently`);
    }
  }
}

const difference = (a: number | null, b: number | null): Difference => ({ a, b, diff: a === null || b === null ? null : b - a });

function summarise(values: (Difference | null)[]): DifferenceSummary {
  let sum = 0;
  let max = 0;
  let count = 0;
  for (const v of values) {
    if (v?.diff === null || v?.diff === undefined) continue;
    const d = Math.abs(v.diff);
    sum += d;
    max = Math.max(max, d);
    count++;
  }
  return { meanAbsDiff: count ? sum / count : 0, maxAbsDiff: max, count };
}

/** Input relevance per token: what reached the token embedding plus what reached the position embedding. */
export function inputRelevance(r: RelevanceReport): number[] {
  return r.tokens.map((v, i) => v + r.positionEmbedding[i]);
}

/**
 * The models come from `sessions` (default: opened and closed here; the worker lends its cached
 * ones). Cancelled between steps, and between blocks of each forward and backward pass.
 */
export async function compareOnText(pathA: string, pathB: string, params: CompareTextParams, control?: Cancellation, sessions: SessionProvider = freshSession): Promise<CompareTextReport> {
  const started = Date.now();
  const total = 5;
  const step = (done: number, message: string) => {
    throwIfCancelled(control);
    control?.progress({ done, total, message });
  };
  const text = await readInput(params);
  step(0, 'comparing the weights');
  const weights = await compareCheckpoints({ a: pathA, b: pathB, config: params.config, arch: params.arch, tensor: params.tensor, with: params.with });
  const options = { config: params.config, arch: params.arch, tokenizer: params.tokenizer };
  return sessions(pathA, options, (sessionA) => sessions(pathB, options, async (sessionB) => {
    checkSameVocabulary(sessionA, sessionB);
    checkSameTokens(sessionA, sessionB, text);
    const relevanceOptions: RelevanceOptions = { ...DEFAULT_RELEVANCE_OPTIONS };
    const run = async (session: ModelSession, name: 'A' | 'B', done: number) => {
      step(done, `${name}: features`);
      const features = await featuresInSession(session, text, { backend: params.backend }, control);
      step(done + 1, `${name}: relevance`);
      const relevance = features.tokens.length >= 2 ? await relevanceInSession(session, text, { ...relevanceOptions, backend: params.backend }, control) : null;
      return { features, relevance };
    };
    const A = await run(sessionA, 'A', 1);
    const B = await run(sessionB, 'B', 3);
    throwIfCancelled(control);

    const warnings: string[] = [];
    const [fa, fb] = [A.features, B.features];
    const T = Math.min(fa.tokens.length, fb.tokens.length);
    if (fa.tokens.length !== fb.tokens.length) {
      warnings.push(`${pathA} ran ${fa.tokens.length} tokens and ${pathB} ${fb.tokens.length} (their position tables differ): the first ${T} are compared`);
    }
    const totalTokens = fa.truncated?.total ?? fb.truncated?.total ?? T;
    const truncated = totalTokens > T ? { total: totalTokens, kept: T } : null;
    const L = Math.min(fa.layers.length, fb.layers.length);
    if (fa.layers.length !== fb.layers.length) warnings.push(`${pathA} has ${fa.layers.length} layers and ${pathB} ${fb.layers.length}: the first ${L} are compared`);
    const layers = Array.from({ length: L }, (_, l) => l);
    const planes: { layer: number; offset: number }[] = [];
    // position t -> index into each offset's arrays, per (layer, offset) of A and B
    const lookups: { a: { positions: number[]; area: number[] }; b: { positions: number[]; area: number[] } }[] = [];
    for (const l of layers) {
      const [la, lb] = [fa.layers[l], fb.layers[l]];
      for (const oa of la.offsets) {
        const ob = lb.offsets.find((o) => o.offset === oa.offset);
        if (!ob) continue;
        planes.push({ layer: l, offset: oa.offset });
        lookups.push({ a: oa, b: ob });
      }
      const only = [...la.offsets.filter((o) => !lb.offsets.some((x) => x.offset === o.offset)).map((o) => `${o.offset} (A)`), ...lb.offsets.filter((o) => !la.offsets.some((x) => x.offset === o.offset)).map((o) => `${o.offset} (B)`)];
      if (only.length) warnings.push(`layer ${l}: offsets ${only.join(', ')} are in one model's window list only and are not compared`);
    }
    const areaAt = (o: { positions: number[]; area: number[] }, t: number): number | null => {
      const i = o.positions.indexOf(t);
      return i < 0 ? null : o.area[i];
    };
    const [ra, rb] = [A.relevance ? inputRelevance(A.relevance) : null, B.relevance ? inputRelevance(B.relevance) : null];
    if (!ra || !rb) warnings.push('the text has one token: there is no next token to explain, so no relevance');
    const tokens: ComparedToken[] = fa.tokens.slice(0, T).map((tok, t) => ({
      position: t,
      ...tok,
      area: planes.map((p, k) => ({ ...p, ...difference(areaAt(lookups[k].a, t), areaAt(lookups[k].b, t)) })),
      gate: layers.map((l) => ({ layer: l, ...difference(fa.layers[l].alphaMean[t], fb.layers[l].alphaMean[t]) })),
      relevance: ra && rb ? difference(ra[t], rb[t]) : null,
    }));
    const summary: TextComparison['summary'] = {
      layers: layers.map((l) => {
        const here = planes.map((p, k) => ({ p, k })).filter(({ p }) => p.layer === l);
        return {
          layer: l,
          area: summarise(tokens.flatMap((tok) => here.map(({ k }) => tok.area[k]))),
          areaByOffset: here.map(({ p, k }) => ({ offset: p.offset, ...summarise(tokens.map((tok) => tok.area[k])) })),
          gate: summarise(tokens.map((tok) => tok.gate[l])),
        };
      }),
      relevance: ra && rb ? summarise(tokens.map((tok) => tok.relevance)) : null,
    };
    const own = (r: { warnings: string[] } | null, who: string) => (r?.warnings ?? []).map((w) => `${who}: ${w}`);
    const allWarnings = [...new Set([...warnings, ...own(fa, 'A'), ...own(fb, 'B'), ...own(A.relevance, 'A'), ...own(B.relevance, 'B')])];
    return {
      ...weights,
      text: {
        source: params.text !== undefined ? 'text' : params.file!,
        tokenizers: [sessionA.tokenizer.path, sessionB.tokenizer.path],
        backend: params.backend?.active ?? tf.getBackend(),
        layers,
        planes,
        relevanceOptions,
        tokens,
        summary,
        truncated,
        seconds: (Date.now() - started) / 1000,
        warnings: allWarnings,
      },
    };
  }));
}

const fmt = (v: number | null): string => (v === null ? '—' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(4));

export function formatCompareTextReport(r: CompareTextReport): string {
  const c = r.text;
  const lines = [formatCompareReport(r), '', `The same text through both (${c.tokens.length} tokens${c.truncated ? ` of ${c.truncated.total}` : ''}, from ${c.source}; backend ${c.backend}, ${c.seconds.toFixed(2)} s); differences are B − A:`];
  for (const w of c.warnings) lines.push(`warning: ${w}`);
  lines.push('mean |B − A| per layer: plane area (all offsets; per offset d), gate openness');
  for (const s of c.summary.layers) {
    lines.push(`  layer ${s.layer}: area ${fmt(s.area.meanAbsDiff)} (${s.areaByOffset.map((o) => `d=${o.offset} ${fmt(o.meanAbsDiff)}`).join(', ')}), gate ${fmt(s.gate.meanAbsDiff)}`);
  }
  if (c.summary.relevance) {
    const o = c.relevanceOptions;
    lines.push(`  input relevance (${o.rule}, eps ${o.epsilon}, gate ${o.gate}): mean |B − A| ${fmt(c.summary.relevance.meanAbsDiff)}, largest ${fmt(c.summary.relevance.maxAbsDiff)}`);
  }
  lines.push('', `per token: relevance A, B, B − A; gate B − A per layer (${c.layers.map((l) => `l${l}`).join(' ')}); mean |B − A| of the plane areas`);
  for (const tok of c.tokens) {
    const areas = tok.area.filter((x) => x.diff !== null);
    const meanArea = areas.length ? areas.reduce((a, x) => a + Math.abs(x.diff!), 0) / areas.length : null;
    const rel = tok.relevance ? `${fmt(tok.relevance.a).padStart(10)} ${fmt(tok.relevance.b).padStart(10)} ${fmt(tok.relevance.diff).padStart(10)}` : '';
    lines.push(`  ${String(tok.position).padStart(4)} ${JSON.stringify(tok.text).slice(0, 16).padEnd(16)} ${rel}   ${tok.gate.map((g) => fmt(g.diff).padStart(8)).join(' ')}   ${fmt(meanArea)}`);
  }
  return lines.join('\n');
}
