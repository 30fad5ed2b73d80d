/**
 * Text that came from a file (tensor and global names, zip entry names, metadata, config and
 * tokenizer strings, error messages quoting them) made safe for where it is shown:
 *  - a terminal (`terminalSafe`): one line, no control characters or escape sequences, bounded;
 *  - a Markdown hover (`markdownText`, `markdownCode`): no links, images, HTML or code-span escapes;
 *  - a file name chosen by a webview (`safeFileName`).
 * No VS Code import: the CLI, the worker and the tests use it.
 */

/** The longest text a terminal line from a file shows before it is cut (characters). */
export const TERMINAL_MAX_CHARS = 2000;

/** The longest untrusted piece a hover shows before it is cut (characters). */
export const MARKDOWN_MAX_CHARS = 200;

// C0 controls, DEL, C1 controls (0x9b is a one-byte CSI), and the Unicode line/paragraph
// separators, bidi overrides and isolates (they reorder what the user reads), zero-width joiners
// are left alone (they are part of valid text).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\x1b' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Shows control characters as escapes (`\n`, `\x1b`, `\u202e`): the text stays on one line and is inert. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** Cuts `text` to `maxChars` (never inside a surrogate pair), noting how much was cut. */
export function cut(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let end = Math.max(0, maxChars);
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}… (${(text.length - end).toLocaleString('en-US')} more characters cut)`;
}

/**
 * One terminal line that is safe to print: control characters and escape sequences shown
 * escaped, at most `maxChars` characters of the text (plus a note of how much was cut).
 * Escaping is done on the kept part only, so a 20 MB name costs no more than a short one.
 */
export function terminalSafe(text: unknown, maxChars = TERMINAL_MAX_CHARS): string {
  const s = typeof text === 'string' ? text : String(text);
  if (s.length <= maxChars) {
    const e = escapeControls(s);
    return e.length <= maxChars ? e : cut(e, maxChars);
  }
  // Escape a bounded prefix, then cut the escaped text; report the cut in characters of the original.
  let end = maxChars;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end -= 1; // never half a surrogate pair
  const head = escapeControls(s.slice(0, end));
  const keep = head.length <= maxChars ? head : head.slice(0, maxChars);
  return `${keep}… (${(s.length - end).toLocaleString('en-US')}+ more characters cut)`;
}

/**
 * A multi-line report for a terminal: each line made safe as `terminalSafe` does (the report's
 * own line breaks kept), and at most `maxLines` lines.
 */
export function terminalSafeLines(text: string, maxChars = TERMINAL_MAX_CHARS, maxLines = 1_000_000): string {
  const lines = text.split('\n');
  const kept = lines.length > maxLines ? lines.slice(0, maxLines) : lines;
  const out = kept.map((l) => terminalSafe(l, maxChars));
  if (lines.length > maxLines) out.push(`… (${(lines.length - maxLines).toLocaleString('en-US')} more lines cut)`);
  return out.join('\n');
}

/**
 * JSON text for a terminal: JSON.stringify already escapes C0 controls; DEL, C1 controls and the
 * Unicode separators/overrides are escaped too (still valid JSON, the same value).
 */
export function jsonTerminalSafe(json: string): string {
  // eslint-disable-next-line no-control-regex
  return json.replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// CommonMark: every ASCII punctuation character may be backslash-escaped.
const MARKDOWN_SPECIAL = /[\\`*_{}[\]()#+\-.!|<>&~:"'=$^%@;,/?]/g;

/**
 * Untrusted text as inert Markdown (and HTML, where a MarkdownString has supportHtml): every
 * punctuation character that could open a link, image, code span, emphasis, table cell, HTML
 * tag or entity is backslash-escaped; control characters and line breaks shown escaped (one
 * line: a blank line cannot start a new block); cut to `maxChars`.
 */
export function markdownText(text: unknown, maxChars = MARKDOWN_MAX_CHARS): string {
  const s = terminalSafe(typeof text === 'string' ? text : String(text), maxChars);
  return s.replace(MARKDOWN_SPECIAL, (c) => `\\${c}`);
}

/**
 * Untrusted text as a Markdown code span (shown literally: no links, images or HTML inside): the
 * fence is one backtick longer than the longest run of backticks in the text, control characters
 * and line breaks are shown escaped, and the text is cut to `maxChars`.
 */
export function markdownCode(text: unknown, maxChars = MARKDOWN_MAX_CHARS): string {
  const s = terminalSafe(typeof text === 'string' ? text : String(text), maxChars);
  let longest = 0;
  for (const run of s.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  const fence = '`'.repeat(longest + 1);
  // A space on each side when the text starts or ends with a backtick or a space (CommonMark strips one).
  const pad = longest > 0 || s.startsWith(' ') || s.endsWith(' ') || s === '' ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

/**
 * A file name a webview proposes, made safe to put in a folder: no folders, no characters outside
 * [A-Za-z0-9_.-], no leading dots, bounded length, and the extension `ext` (replacing another one).
 */
export function safeFileName(name: unknown, ext: string, fallback = 'export'): string {
  const raw = typeof name === 'string' ? name.slice(0, 1000) : '';
  const base = raw.split(/[\\/]/).pop() ?? '';
  let clean = base.replace(/\.[A-Za-z0-9]{1,8}$/, '').replace(/[^\w.-]+/g, '_').replace(/^[.\-_]+/, '').slice(0, 120);
  if (!clean) clean = fallback;
  return `${clean}.${ext}`;
}

/**
 * Untrusted text in a VS Code notification (showErrorMessage and friends), which renders
 * `[text](command:...)`, `[text](https://...)` and `[text](file:...)` as live links: the link
 * syntax is broken (`] (`), control characters are shown escaped, the text is cut.
 */
export function notificationText(text: unknown, maxChars = TERMINAL_MAX_CHARS): string {
  return terminalSafe(typeof text === 'string' ? text : String(text), maxChars).replace(/\]\s*\(/g, '] (');
}
