/**
 * Analyze This Text without VS Code: the windows a long text is cut into (real tokenizer of the
 * fixture), the placement of token spans in a document (selection offset + token offset, sub-word
 * pieces, characters outside the BMP), their movement through edits, the colour scale and the
 * hover; and the worker operation `textAnalysis` on the cpu backend, window by window against the
 * operations the CLI's `features`, `relevance` and the editor's `nearest` run on the window's text.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { findTokenizer, type Token } from '../../src/tokenizer';
import { splitTextIntoWindows } from '../../src/core/textWindows';
import { AnalysisCache } from '../../src/core/analysis';
import { featuresOfText } from '../../src/core/features';
import { relevanceOfText } from '../../src/core/relevance';
import { OperationCancelled } from '../../src/core/cancellation';
import { planTextWindows, TextAnalyses, type TextAnalysisPiece, type TextWindowAnalysis } from '../../src/core/textAnalysis';
import {
  colorId, colorOf, colorScale, formatValue, hoverMarkdown, legendRows, placeTokens, shiftRange, shiftTokens, TOKEN_COLOR_IDS, tokenQuantity, tokensAt,
  type PlacedToken, type TextChange,
} from '../../src/extension/textTokens';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const MODEL = join(FIXTURE, 'model.safetensors');
const { tokenizer } = findTokenizer({ checkpointPath: MODEL });
const evalText = readFileSync(join(FIXTURE, 'eval.txt'), 'utf8');
const MAX_POSITIONS = 128;
const CAPACITY = MAX_POSITIONS - 2; // [CLS] ... [SEP]

const content = (text: string): Token[] => tokenizer.encode(text, { addSpecialTokens: false });
const isSpace = (ch: string | undefined) => ch !== undefined && /\s/.test(ch);

describe('windows of a long text', () => {
  test('cover the text without gaps, hold at most the capacity, cut between words, and re-encode to the same tokens', () => {
    const tokens = content(evalText);
    assert.ok(tokens.length > 5 * CAPACITY, `eval.txt has ${tokens.length} tokens`);
    const windows = splitTextIntoWindows(evalText, tokens, CAPACITY);
    assert.equal(windows[0].start, 0);
    assert.equal(windows.at(-1)!.end, evalText.length);
    let next = 0;
    const again: Token[] = [];
    for (const [k, w] of windows.entries()) {
      if (k > 0) assert.equal(w.start, windows[k - 1].end);
      assert.equal(w.firstToken, next);
      next += w.tokenCount;
      assert.ok(w.tokenCount >= 1 && w.tokenCount <= CAPACITY);
      if (k > 0) assert.ok(isSpace(evalText[w.start - 1]) || isSpace(evalText[w.start]), `window ${k} starts inside a word: ${JSON.stringify(evalText.slice(w.start - 5, w.start + 5))}`);
      const own = tokenizer.encode(evalText.slice(w.start, w.end));
      assert.ok(own.length <= MAX_POSITIONS);
      assert.equal(own.length, w.tokenCount + 2);
      again.push(...own.filter((t) => !t.special).map((t) => ({ ...t, start: t.start + w.start, end: t.end + w.start })));
    }
    assert.equal(next, tokens.length);
    assert.deepEqual(again, tokens);
    // Greedy: a window is full up to the last word that fits.
    for (const w of windows.slice(0, -1)) assert.ok(w.tokenCount > CAPACITY - 12, `window of ${w.tokenCount}`);
  });

  test('sub-word pieces stay together when there is whitespace to cut at; without any, the cut falls between pieces', () => {
    const text = 'the licensorlicensor grants überlicensor worldwide licensor';
    const tokens = content(text);
    const pieces = tokens.map((t) => t.text);
    assert.ok(pieces.some((p) => p.startsWith('##')), `the fixture splits a word: ${pieces.join(' ')}`);
    const longestWord = Math.max(...text.split(' ').map((w) => content(w).length));
    for (let capacity = 1; capacity <= tokens.length; capacity++) {
      const windows = splitTextIntoWindows(text, tokens, capacity);
      if (capacity >= longestWord) for (const w of windows.slice(1)) assert.ok(isSpace(text[w.start - 1]), `capacity ${capacity}: cut at ${w.start}`);
      assert.ok(windows.every((w) => w.tokenCount <= capacity));
      assert.equal(windows.reduce((n, w) => n + w.tokenCount, 0), tokens.length);
      assert.equal(windows.map((w) => text.slice(w.start, w.end)).join(''), text);
    }
    const word = 'licensorlicensor';
    const one = splitTextIntoWindows(word, content(word), 1);
    assert.equal(one.length, content(word).length);
    assert.deepEqual(one.map((w) => word.slice(w.start, w.end)).join(''), word);
    assert.deepEqual(one.map((w) => w.tokenCount), one.map(() => 1));
  });

  test('text without tokens has no windows; a window holds at least one token', () => {
    assert.deepEqual(splitTextIntoWindows('  \n\t ', content('  \n\t '), 5), []);
    assert.throws(() => splitTextIntoWindows('a b', content('a b'), 0), RangeError);
  });

  test('planTextWindows: each window of the model encodes within its position table', async () => {
    const cache = new AnalysisCache();
    try {
      const session = await cache.session({ path: MODEL });
      const plan = planTextWindows(session, evalText);
      assert.equal(plan.capacity, CAPACITY);
      assert.equal(plan.tokenCount, content(evalText).length);
      for (const w of plan.windows) assert.ok(tokenizer.encode(evalText.slice(w.start, w.end)).length <= MAX_POSITIONS);
    } finally {
      await cache.dispose();
    }
  });
});

/** Line and character of an offset, as vscode.TextDocument.positionAt counts them (\n, \r\n). */
function positionAt(doc: string, offset: number): { line: number; character: number } {
  const before = doc.slice(0, offset);
  const line = before.split(/\r\n|\n/).length - 1;
  const lineStart = Math.max(before.lastIndexOf('\n') + 1, 0);
  return { line, character: offset - lineStart };
}

