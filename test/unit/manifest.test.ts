/**
 * package.json as VS Code reads it (issue 15): activation events, the Command Palette's when
 * clauses and the context keys behind them, the checkpoint editor's title actions, the walkthrough
 * and what the .vsix ships.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
interface Command { command: string; title: string; icon?: string }
interface MenuItem { command: string; when?: string; group?: string }
interface Step { id: string; title: string; description: string; media: { markdown?: string; image?: string }; completionEvents?: string[] }
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  icon: string;
  repository: { url: string };
  activationEvents: string[];
  scripts: Record<string, string>;
  contributes: {
    commands: Command[];
    menus: Record<string, MenuItem[]>;
    walkthroughs: { id: string; title: string; steps: Step[] }[];
  };
};
const source = (file: string) => readFileSync(join(root, 'src', 'extension', file), 'utf8');
const palette = new Map(pkg.contributes.menus.commandPalette.map((m) => [m.command, m.when]));

describe('package.json', () => {
  it('activates on Python files (the torch.save CodeLens), checkpoints and its editors, not on startup', () => {
    assert.ok(pkg.activationEvents.includes('onLanguage:python'));
    assert.ok(pkg.activationEvents.includes('onCustomEditor:grassmannLens.checkpoint'));
    assert.ok(!pkg.activationEvents.includes('*') && !pkg.activationEvents.includes('onStartupFinished'));
  });

  it('offers the text analysis commands only while a text is bound; the keys are set by the extension', () => {
    assert.equal(palette.get('grassmannLens.toggleTokenColors'), 'grassmannLens.textBound');
    assert.equal(palette.get('grassmannLens.colorTokensBy'), 'grassmannLens.textBound');
    assert.equal(palette.get('grassmannLens.clearTextAnalysis'), 'grassmannLens.activeTextBound');
    assert.equal(palette.get('grassmannLens.stopWatchingRun'), 'grassmannLens.watchingRun');
    const text = source('textAnalysis.ts');
    assert.match(text, /setContext\('grassmannLens\.textBound'/);
    assert.match(text, /setContext\('grassmannLens\.activeTextBound'/);
    assert.match(source('runs.ts'), /'setContext', 'grassmannLens\.watchingRun'/);
  });

  it('every menu entry names a contributed command; palette entries have a when clause', () => {
    const commands = new Set(pkg.contributes.commands.map((c) => c.command));
    for (const [menu, items] of Object.entries(pkg.contributes.menus)) {
      for (const item of items) {
        assert.ok(commands.has(item.command), `${menu}: ${item.command} is contributed`);
        if (menu === 'commandPalette') assert.ok(item.when, `${item.command} has a when clause`);
      }
    }
  });

  it('the checkpoint editor has title actions; those in its title bar have codicons', () => {
    const title = pkg.contributes.menus['editor/title'];
    assert.ok(title.length >= 2);
    for (const item of title) {
      assert.match(item.when ?? '', /activeCustomEditorId == grassmannLens\.checkpoint\b/);
      if (item.group?.startsWith('navigation')) {
        const command = pkg.contributes.commands.find((c) => c.command === item.command);
        assert.match(command?.icon ?? '', /^\$\([a-z-]+\)$/, `${item.command} has an icon`);
      }
    }
  });

  it('the walkthrough opens the bundled example checkpoint; every step page exists', () => {
    const [walkthrough] = pkg.contributes.walkthroughs;
    assert.equal(walkthrough.id, 'gettingStarted');
    const first = walkthrough.steps[0];
    assert.match(first.description, /\(command:grassmannLens\.openExample\)/);
    assert.deepEqual(first.completionEvents, ['onCommand:grassmannLens.openExample']);
    for (const step of walkthrough.steps) assert.ok(existsSync(join(root, step.media.markdown ?? step.media.image ?? '')), step.id);
    assert.match(source('commands.ts'), /EXAMPLE_CHECKPOINT = \['media', 'example', 'model\.safetensors'\]/);
    for (const f of ['model.safetensors', 'config.json', 'tokenizer.json']) assert.ok(existsSync(join(root, 'media', 'example', f)), f);
  });

  it('has an icon and a repository; the .vsix ships media/ and not the CLI', () => {
    const png = readFileSync(join(root, pkg.icon));
    assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
    assert.ok([128, 256].includes(png.readUInt32BE(16)) && png.readUInt32BE(16) === png.readUInt32BE(20), 'square 128 or 256');
    assert.match(pkg.repository.url, /^https:\/\/github\.com\//);
    assert.ok(!pkg.scripts.package.includes('--allow-missing-repository'));
    const ignore = readFileSync(join(root, '.vscodeignore'), 'utf8').split('\n');
    assert.ok(ignore.includes('!media/**'));
    assert.ok(!ignore.includes('!dist/cli.js'));
  });
});
