/**
 * The analysed tokens of a text document, without VS Code: where they are in the document, which
 * colour each gets, what its hover says, and how their spans move when the document is edited.
 * src/extension/textAnalysis.ts adapts this to VS Code (hover provider, decorations, status bar).
 */
import type { TextWindowAnalysis } from '../core/textAnalysis';
import { markdownCode, markdownText } from '../util/safeText';

/** One token of an analysis placed in the document: [start, end) are document offsets. */
export interface PlacedToken {
  start: number;
  end: number;
  window: TextWindowAnalysis;
  /** Position of the token in its window (the index the CLI prints for the window's text). */
  position: number;
}

/**
 * The tokens of `windows` that stand for text (special tokens have empty spans), placed at
 * `baseOffset` + their offset in the analysed text (the text is the document from `baseOffset`
 * on: the whole document, or a selection), in document order.
 */
export function placeTokens(windows: readonly TextWindowAnalysis[], baseOffset: number): PlacedToken[] {
  const out: PlacedToken[] = [];
  for (const window of windows) {
    window.tokens.forEach((token, position) => {
      if (token.special || token.end <= token.start) return;
      out.push({ start: baseOffset + token.start, end: baseOffset + token.end, window, position });
    });
  }
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
}

/** The tokens whose span holds the document offset (several when they share a character, e.g. the bytes of one). */
export function tokensAt(tokens: readonly PlacedToken[], offset: number): PlacedToken[] {
  // first token with start > offset
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid].start <= offset) lo = mid + 1;
    else hi = mid;
  }
  // Tokens do not overlap (those of one character share its span): the ones that hold the offset
  // are the last ones that start at or before it.
  const out: PlacedToken[] = [];
  for (let k = lo - 1; k >= 0 && offset < tokens[k].end; k--) out.unshift(tokens[k]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Edits
// ---------------------------------------------------------------------------------------------

/** One replacement of a document edit, in the offsets of the document just before it. */
export interface TextChange {
  offset: number;
  /** Length of the replaced text. */
  length: number;
  /** Length of the text put in its place. */
  inserted: number;
}

/**
 * The tokens after edits (applied in order, as VS Code reports a change event's parts): tokens
 * after a change move with it, tokens a change touches are dropped (their text is no longer what
 * the model saw), tokens before it stay.
 */
export function shiftTokens(tokens: readonly PlacedToken[], changes: readonly TextChange[]): PlacedToken[] {
  let out = tokens.slice();
  for (const c of changes) {
    const delta = c.inserted - c.length;
    const changeEnd = c.offset + c.length;
    out = out.flatMap((t) => {
      if (t.end <= c.offset) return [t];
      if (t.start >= changeEnd) return [{ ...t, start: t.start + delta, end: t.end + delta }];
      return [];
    });
  }
  return out;
}

/**
 * A bound range (a selection that was analysed) after edits: text inserted or deleted inside it
 * grows or shrinks it, text before it moves it, text typed at either edge stays outside.
 */
export function shiftRange(range: { start: number; end: number }, changes: readonly TextChange[]): { start: number; end: number } {
  let { start, end } = range;
  for (const c of changes) {
    const delta = c.inserted - c.length;
    const changeEnd = c.offset + c.length;
    const newStart = changeEnd <= start ? start + delta : c.offset < start ? c.offset : start;
    const newEnd = c.offset >= end ? end : changeEnd <= end ? end + delta : c.offset + c.inserted;
    start = newStart;
    end = Math.max(newStart, newEnd);
  }
  return { start, end };
}

// ---------------------------------------------------------------------------------------------
// Quantities and colours
// ---------------------------------------------------------------------------------------------

export const TOKEN_COLOR_QUANTITIES = ['relevance', 'planeArea', 'gate', 'loss'] as const;
export type TokenColorQuantity = (typeof TOKEN_COLOR_QUANTITIES)[number];

export const QUANTITY_LABELS: Record<TokenColorQuantity, string> = {
  relevance: 'relevance (LRP, input token + position)',
  planeArea: 'plane area',
  gate: 'gate openness',
  loss: 'loss −log p(token | the tokens before it)',
};

/** The layer and offset a quantity that needs one (plane area, gate) is read at. */
export interface LayerChoice {
  layer: number;
  offset: number;
}

/** LRP relevance of the token: its token-embedding part plus its position-embedding part. */
export function tokenRelevance(window: TextWindowAnalysis, t: number): number | null {
  return window.relevance ? window.relevance.tokens[t] + window.relevance.positionEmbedding[t] : null;
}

/** The area of the plane span(z_t, z_{t-d}) of layer l (null: the token has no plane there). */
export function tokenPlaneArea(window: TextWindowAnalysis, t: number, layer: number, offset: number): { area: number; degenerate: boolean } | null {
  const o = window.layers[layer]?.offsets.find((x) => x.offset === offset);
  const i = o ? o.positions.indexOf(t) : -1;
  return o && i >= 0 ? { area: o.area[i], degenerate: o.degenerate[i] } : null;
}

/** -log p(token t | tokens < t): the next-token loss at position t - 1 (null for the first token). */
export function tokenLoss(window: TextWindowAnalysis, t: number): number | null {
  return t >= 1 && t - 1 < window.loss.length ? window.loss[t - 1] : null;
}

export function tokenQuantity(window: TextWindowAnalysis, t: number, quantity: TokenColorQuantity, choice: LayerChoice): number | null {
  switch (quantity) {
    case 'relevance':
      return tokenRelevance(window, t);
    case 'planeArea':
      return tokenPlaneArea(window, t, choice.layer, choice.offset)?.area ?? null;
    case 'gate':
      return window.layers[choice.layer]?.alphaMean[t] ?? null;
    case 'loss':
      return tokenLoss(window, t);
  }
}

/** Colour levels per ramp: 1 (faint) .. LEVELS (full). */
export const LEVELS = 5;
export const LEVEL_NAMES = ['faint', 'light', 'medium', 'strong', 'full'] as const;
/** `high`: positive / large values (red); `low`: negative relevance (blue). */
export type Ramp = 'high' | 'low';

export interface TokenColor {
  ramp: Ramp;
  /** 1..LEVELS */
  level: number;
}

export interface ColorScale {
  quantity: TokenColorQuantity;
  /** Values map to levels by |value| / scale (gate openness: by value, scale 1). */
  scale: number;
  /** Signed quantities use both ramps. */
  signed: boolean;
  /** Tokens with a value. */
  count: number;
}

/** The scale of a quantity over the tokens: the largest |value| (gate openness is on [0, 1] already). */
export function colorScale(tokens: readonly PlacedToken[], quantity: TokenColorQuantity, choice: LayerChoice): ColorScale {
  let scale = 0;
  let count = 0;
  for (const t of tokens) {
    const v = tokenQuantity(t.window, t.position, quantity, choice);
    if (v === null || !Number.isFinite(v)) continue;
    count++;
    scale = Math.max(scale, Math.abs(v));
  }
  return { quantity, scale: quantity === 'gate' ? 1 : scale, signed: quantity === 'relevance', count };
}

/** Level k holds |value| / scale in ((k-1)/LEVELS, k/LEVELS]; 0 is in level 1. */
export function colorOf(value: number | null, scale: ColorScale): TokenColor | null {
  if (value === null || !Number.isFinite(value)) return null;
  const ratio = scale.scale > 0 ? Math.abs(value) / scale.scale : 0;
  const level = Math.min(LEVELS, Math.max(1, Math.ceil(ratio * LEVELS)));
  return { ramp: scale.signed && value < 0 ? 'low' : 'high', level };
}

/** The theme colour id of a ramp's level (contributed in package.json, one per ramp and level). */
export function colorId(color: TokenColor): string {
  return `grassmannLens.token${color.ramp === 'high' ? 'High' : 'Low'}.${LEVEL_NAMES[color.level - 1]}`;
}

/** Every colour id, as package.json contributes them. */
export const TOKEN_COLOR_IDS: readonly string[] = (['high', 'low'] as Ramp[]).flatMap((ramp) => LEVEL_NAMES.map((_, k) => colorId({ ramp, level: k + 1 })));

/** The value range of each level, for the legend. */
export function legendRows(scale: ColorScale): { color: TokenColor; range: string }[] {
  const rows: { color: TokenColor; range: string }[] = [];
  const bound = (k: number) => formatValue((k / LEVELS) * scale.scale);
  if (scale.signed) {
    for (let k = LEVELS; k >= 1; k--) rows.push({ color: { ramp: 'high', level: k }, range: `${bound(k - 1)} … ${bound(k)}` });
    const negative = (k: number) => (k === 0 ? '0' : `−${bound(k)}`);
    for (let k = 1; k <= LEVELS; k++) rows.push({ color: { ramp: 'low', level: k }, range: `${negative(k)} … ${negative(k - 1)}` });
  } else {
    for (let k = LEVELS; k >= 1; k--) rows.push({ color: { ramp: 'high', level: k }, range: `${bound(k - 1)} … ${bound(k)}` });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The hover
// ---------------------------------------------------------------------------------------------

/** How every number of the hover is written: 4 significant digits, exponent outside [1e-3, 1e4). */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(3) : v.toPrecision(4);
}

// Token text comes from tokenizer.json and the file names from the disk: untrusted. The hover is a
// MarkdownString trusted for one command, so every piece is escaped (../util/safeText.ts): token
// text as a code span whose fence outlasts any backticks in it, everything else backslash-escaped.
const code = (s: string): string => markdownCode(s);

export interface HoverContext {
  /** The model's file or folder, shown and passed to the reveal command. */
  checkpoint: string;
  checkpointName: string;
  choice: LayerChoice;
  /** A problem with the chosen layer/offset for nearest planes (from the analysis). */
  nearestProblem: string | null;
  /** A `command:` link that opens the checkpoint view at the token, or undefined. */
  revealLink?: (token: PlacedToken) => string;
  /** The document changed since this analysis; a new one is on its way. */
  stale: boolean;
}

/**
 * Compact Markdown for one token: what the CLI prints for it, for the window it was seen in.
 * What matters leads (the token, its relevance and loss, its nearest planes, the link to the
 * checkpoint view), one line each without paragraph gaps; the per-layer table comes last, so the
 * hover fits VS Code's box (about 250 px) without scrolling for models of up to 6 layers.
 */
export function hoverMarkdown(token: PlacedToken, ctx: HoverContext): string {
  const { window: w, position: t } = token;
  const tok = w.tokens[t];
  // Lines of one paragraph: a Markdown hard break (two spaces) between them.
  const head: string[] = [];
  head.push(`**${code(tok.text)}** · id ${tok.id} · position ${t} · ${markdownText(ctx.checkpointName)}`);
  const relevance = tokenRelevance(w, t);
  const parts: string[] = [];
  if (w.relevance) {
    parts.push(`relevance **${formatValue(relevance)}** (token ${formatValue(w.relevance.tokens[t])}, position ${formatValue(w.relevance.positionEmbedding[t])})`);
  }
  const loss = tokenLoss(w, t);
  if (loss !== null) parts.push(`loss ${formatValue(loss)} nats`);
  if (parts.length) head.push(parts.join(' · '));

  const { layer, offset } = ctx.choice;
  if (ctx.nearestProblem) {
    head.push(`nearest planes: ${markdownText(ctx.nearestProblem, 1000)}`);
  } else if (w.nearest) {
    const neighbours = w.nearest.neighbours[t];
    const label = `nearest planes (layer ${w.nearest.layer}, d=${w.nearest.offset}, ${markdownText(w.nearest.metric)})`;
    if (neighbours === null) head.push(`${label}: none, the token has no plane at d=${w.nearest.offset}`);
    else if (neighbours.length === 0) head.push(`${label}: none (degenerate plane)`);
    else head.push(`${label}: ${neighbours.map((n) => `${code(w.tokens[n.position].text)} @${n.position} ${formatValue(n.distance)}`).join(' · ')}`);
  } else {
    head.push(`nearest planes (layer ${layer}, d=${offset}): none, the window is shorter than ${offset + 1} tokens`);
  }
  const textTokens = w.tokens.filter((x) => !x.special).length;
  const where = `window ${w.index + 1} of ${w.count}, text tokens ${w.firstToken}–${w.firstToken + textTokens - 1}${ctx.stale ? ' · _being analysed again_' : ''}`;
  head.push(ctx.revealLink ? `[Open in checkpoint view](${ctx.revealLink(token)}) · ${where}` : where);

  const lines: string[] = [head.join('  \n'), ''];
  const offsets = [...new Set(w.layers.flatMap((l) => l.offsets.map((o) => o.offset)))].sort((a, b) => a - b);
  let anyDegenerate = false;
  lines.push(`| layer | gate α | ${offsets.map((d) => `d=${d}`).join(' | ')} |`);
  lines.push(`|--:|--:|${offsets.map(() => '--:|').join('')}`);
  for (const layer of w.layers) {
    const cells = offsets.map((d) => {
      const p = tokenPlaneArea(w, t, layer.layer, d);
      if (!p) return '—';
      anyDegenerate ||= p.degenerate;
      return `${formatValue(p.area)}${p.degenerate ? '\\*' : ''}`;
    });
    lines.push(`| ${layer.layer} | ${formatValue(layer.alphaMean[t])} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push(offsets.length
    ? `gate openness α and plane area at each window offset d${anyDegenerate ? ' · \\* degenerate plane (the two states are nearly parallel)' : ''}`
    : 'gate openness α (no planes: the window is one token long)');
  return lines.join('\n');
}