function fakeWindow(text: string, tokens: Token[], start = 0): TextWindowAnalysis {
  const T = tokens.length;
  return {
    start, end: start + text.length, firstToken: 0, tokenCount: tokens.filter((t) => !t.special).length, index: 0, count: 1,
    tokens: tokens.map((t) => ({ ...t, start: t.start + start, end: t.end + start })),
    loss: Array.from({ length: T - 1 }, (_, t) => t + 1),
    layers: [{ layer: 0, alphaMean: tokens.map((_, t) => t / T), offsets: [{ offset: 1, positions: tokens.slice(1).map((_, k) => k + 1), area: tokens.slice(1).map((_, k) => (k + 1) / 10), degenerate: tokens.slice(1).map(() => false), share: tokens.slice(1).map(() => 1) }] }],
    relevance: { tokens: tokens.map((_, t) => (t % 2 ? 1 : -1) * t), positionEmbedding: tokens.map(() => 0.5) },
    nearest: null, ms: 0, cached: false,
  } as unknown as TextWindowAnalysis;
}

describe('token spans in a document', () => {
  // A selection in the middle of a document, with sub-word pieces, an astral character (two UTF-16
  // units), accents the tokenizer strips, and CRLF line ends.
  const prefix = 'unrelated text before\r\nand a second line: ';
  const selected = 'The Licensor grants\r\nÜberlicensor 😀 royalty-free licence';
  const doc = prefix + selected + '\r\nafter';
  const base = prefix.length;
  const tokens = tokenizer.encode(selected);
  const placed = placeTokens([fakeWindow(selected, tokens)], base);

  test('every token lands on the text it stands for, special tokens nowhere', () => {
    assert.equal(placed.length, tokens.filter((t) => !t.special).length);
    for (const p of placed) {
      const token = p.window.tokens[p.position];
      assert.equal(doc.slice(p.start, p.end), selected.slice(token.start, token.end));
      assert.ok(p.end > p.start);
    }
    const surfaces = placed.map((p) => doc.slice(p.start, p.end));
    assert.ok(surfaces.includes('😀') && doc.slice(placed[surfaces.indexOf('😀')].start, placed[surfaces.indexOf('😀')].end).length === 2);
    const pieces = placed.filter((p) => p.window.tokens[p.position].text.startsWith('##')).map((p) => doc.slice(p.start, p.end));
    assert.ok(pieces.length >= 2, `sub-word pieces: ${pieces.join(' ')}`);
    // Ü is lowercased and stripped of its accent by the tokenizer, and still covers Ü in the document.
    assert.equal(doc.slice(placed.find((p) => p.window.tokens[p.position].text === 'u')!.start, placed.find((p) => p.window.tokens[p.position].text === 'u')!.end), 'Ü');
  });

  test('line and character follow the document (the second line of the selection starts at character 0)', () => {
    const uber = placed.find((p) => doc.slice(p.start, p.end) === 'Ü')!;
    assert.deepEqual(positionAt(doc, uber.start), { line: 2, character: 0 });
    const the = placed[0];
    assert.deepEqual(positionAt(doc, the.start), { line: 1, character: 'and a second line: '.length });
  });

  test('tokensAt finds the token under every character and nothing between tokens', () => {
    for (let offset = 0; offset < doc.length; offset++) {
      const found = tokensAt(placed, offset);
      const expected = placed.filter((p) => p.start <= offset && offset < p.end);
      assert.deepEqual(found, expected, `offset ${offset}`);
    }
  });

  test('windows after the first place their tokens by the window offset the core already added', () => {
    const second = fakeWindow('licensor', tokenizer.encode('licensor'), 40);
    const p = placeTokens([second], 7);
    assert.equal(p[0].start, 47);
  });
});

