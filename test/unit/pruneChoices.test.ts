/**
 * The pruning choices (src/pruning/choices.ts): one copy of the defaults and of which criteria
 * apply to which units, shared by the CLI's sweep and the extension's quick picks, and the
 * settings' defaults in package.json agree with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CRITERION_CHOICES, DEFAULT_PRUNE, criteriaChoices, criterionApplies, defaultCriteria, formatRates, modeChoices, parseRates, UNIT_CHOICES } from '../../src/pruning/choices';
import { PRUNE_CRITERIA, PRUNE_UNITS } from '../../src/relevance/types';
import { checkPruneParams } from '../../src/pruning/sweep';

const root = resolve(__dirname, '..', '..');

test('every criterion and unit kind is offered once', () => {
  assert.deepEqual(CRITERION_CHOICES.map((c) => c.id).sort(), [...PRUNE_CRITERIA].sort());
  assert.deepEqual(UNIT_CHOICES.map((u) => u.id), [...PRUNE_UNITS]);
});

test('the flow offers what the sweep accepts and preselects what the sweep runs by default', () => {
  for (const units of PRUNE_UNITS) {
    const { offered, selected } = criteriaChoices(units);
    assert.deepEqual(selected, defaultCriteria(units));
    for (const id of selected) assert.ok(offered.some((c) => c.id === id), `${units}: ${id} preselected but not offered`);
    for (const c of CRITERION_CHOICES) {
      const accepted = (() => {
        try {
          checkPruneParams({ checkpoint: 'x.pt', data: 'x.txt', units, criteria: [c.id], mode: 'structural' });
          return true;
        } catch {
          return false;
        }
      })();
      assert.equal(offered.some((o) => o.id === c.id), accepted, `${units} / ${c.id}`);
      assert.equal(criterionApplies(c.id, units) === null, accepted);
    }
  }
  assert.deepEqual(criteriaChoices('windows').selected, ['lrp', 'gradient', 'taylor']);
  assert.deepEqual(criteriaChoices('windows').offered.map((c) => c.id), ['lrp', 'lrp-signed', 'taylor', 'taylor-logit', 'gradient', 'random']);
  assert.deepEqual(modeChoices('windows'), ['structural']);
  assert.deepEqual(modeChoices('ffn'), ['structural', 'mask']);
});

test('rates: the default shown, parsed back; bad rates named', () => {
  assert.equal(formatRates(DEFAULT_PRUNE.rates), '0.1, 0.3, 0.5');
  assert.deepEqual(parseRates(formatRates(DEFAULT_PRUNE.rates)), { rates: [0.1, 0.3, 0.5] });
  assert.deepEqual(parseRates('0.5 0.1;0.5'), { rates: [0.1, 0.5] });
  assert.deepEqual(parseRates(''), { error: 'Enter at least one rate, e.g. 0.1, 0.3, 0.5' });
  assert.deepEqual(parseRates('0.2, x'), { error: '"x" is not a number' });
  assert.match(parseRates('1').error!, /rate 1 must be between 0 and 1/);
});

test('the settings default to the sweep\'s defaults', () => {
  const props = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).contributes.configuration.properties;
  assert.equal(props['grassmannLens.prune.referenceSamples'].default, DEFAULT_PRUNE.referenceSamples);
  assert.equal(props['grassmannLens.prune.bootstrapResamples'].default, DEFAULT_PRUNE.bootstrap);
});
