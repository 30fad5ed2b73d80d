/**
 * The webviews' one number formatter and token-quoting rule (webview/format.ts), and the axis
 * label plans (webview/ticks.ts): which labels a category axis shows, cut and turned, at 128 and
 * 1024 categories. Both modules import without a DOM.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAngle, formatNumber, formatPercent, formatProbability, formatSeconds, formatSetting, quoteToken, tokenAt, tokenLabel, tokenList } from '../../webview/format';
import { boxesOverlap, estimateWidth, LABEL_HEIGHT, niceStep, planAxisLabels, truncateLabel } from '../../webview/ticks';

describe('formatNumber', () => {
  test('4 significant digits, trailing zeros dropped', () => {
    assert.equal(formatNumber(3.6884889602661133), '3.688');
    assert.equal(formatNumber(403.35123), '403.4');
    assert.equal(formatNumber(0.25), '0.25');
    assert.equal(formatNumber(2), '2');
    assert.equal(formatNumber(0.0012346), '0.001235');
    assert.equal(formatNumber(12345.6), '12346');
    assert.equal(formatNumber(0), '0');
  });
  test('exponent form below 1e-3 and from 1e6 on; one spelling of ε', () => {
    assert.equal(formatNumber(1e-6), '1e-6');
    assert.equal(formatNumber(0.000001), '1e-6');
    assert.equal(formatNumber(1.2345e-7), '1.235e-7');
    assert.equal(formatNumber(-2.5e-7), '\u22122.5e-7');
    assert.equal(formatNumber(15_000_000), '1.5e7');
    assert.equal(formatSetting('ε', 1e-6), 'ε = 1e-6');
    assert.equal(formatSetting('γ', 0.25), 'γ = 0.25');
  });
  test('negative numbers take the minus sign −; absent and non-finite values', () => {
    assert.equal(formatNumber(-25.42), '\u221225.42');
    assert.equal(formatNumber(-0.5), '\u22120.5');
    assert.equal(formatNumber(null), '—');
    assert.equal(formatNumber(undefined), '—');
    assert.equal(formatNumber(Number.NaN), 'NaN');
    assert.equal(formatNumber(-Infinity), '\u2212∞');
  });
  test('fewer digits on request (axis ticks: 3)', () => {
    assert.equal(formatNumber(0.123456, 3), '0.123');
    assert.equal(formatNumber(1.5, 3), '1.5');
  });
  test('percentages, probabilities, angles, seconds', () => {
    assert.equal(formatPercent(1.063), '106%');
    assert.equal(formatPercent(0.976), '97.6%');
    assert.equal(formatPercent(0.0221), '2.21%');
    assert.equal(formatPercent(-0.0634), '\u22126.34%');
    assert.equal(formatPercent(0.1234, 4), '12.34%');
    assert.equal(formatPercent(0), '0%');
    assert.equal(formatProbability(0.862), '86.2%');
    assert.equal(formatProbability(0.022), '2.2%');
    assert.equal(formatProbability(0.0001), '<0.1%');
    assert.equal(formatAngle(Math.PI / 4), '0.7854 rad (45°)');
    assert.equal(formatAngle(0.12345), '0.1235 rad (7.07°)');
    assert.equal(formatSeconds(0.4213), '0.421 s');
    assert.equal(formatSeconds(12.34), '12.3 s');
  });
});

describe('quoteToken', () => {
  test('a token between ‹ ›, whitespace visible, punctuation unambiguous in a list', () => {
    assert.equal(quoteToken(','), '‹,›');
    assert.equal(quoteToken('##9'), '‹##9›');
    assert.equal(quoteToken(' the'), '‹␣the›');
    assert.equal(quoteToken('a\tb\n'), '‹a⇥b↵›');
    assert.equal(quoteToken('\r\n'), '‹↵›');
    assert.equal(quoteToken(''), '‹›');
    assert.equal(tokenAt(',', 7), '‹,›@7');
    assert.equal(tokenLabel('software', 15), '15 ‹software›');
    assert.equal(tokenList([{ token: 'of', value: '32.3%' }, { token: ',', value: '2.2%' }]), '‹of› 32.3%, ‹,› 2.2%');
  });
});

/** Character-count widths (7 px a character), so the expectations below can be worked out by hand. */
const mono = (s: string): number => [...s].length * 7;

/** The boxes of the shown labels along a bottom axis of `slot` px per category, as the chart draws them. */
function boxes(plan: ReturnType<typeof planAxisLabels>, slot: number, measure: (s: string) => number) {
  return plan.indices.map((k, n) => {
    const cx = (k + 0.5) * slot;
    const w = measure(plan.labels[n]);
    return plan.rotated
      ? { left: cx - LABEL_HEIGHT / 2, right: cx + LABEL_HEIGHT / 2, top: 9, bottom: 9 + w }
      : { left: cx - w / 2, right: cx + w / 2, top: 9, bottom: 9 + LABEL_HEIGHT };
  });
}