describe('spans through edits', () => {
  const words = fc.array(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 1, maxLength: 12 });
  test('a token that survives an edit still covers the same text; a token the edit touched is gone', () => {
    fc.assert(fc.property(words, fc.array(fc.record({ at: fc.nat(), length: fc.nat({ max: 5 }), text: fc.stringMatching(/^[a-z ]{0,4}$/) }), { maxLength: 4 }), (ws, edits) => {
      let doc = ws.join(' ');
      let start = 0;
      const tokens: PlacedToken[] = ws.map((w, k) => {
        const t = { start, end: start + w.length, window: null as unknown as TextWindowAnalysis, position: k };
        start += w.length + 1;
        return t;
      });
      const original = new Map(tokens.map((t) => [t.position, doc.slice(t.start, t.end)]));
      let current = tokens;
      for (const e of edits) {
        const offset = e.at % (doc.length + 1);
        const length = Math.min(e.length, doc.length - offset);
        const change: TextChange = { offset, length, inserted: e.text.length };
        const before = current;
        current = shiftTokens(current, [change]);
        doc = doc.slice(0, offset) + e.text + doc.slice(offset + length);
        for (const t of before) {
          const touched = t.end > offset && t.start < offset + length || (t.start < offset && offset < t.end);
          assert.equal(current.some((c) => c.position === t.position), !touched);
        }
      }
      for (const t of current) assert.equal(doc.slice(t.start, t.end), original.get(t.position));
    }));
  });

  test('a bound selection grows with text typed inside it, moves with text before it, ignores text after it', () => {
    const r = { start: 10, end: 20 };
    assert.deepEqual(shiftRange(r, [{ offset: 15, length: 0, inserted: 3 }]), { start: 10, end: 23 });
    assert.deepEqual(shiftRange(r, [{ offset: 2, length: 2, inserted: 5 }]), { start: 13, end: 23 });
    assert.deepEqual(shiftRange(r, [{ offset: 25, length: 3, inserted: 0 }]), r);
    assert.deepEqual(shiftRange(r, [{ offset: 20, length: 0, inserted: 4 }]), r);
    assert.deepEqual(shiftRange(r, [{ offset: 10, length: 0, inserted: 4 }]), { start: 14, end: 24 });
    assert.deepEqual(shiftRange(r, [{ offset: 5, length: 10, inserted: 1 }]), { start: 5, end: 11 });
    assert.deepEqual(shiftRange(r, [{ offset: 15, length: 10, inserted: 2 }]), { start: 10, end: 17 });
    assert.deepEqual(shiftRange(r, [{ offset: 0, length: 30, inserted: 0 }]), { start: 0, end: 0 });
  });
});

