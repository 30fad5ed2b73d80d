/**
 * Untrusted text on its way to a terminal, a Markdown hover or the disk (issue 13, item 4):
 * src/util/safeText.ts and src/util/exportMessage.ts, and the text-analysis hover built with them.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonTerminalSafe, markdownCode, markdownText, notificationText, safeFileName, terminalSafe, terminalSafeLines } from '../../src/util/safeText';
import { checkExportMessage, MAX_EXPORT_CHARS } from '../../src/util/exportMessage';
import { hoverMarkdown, type PlacedToken } from '../../src/extension/textTokens';
import type { TextWindowAnalysis } from '../../src/core/textAnalysis';

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('terminalSafe', () => {
  test('control characters and ANSI escapes are shown escaped, on one line', () => {
    assert.equal(terminalSafe('a\nb'), 'a\\nb');
    assert.equal(terminalSafe('\u001b[31mred\u001b[0m'), '\\x1b[31mred\\x1b[0m');
    assert.equal(terminalSafe('tab\there\r'), 'tab\\there\\r');
    assert.equal(terminalSafe('\u0000\u0007\u007f\u009b'), '\\x00\\x07\\x7f\\x9b');
    assert.equal(terminalSafe('\u202eexe.txt'), '\\u202eexe.txt');
    assert.equal(terminalSafe('ñ日本語🙂 plain'), 'ñ日本語🙂 plain');
    for (const s of ['\u001b]0;title\u0007', 'x\u2028y', '\u0085', '\r\n\r\n']) assert.ok(!RAW_CONTROL.test(terminalSafe(s)), s);
  });

  test('long text is cut with a note of how much, cheaply', () => {
    const big = 'x'.repeat(20_000_000);
    const t0 = Date.now();
    const s = terminalSafe(big, 100);
    assert.ok(Date.now() - t0 < 500);
    assert.ok(s.length < 200, s);
    assert.match(s, /^x{100}… \(19,999,900\+ more characters cut\)$/);
    assert.ok(terminalSafe('\n'.repeat(1000), 50).length < 100);
    // never cut inside a surrogate pair
    assert.ok(!/[\ud800-\udbff]…/.test(terminalSafe('a🙂🙂🙂', 2)));
  });

  test('reports keep their own lines; JSON stays valid', () => {
    assert.equal(terminalSafeLines('one\ntwo\u001b[2J'), 'one\ntwo\\x1b[2J');
    const json = jsonTerminalSafe(JSON.stringify({ name: '\u001b\u009b\u202e\n' }));
    assert.ok(!RAW_CONTROL.test(json));
    assert.deepEqual(JSON.parse(json), { name: '\u001b\u009b\u202e\n' });
  });
});

describe('Markdown escaping', () => {
  const hostile = [
    '`', '``', '` [x](command:workbench.action.quit) `', '[click](command:grassmannLens.clearTextAnalysis)',
    '![img](https://evil.example/x.png)', '<img src=x onerror=alert(1)>', '<a href="command:x">a</a>', '**bold** _em_',
    '\n\n# heading\n\n[x](command:y)', '&lt;script&gt;', '\\`escaped\\`', ' leading and trailing ', '``` fence', '|table|cell|',
    '<command:x>', 'http://evil.example', '\u001b[31m',
  ];

  test('markdownText leaves no live link, image, HTML, code span or line break', () => {
    for (const h of hostile) {
      const m = markdownText(h);
      assert.ok(!m.includes('\n'), m);
      assert.ok(!/(^|[^\\])[[\]()<>`!&]/.test(m), `unescaped: ${m}`);
      assert.ok(!RAW_CONTROL.test(m));
    }
  });

  test('markdownCode: the fence outlasts every backtick run, the text is inert and one line', () => {
    for (const h of hostile) {
      const m = markdownCode(h);
      assert.ok(!m.includes('\n'), m);
      const fence = /^`+/.exec(m)![0];
      const inner = m.slice(fence.length, m.length - fence.length);
      assert.ok(m.endsWith(fence));
      for (const run of inner.match(/`+/g) ?? []) assert.ok(run.length < fence.length, `${m}: a run of ${run.length} closes the span`);
    }
    assert.equal(markdownCode('licensor'), '`licensor`');
    assert.equal(markdownCode('a`b'), '`` a`b ``');
    assert.ok(markdownCode('x'.repeat(10_000)).length < 400);
  });

  test('the hover escapes hostile token texts, the checkpoint name and the nearest-planes problem', () => {
    const texts = ['`` ]](command:workbench.action.quit) ``', '![x](https://e/x.png)', '<img src=x onerror=alert(1)>', '\n\n[a](command:b)\n\n', 'ok'];
    const window = {
      index: 0, count: 1, firstToken: 0, start: 0, end: 10,
      tokens: texts.map((text, i) => ({ id: i, text, start: i, end: i + 1, special: false })),
      layers: [{ layer: 0, alphaMean: texts.map(() => 0.5), offsets: [] }],
      relevance: null, loss: texts.map(() => 1),
      nearest: { layer: 0, offset: 1, metric: 'geodesic', neighbours: texts.map((_, i) => [{ position: (i + 1) % texts.length, distance: 0.1 }]) },
    } as unknown as TextWindowAnalysis;
    for (let position = 0; position < texts.length; position++) {
      const token: PlacedToken = { start: position, end: position + 1, window, position };
      const md = hoverMarkdown(token, {
        checkpoint: '/x', checkpointName: '[evil](command:workbench.action.quit).pt', choice: { layer: 0, offset: 1 },
        nearestProblem: null, revealLink: () => 'command:grassmannLens.revealToken?%5B%5D', stale: false,
      });
      // The one link is ours; nothing else forms a link, image or HTML.
      // Code spans are literal: take them out, then count what could still be a link.
      const live = md.replace(/(?<!`)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, '');
      const links = live.match(/\]\((?:command|https?):/g) ?? [];
      assert.equal(links.length, 1, md);
      assert.ok(md.includes('[Open in checkpoint view](command:grassmannLens.revealToken?%5B%5D) · window 1 of 1'), md);
      assert.ok(!/<img|<a /.test(live), md);
      const withProblem = hoverMarkdown(token, {
        checkpoint: '/x', checkpointName: 'm.pt', choice: { layer: 0, offset: 1 }, nearestProblem: '<img src=x> [a](command:b)', stale: false,
      });
      const liveProblem = withProblem.replace(/(?<!`)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, '');
      assert.ok(!/\]\(command:/.test(liveProblem), liveProblem);
      assert.ok(!/(^|[^\\])<img/.test(liveProblem), liveProblem);
    }
  });
});

describe('the export message of a webview (checked on the host)', () => {
  const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]).toString('base64');
  test('valid exports pass with a bare, safe file name', () => {
    const ok = checkExportMessage({ type: 'export', filename: 'plucker-layer0.svg', format: 'svg', content: '<svg xmlns="http://www.w3.org/2000/svg"></svg>' });
    assert.ok(!('problem' in ok));
    assert.equal(ok.filename, 'plucker-layer0.svg');
    const png = checkExportMessage({ filename: 'chart', format: 'png', content: PNG });
    assert.ok(!('problem' in png) && png.bytes[0] === 0x89 && png.filename === 'chart.png');
    const csv = checkExportMessage({ filename: 'table.csv', format: 'csv', content: 'a,b\n1,2\n' });
    assert.ok(!('problem' in csv) && csv.bytes.toString() === 'a,b\n1,2\n');
  });

  test('wrong types, formats, sizes and contents are refused', () => {
    const bad: unknown[] = [
      null, 'export', {}, { filename: 'a', format: 'exe', content: '' }, { filename: 'a', format: 'svg', content: 42 },
      { filename: 42, format: 'csv', content: '' }, { filename: '', format: 'csv', content: '' }, { filename: 'x'.repeat(2000), format: 'csv', content: '' },
      { filename: 'a', format: 'png', content: 'not base64!!' }, { filename: 'a', format: 'png', content: Buffer.from('GIF89a').toString('base64') },
      { filename: 'a', format: 'svg', content: '<script>alert(1)</script>' }, { filename: 'a', format: ['svg'], content: '' },
      { filename: 'a', format: 'csv', content: 'x'.repeat(MAX_EXPORT_CHARS + 1) }, { filename: 'a', format: 'toString', content: '' },
    ];
    for (const m of bad) assert.ok('problem' in checkExportMessage(m), JSON.stringify(m)?.slice(0, 100));
  });

  test('file names cannot leave the folder or hide', () => {
    for (const [name, want] of [
      ['../../.bashrc', 'export.csv'], ['../../evil.sh', 'evil.csv'], ['/etc/passwd', 'passwd.csv'], ['..\\..\\x.csv', 'x.csv'], ['a\nb.csv', 'a_b.csv'],
      ['.hidden', 'export.csv'], ['.x.tar.csv', 'x.tar.csv'], ['...', 'export.csv'], ['evil.sh', 'evil.csv'], ['日本.csv', 'export.csv'], ['a/b/c.d.e.csv', 'c.d.e.csv'],
    ] as const) {
      assert.equal(safeFileName(name, 'csv'), want, name);
    }
    assert.ok(safeFileName('x'.repeat(5000), 'csv').length <= 124);
  });
});

test('notificationText breaks the link syntax VS Code notifications render', () => {
  const n = notificationText("tensor '[Run](command:workbench.action.terminal.new)' and [x] (https://e) and\n\u001b[2J");
  assert.ok(!/\]\(/.test(n), n);
  assert.ok(!RAW_CONTROL.test(n));
});

describe('the CLI prints what comes from a file escaped and bounded (dist/cli.js)', () => {
  const cli = join(__dirname, '..', '..', 'dist', 'cli.js');
  const safetensors = (header: object, data = 0): Buffer => {
    const h = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([len, h, Buffer.alloc(data)]);
  };
  const gl = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 256 << 20 });

  test('tensor names and metadata with escapes, newlines and 2 MB of text: escaped, every line bounded', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gl-safe-'));
    try {
      const file = join(dir, 'names.safetensors');
      const long = 'n'.repeat(2_000_000);
      writeFileSync(file, safetensors({
        __metadata__: { '\u001b]0;pwned\u0007': 'a\nfake line', note: long },
        '\u001b[2J\u001b[31mred': { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        ['x\nwarning       forged']: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        [long]: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      }, 12));
      const r = gl('inspect', file);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(!RAW_CONTROL.test(r.stdout.replace(/\n/g, '')), 'a raw control character reached stdout');
      assert.ok(r.stdout.includes('\\x1b[2J\\x1b[31mred'), r.stdout.slice(0, 2000));
      assert.ok(!/^warning\s+forged/m.test(r.stdout.replace(/^\s+/gm, '')), 'a name forged a line of the report');
      for (const line of r.stdout.split('\n')) assert.ok(line.length < 2200, `a line of ${line.length} characters`);
      const j = gl('inspect', file, '--json');
      assert.equal(j.status, 0, j.stderr);
      assert.ok(!RAW_CONTROL.test(j.stdout.replace(/\n/g, '')));
      assert.ok(JSON.parse(j.stdout).tensors.some((t: { name: string }) => t.name === long), 'JSON keeps the exact names');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an InputError quoting a hostile dtype is one escaped line on stderr', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gl-safe-'));
    try {
      const file = join(dir, 'dtype.safetensors');
      writeFileSync(file, safetensors({ w: { dtype: `\u001b[31mQ7\nsecond line${'d'.repeat(100_000)}`, shape: [1], data_offsets: [0, 4] } }, 4));
      const r = gl('inspect', file);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr.slice(0, 500));
      assert.ok(!RAW_CONTROL.test(r.stderr.trimEnd()));
      assert.ok(r.stderr.length < 2200, `${r.stderr.length} characters`);
      assert.match(r.stderr, /^grassmann-lens: .*dtype\.safetensors/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
