/**
 * Which category labels an axis shows, and how: no DOM here (the unit tests import it; the charts
 * pass a `measure` that reads real text widths from a canvas).
 *
 * For a category axis of n slots of `slot` px each, labels are either horizontal (a label needs
 * its width) or turned a quarter (-90°: a label needs only the line height along the axis, its
 * width goes into the margin, which is computed from the widest label shown). Every `step`-th
 * label is shown, step from 1, 2, 5, 10, 20, 50, …, the smallest for which neighbours keep `gap`
 * px between them; turned labels are used only when horizontal ones would need a larger step. A
 * label wider than `maxLabel` px is cut with "…" (the chart keeps the full text in a <title>).
 */

export type Measure = (text: string) => number;

/** Line height of an 11 px label (the charts' tick font). */
export const LABEL_HEIGHT = 13;
/** Space kept between neighbouring labels. */
export const LABEL_GAP = 3;

/**
 * A width estimate for 11 px sans-serif text where nothing can measure (an upper bound for the
 * usual UI fonts: narrow punctuation 0.35 em, digits 0.6 em, wide letters 0.95 em, the rest 0.65 em).
 */
export function estimateWidth(text: string, fontSize = 11): number {
  let em = 0;
  for (const c of text) {
    if (/[.,:;'|!il1ijtf()[\]\s]/.test(c)) em += 0.35;
    else if (/[0-9]/.test(c)) em += 0.6;
    else if (/[mwMW@%‹›…]/.test(c)) em += 0.95;
    else em += 0.65;
  }
  return em * fontSize;
}

/** The steps tried, in order: 1, 2, 5, 10, 20, 50, … */
export function niceStep(minimum: number): number {
  if (minimum <= 1) return 1;
  for (let p = 1; ; p *= 10) {
    for (const m of [1, 2, 5]) if (m * p >= minimum) return m * p;
  }
}

/** `text` cut to at most `maxWidth` px with "…" at the end (unchanged when it fits). */
export function truncateLabel(text: string, maxWidth: number, measure: Measure): { text: string; truncated: boolean } {
  if (measure(text) <= maxWidth) return { text, truncated: false };
  const chars = [...text];
  let lo = 0;
  let hi = chars.length;
  // the longest prefix that fits with the ellipsis
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(`${chars.slice(0, mid).join('')}…`) <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return { text: `${chars.slice(0, lo).join('').trimEnd()}…`, truncated: true };
}

export interface AxisLabelPlan {
  /** Indices of the categories that get a label (every `step`-th from 0). */
  indices: number[];
  step: number;
  /** Turned a quarter (-90°), reading bottom to top. */
  rotated: boolean;
  /** The shown label of each index in `indices` (truncated where needed), same order. */
  labels: string[];
  /** Which of them were cut (their full text goes in a tooltip). */
  truncated: boolean[];
  /** How far the labels reach away from the axis line, in px (their height, or the widest turned label). */
  depth: number;
}

export interface AxisLabelOptions {
  /** Pixels per category. */
  slot: number;
  measure?: Measure;
  /** A label is cut beyond this width (px). */
  maxLabel?: number;
  /** Allow turning the labels (a bottom axis); a left axis keeps them horizontal and stacks them. */
  allowRotate?: boolean;
  /** Labels along a vertical axis (rows of a heatmap): each needs the line height, not its width. */
  vertical?: boolean;
  gap?: number;
}

/** The label plan of a category axis with `labels` (one per category). */
export function planAxisLabels(labels: readonly string[], o: AxisLabelOptions): AxisLabelPlan {
  const measure = o.measure ?? ((s: string) => estimateWidth(s));
  const maxLabel = o.maxLabel ?? 120;
  const gap = o.gap ?? LABEL_GAP;
  const n = labels.length;
  const slot = Math.max(1e-6, o.slot);
  const stepFor = (extent: number) => niceStep(Math.ceil((extent + gap) / slot - 1e-9));
  const cut = (k: number) => truncateLabel(labels[k], maxLabel, measure);
  const plan = (step: number, rotated: boolean): AxisLabelPlan => {
    const indices: number[] = [];
    for (let k = 0; k < n; k += step) indices.push(k);
    const shown = indices.map(cut);
    const widths = shown.map((s) => measure(s.text));
    const widest = widths.length ? Math.max(...widths) : 0;
    return {
      indices, step, rotated, labels: shown.map((s) => s.text), truncated: shown.map((s) => s.truncated),
      depth: o.vertical ? widest : rotated ? widest : LABEL_HEIGHT,
    };
  };
  if (n === 0) return { indices: [], step: 1, rotated: false, labels: [], truncated: [], depth: 0 };
  if (o.vertical) return plan(stepFor(LABEL_HEIGHT), false);
  // horizontal: a step large enough for the widest (cut) label
  const widest = Math.max(...labels.map((_, k) => Math.min(maxLabel, measure(labels[k]))));
  const flat = stepFor(widest);
  const turned = stepFor(LABEL_HEIGHT);
  if (!o.allowRotate || flat <= turned) return plan(flat, false);
  return plan(turned, true);
}

/**
 * Whether two boxes overlap (touching edges do not): used by the unit tests of the plans, and the
 * same rule the end-to-end tests apply to the rendered labels' bounding boxes.
 */
export function boxesOverlap(a: { left: number; right: number; top: number; bottom: number }, b: { left: number; right: number; top: number; bottom: number }): boolean {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}