describe('colours and hover', () => {
  const text = 'the licensor grants you a license';
  const tokens = tokenizer.encode(text);
  const window = fakeWindow(text, tokens);
  const placed = placeTokens([window], 0);

  test('levels split |value| / max into five equal bands; relevance is signed, gate openness absolute', () => {
    const rel = colorScale(placed, 'relevance', { layer: 0, offset: 1 });
    const max = Math.max(...placed.map((p) => Math.abs(tokenQuantity(window, p.position, 'relevance', { layer: 0, offset: 1 })!)));
    assert.equal(rel.scale, max);
    assert.deepEqual(colorOf(max, rel), { ramp: 'high', level: 5 });
    assert.deepEqual(colorOf(-max, rel), { ramp: 'low', level: 5 });
    assert.deepEqual(colorOf(0.2 * max, rel), { ramp: 'high', level: 1 });
    assert.deepEqual(colorOf(0.2 * max * 1.0001, rel), { ramp: 'high', level: 2 });
    assert.deepEqual(colorOf(0, rel), { ramp: 'high', level: 1 });
    assert.equal(colorOf(null, rel), null);
    const gate = colorScale(placed, 'gate', { layer: 0, offset: 1 });
    assert.equal(gate.scale, 1);
    assert.deepEqual(colorOf(0.5, gate), { ramp: 'high', level: 3 });
    const loss = colorScale(placed, 'loss', { layer: 0, offset: 1 });
    assert.deepEqual(colorOf(-loss.scale, loss), { ramp: 'high', level: 5 }, 'unsigned quantities use one ramp');
    const rows = legendRows(rel);
    assert.equal(rows.length, 10);
    assert.deepEqual(rows[0], { color: { ramp: 'high', level: 5 }, range: `${formatValue(0.8 * max)} … ${formatValue(max)}` });
    assert.deepEqual(rows[5], { color: { ramp: 'low', level: 1 }, range: `−${formatValue(0.2 * max)} … 0` });
    assert.equal(legendRows(loss).length, 5);
    assert.equal(colorId({ ramp: 'low', level: 2 }), 'grassmannLens.tokenLow.light');
  });

  test('package.json contributes exactly the colour ids the decorations use, with a default for every theme kind', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
    const colors = manifest.contributes.colors as { id: string; defaults: Record<string, string> }[];
    assert.deepEqual(colors.map((c) => c.id).sort(), [...TOKEN_COLOR_IDS].sort());
    for (const c of colors) assert.deepEqual(Object.keys(c.defaults).sort(), ['dark', 'highContrast', 'highContrastLight', 'light']);
    // The legend's swatches name the colours as CSS variables, which the hover sanitizer allows only with letters and dashes.
    for (const id of TOKEN_COLOR_IDS) assert.match(`--vscode-${id.replace(/\./g, '-')}`, /^--vscode(-[a-zA-Z]+)+$/);
  });

  test('numbers are written with 4 significant digits', () => {
    assert.equal(formatValue(0.123456), '0.1235');
    assert.equal(formatValue(-12.3456), '-12.35');
    assert.equal(formatValue(0.000123456), '1.235e-4');
    assert.equal(formatValue(123456), '1.235e+5');
    assert.equal(formatValue(0), '0');
    assert.equal(formatValue(null), '—');
  });

  test('the hover names the token, its window, its relevance and loss, and a row per layer', () => {
    const licensor = placed.find((p) => window.tokens[p.position].text === 'licensor') ?? placed[1];
    const md = hoverMarkdown(licensor, { checkpoint: MODEL, checkpointName: 'model.safetensors', choice: { layer: 0, offset: 1 }, nearestProblem: null, revealLink: () => 'command:x', stale: false });
    const t = licensor.position;
    assert.match(md, new RegExp(`id ${window.tokens[t].id} · position ${t}`));
    assert.match(md, /window 1 of 1, text tokens 0–\d+/);
    assert.ok(md.includes(`relevance **${formatValue(window.relevance!.tokens[t] + 0.5)}**`));
    assert.ok(md.includes(`loss ${formatValue(t)} nats`));
    assert.ok(md.includes(`| 0 | ${formatValue(window.layers[0].alphaMean[t])} | ${formatValue(t / 10)} |`));
    assert.ok(md.includes('[Open in checkpoint view](command:x)'));
  });
});