function assertNoOverlap(b: ReturnType<typeof boxes>, what: string): number {
  let minGap = Infinity;
  for (let i = 1; i < b.length; i++) {
    assert.ok(!boxesOverlap(b[i - 1], b[i]), `${what}: labels ${i - 1} and ${i} overlap`);
    minGap = Math.min(minGap, b[i].left - b[i - 1].right);
  }
  return minGap;
}

describe('planAxisLabels', () => {
  const tokens = (n: number) => Array.from({ length: n }, (_, i) => tokenLabel(['the', ',', 'software', 'licensor', '##ne', '2007'][i % 6], i));

  test('niceStep: 1, 2, 5, 10, 20, 50, …', () => {
    assert.deepEqual([0, 1, 2, 3, 6, 11, 21, 51, 120].map(niceStep), [1, 1, 2, 5, 10, 20, 50, 100, 200]);
  });

  test('truncation keeps the longest prefix that fits with "…"', () => {
    assert.deepEqual(truncateLabel('15 ‹software›', 70, mono), { text: '15 ‹softw…', truncated: true });
    assert.equal(mono('15 ‹softw…'), 70);
    assert.deepEqual(truncateLabel('3 ‹,›', 70, mono), { text: '3 ‹,›', truncated: false });
  });

  test('few wide slots: every label, flat', () => {
    const plan = planAxisLabels(tokens(8), { slot: 120, measure: mono, allowRotate: true });
    assert.equal(plan.step, 1);
    assert.equal(plan.rotated, false);
    assert.equal(plan.indices.length, 8);
    assert.equal(plan.depth, LABEL_HEIGHT);
  });

  test('128 tokens over 1440 px: turned labels every 2nd token, no two overlap, the margin is the widest label', () => {
    const slot = 1440 / 128;
    const plan = planAxisLabels(tokens(128), { slot, measure: mono, maxLabel: 110, allowRotate: true });
    // flat: the widest label "124 ‹licensor›" is 98 px → step 10; turned: 13 + 3 px → step 2
    assert.equal(plan.rotated, true);
    assert.equal(plan.step, 2);
    assert.equal(plan.indices.length, 64);
    assert.deepEqual(plan.indices.slice(0, 3), [0, 2, 4]);
    assert.equal(plan.depth, Math.max(...plan.labels.map(mono)));
    const gap = assertNoOverlap(boxes(plan, slot, mono), '128 tokens');
    assert.ok(gap >= 3, `min gap ${gap}`);
  });

  test('1024 tokens over 1440 px: every 20th, no overlap; long tokens are cut and marked', () => {
    const labels = tokens(1024);
    labels[40] = tokenLabel('a-very-long-token-that-cannot-fit-anywhere', 40);
    const slot = 1440 / 1024;
    const plan = planAxisLabels(labels, { slot, measure: mono, maxLabel: 110, allowRotate: true });
    assert.equal(plan.rotated, true);
    assert.equal(plan.step, 20); // (13 + 3) / 1.406 = 11.4 → 20
    assert.equal(plan.indices.length, 52);
    const n40 = plan.indices.indexOf(40);
    assert.equal(plan.truncated[n40], true);
    assert.ok(plan.labels[n40].endsWith('…') && mono(plan.labels[n40]) <= 110, plan.labels[n40]);
    assert.equal(plan.truncated.filter(Boolean).length, 1);
    assertNoOverlap(boxes(plan, slot, mono), '1024 tokens');
  });

  test('1024 labels with the width estimate (no canvas) and no rotation: flat labels, still apart', () => {
    const labels = tokens(1024);
    const slot = 1400 / 1024;
    const plan = planAxisLabels(labels, { slot, maxLabel: 110 });
    assert.equal(plan.rotated, false);
    const b = boxes(plan, slot, (s) => estimateWidth(s));
    assertNoOverlap(b, '1024 flat');
    assert.ok(plan.indices.length >= 10, `${plan.indices.length} labels`);
  });

  test('rows of a heatmap (a left axis): one line height each, 128 rows in 600 px → every 5th', () => {
    const plan = planAxisLabels(tokens(128), { slot: 600 / 128, measure: mono, vertical: true });
    assert.equal(plan.step, 5); // (13 + 3) / 4.69 = 3.4 → 5
    assert.equal(plan.rotated, false);
    assert.equal(plan.depth, Math.max(...plan.labels.map(mono)));
  });

  test('FFN neurons: 256 labels "#k" over 1400 px', () => {
    const labels = Array.from({ length: 256 }, (_, k) => `#${k}`);
    const slot = 1400 / 256;
    const plan = planAxisLabels(labels, { slot, measure: mono, allowRotate: true });
    // flat "#255" is 28 px → step 10 (31 / 5.47 = 5.7); turned 16 / 5.47 = 2.9 → 5
    assert.equal(plan.rotated, true);
    assert.equal(plan.step, 5);
    assertNoOverlap(boxes(plan, slot, mono), '256 neurons');
  });
});
