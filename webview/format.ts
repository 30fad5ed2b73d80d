/**
 * The one number formatter and the one token-quoting rule of every webview (checkpoint editor,
 * comparison, pruning report). No DOM and no D3 here: the unit tests import it as it is.
 *
 * Numbers: `formatNumber` gives 4 significant digits, trailing zeros dropped; exponent form
 * (`1e-6`, `−2.5e-7`, `1.235e7`) below 1e-3 and from 1e6 on in magnitude; a negative number takes
 * the minus sign − (U+2212), as D3's axes write it. The exact double stays in the element's data
 * attributes (String(v)), for tests and exports.
 *
 * Tokens: `quoteToken` puts a token between ‹ › and makes its whitespace visible (space ␣, tab ⇥,
 * line end ↵, an empty token ‹›), so `,` or `.` in a list stays legible: `‹,› 2.2%`. Used wherever a
 * token stands in running text (lists, readouts, axis labels, tooltips); a token in its own box (a
 * chip of a token strip, a table cell) is shown as it is, the box delimits it.
 */

/** Magnitudes below this and from BIG on are written with an exponent. */
const SMALL = 1e-3;
const BIG = 1e6;

/** Drops trailing zeros of a fraction ("1.2300" → "1.23", "2.000" → "2"). */
function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/**
 * A number for people: `digits` significant digits (default 4), trailing zeros dropped, an
 * exponent below 1e-3 and from 1e6 on; "—" for null/undefined, "NaN", "∞"/"-∞".
 */
export function formatNumber(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return '—';
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '∞';
  if (v === -Infinity) return `${MINUS}∞`;
  if (v === 0) return '0';
  const a = Math.abs(v);
  const sign = v < 0 ? MINUS : '';
  if (a < SMALL || a >= BIG) {
    const [mantissa, exponent] = a.toExponential(digits - 1).split('e');
    return `${sign}${trimZeros(mantissa)}e${exponent.replace('+', '')}`;
  }
  // toPrecision would switch to an exponent from 10^digits on; round to an integer there.
  if (a >= 10 ** digits) return `${sign}${Math.round(a)}`;
  const fixed = trimZeros(a.toPrecision(digits));
  // 9.99995 rounds up to "10.00" and stays fixed; 999999.5 would be caught by BIG above
  return `${sign}${fixed}`;
}

/** The minus sign of every negative number shown (D3's axes use it too). */
export const MINUS = '\u2212';

/** A fraction as a percentage: 0.0221 → "2.21%" (`digits` significant digits, at most 2 decimals below 100%). */
export function formatPercent(fraction: number, digits = 3): string {
  if (!Number.isFinite(fraction)) return formatNumber(fraction);
  const p = fraction * 100;
  if (p === 0) return '0%';
  if (Math.abs(p) < 0.01) return `${formatNumber(p, 2)}%`;
  const decimals = Math.max(0, Math.min(2, digits - 1 - Math.floor(Math.log10(Math.abs(p)))));
  return `${p < 0 ? MINUS : ''}${trimZeros(Math.abs(p).toFixed(decimals))}%`;
}

/** A probability as a percentage with one decimal ("86.2%", "0.2%", "<0.1%"). */
export function formatProbability(p: number): string {
  if (p > 0 && p < 0.0005) return '<0.1%';
  return `${(p * 100).toFixed(1)}%`;
}

/** An angle in radians with its degrees: "0.1234 rad (7.07°)". */
export function formatAngle(radians: number): string {
  return `${formatNumber(radians)} rad (${formatDegrees(radians)})`;
}

/** Radians as degrees: "7.07°" (2 decimals). */
export function formatDegrees(radians: number): string {
  return `${trimZeros(((radians * 180) / Math.PI).toFixed(2))}°`;
}

/** Seconds of work: "0.42 s", "12.3 s", "125 s". */
export function formatSeconds(s: number): string {
  return `${formatNumber(s, 3)} s`;
}

/** A named quantity with its value, the one spelling: "ε = 1e-6". */
export function formatSetting(name: string, v: number): string {
  return `${name} = ${formatNumber(v)}`;
}

const VISIBLE: Record<string, string> = { ' ': '␣', '\t': '⇥', '\n': '↵', '\r': '' };

/** A token as it reads in running text: between ‹ ›, its whitespace made visible. */
export function quoteToken(text: string): string {
  return `‹${text.replace(/[ \t\n\r]/g, (c) => VISIBLE[c])}›`;
}

/** A token and its position: "‹,›@7". */
export function tokenAt(text: string, position: number): string {
  return `${quoteToken(text)}@${position}`;
}

/** An axis label of a token: "7 ‹,›". */
export function tokenLabel(text: string, position: number): string {
  return `${position} ${quoteToken(text)}`;
}

/** A list of tokens with a value each: "‹of› 32.3%, ‹,› 2.2%". */
export function tokenList(items: readonly { token: string; value: string }[]): string {
  return items.map((i) => `${quoteToken(i.token)} ${i.value}`).join(', ');
}