describe('the textAnalysis operation (cpu backend)', () => {
  let cache: AnalysisCache;
  let analyses: TextAnalyses;
  before(async () => {
    await tf.setBackend('cpu');
    cache = new AnalysisCache();
    analyses = new TextAnalyses(cache);
  });
  after(async () => {
    await cache.dispose();
  });

  // About 300 tokens of held-out text: three windows.
  const text = evalText.slice(0, 1400);

  test('each window equals features, relevance, loss and nearest planes of the window text, as the CLI computes them', async () => {
    const pieces: TextAnalysisPiece[] = [];
    const started = performance.now();
    const result = await analyses.analyze({ path: MODEL, text, layer: 1, offset: 2, metric: 'chordal', neighbours: 4 }, { cancelled: false, progress: () => undefined, partial: (d) => pieces.push(d as TextAnalysisPiece) });
    const ms = performance.now() - started;
    assert.equal(result.windows.length, 3);
    assert.equal(pieces.length, 3);
    assert.equal(result.nearestProblem, null);
    assert.deepEqual(result.nearest, { layer: 1, offset: 2, metric: 'chordal', neighbours: 4 });
    const total = result.windows.reduce((n, w) => n + w.tokenCount, 0);
    console.log(`textAnalysis of ${total} tokens in ${result.windows.length} windows: ${ms.toFixed(0)} ms on cpu (${result.windows.map((w) => w.ms.toFixed(0)).join(' + ')} ms)`);
    for (const w of result.windows) {
      const windowText = text.slice(w.start, w.end);
      const features = await featuresOfText(MODEL, { text: windowText });
      assert.deepEqual(w.tokens.map((t) => ({ text: t.text, id: t.id, start: t.start - w.start, end: t.end - w.start })), features.tokens);
      for (const layer of features.layers) {
        assert.deepEqual(w.layers[layer.layer].alphaMean, layer.alphaMean);
        assert.deepEqual(w.layers[layer.layer].offsets, layer.offsets.map(({ offset, positions, area, degenerate, share }) => ({ offset, positions, area, degenerate, share })));
      }
      const relevance = await relevanceOfText(MODEL, { text: windowText });
      assert.deepEqual(w.relevance!.tokens, relevance.tokens);
      assert.deepEqual(w.relevance!.positionEmbedding, relevance.positionEmbedding);
      const run = await cache.analyze({ path: MODEL, text: windowText });
      assert.deepEqual(w.loss, run.run.loss);
      for (const t of [2, 5, w.tokens.length - 1]) {
        const nearest = await cache.nearest({ path: MODEL, text: windowText, layer: 1, offset: 2, position: t, k: 4, metric: 'chordal' });
        assert.deepEqual(w.nearest!.neighbours[t], nearest);
      }
      assert.equal(w.nearest!.neighbours[1], null, 'position 1 has no plane at d=2');
    }
  });

  test('an edit re-runs only the windows whose text changed', async () => {
    const first = await analyses.analyze({ path: MODEL, text });
    const edited = text.slice(0, first.windows[2].start) + 'the licensor ' + text.slice(first.windows[2].start);
    const again = await analyses.analyze({ path: MODEL, text: edited });
    assert.deepEqual(again.windows.map((w) => w.cached), [true, true, false]);
    assert.deepEqual(again.windows[0].layers, first.windows[0].layers);
  });

  test('maxWindows analyses the first windows only, the same as without the limit, and says how many the text has', async () => {
    const all = await analyses.analyze({ path: MODEL, text });
    const two = await analyses.analyze({ path: MODEL, text, maxWindows: 2 });
    assert.equal(all.windowCount, 3);
    assert.equal(two.windowCount, 3);
    assert.equal(two.windows.length, 2);
    assert.deepEqual(two.windows.map((w) => [w.index, w.count, w.start, w.end]), all.windows.slice(0, 2).map((w) => [w.index, w.count, w.start, w.end]));
    assert.deepEqual(two.windows[1].relevance, all.windows[1].relevance);
    assert.ok(two.warnings.some((w) => w.includes(`only the first 2 of the 3 windows are analysed (up to character ${all.windows[1].end} of ${text.length})`)), two.warnings.join('; '));
  });

  test('a layer or offset the model lacks leaves the nearest planes out and says why', async () => {
    const short = 'the licensor grants you a license';
    const bad = await analyses.analyze({ path: MODEL, text: short, layer: 9 });
    assert.match(bad.nearestProblem!, /layer 9 does not exist: the model has 4 layers/);
    assert.equal(bad.windows[0].nearest, null);
    const offset = await analyses.analyze({ path: MODEL, text: short, layer: 0, offset: 3 });
    assert.match(offset.nearestProblem!, /offset 3 is not in layer 0's window list \(\[1, 2, 4, 8, 12, 16\]\)/);
    const long = await analyses.analyze({ path: MODEL, text: short, layer: 0, offset: 16 });
    assert.equal(long.nearestProblem, null);
    assert.equal(long.windows[0].nearest, null, 'a 9-token window has no planes at d=16');
  });

  test('cancelled after the first window, it stops before the next', async () => {
    const control = { cancelled: false, progress: () => undefined, partial: () => { control.cancelled = true; } };
    await assert.rejects(analyses.analyze({ path: MODEL, text: text + ' once more' }, control), OperationCancelled);
  });

  test('a whitespace-only text has no windows', async () => {
    const result = await analyses.analyze({ path: MODEL, text: ' \n ' });
    assert.deepEqual(result.windows, []);
  });
});
