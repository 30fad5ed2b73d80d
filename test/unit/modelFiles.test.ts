/**
 * Choose Config… / Choose Tokenizer… (src/util/modelFiles.ts, src/tokenizer/find.ts): the
 * precedence of a choice over the setting over discovery, the setting's checks, and an explicit
 * tokenizer given as a file, a folder, or a Hugging Face cache entry — on the fixture's tokenizer,
 * which must then encode exactly as the one found beside the checkpoint.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { cachedTokenizers, findTokenizer } from '../../src/tokenizer';
import { modelFilesOf, readModelFilesSetting, withChoice } from '../../src/util/modelFiles';
import { isInputError } from '../../src/util/errors';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const dir = mkdtempSync(join(tmpdir(), 'gl-model-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a choice made in VS Code wins over the setting, which wins over discovery, per file kind', () => {
  const root = '/work/space';
  const { entries, problems } = readModelFilesSetting({
    'runs/best.pt': { config: 'configs/small.json', tokenizer: '/abs/vocab.txt' },
    '/elsewhere/a.pt': { tokenizer: 'tok' },
  }, root);
  assert.deepEqual(problems, []);
  assert.deepEqual(entries, {
    [resolve('/work/space/runs/best.pt')]: { config: resolve('/work/space/configs/small.json'), tokenizer: resolve('/abs/vocab.txt') },
    [resolve('/elsewhere/a.pt')]: { tokenizer: resolve('/work/space/tok') },
  });
  let chosen = withChoice({}, '/work/space/runs/./best.pt', 'tokenizer', '/mine/tokenizer.json');
  assert.deepEqual(modelFilesOf('/work/space/runs/best.pt', chosen, entries), {
    files: { config: resolve('/work/space/configs/small.json'), tokenizer: resolve('/mine/tokenizer.json') },
    origin: { config: 'setting', tokenizer: 'chosen' },
  });
  assert.deepEqual(modelFilesOf('/other.pt', chosen, entries), { files: {}, origin: { config: 'found', tokenizer: 'found' } });
  // Forgetting the choice falls back to the setting; an entry with nothing left is removed.
  chosen = withChoice(chosen, '/work/space/runs/best.pt', 'tokenizer', undefined);
  assert.deepEqual(chosen, {});
  assert.equal(modelFilesOf('/work/space/runs/best.pt', chosen, entries).origin.tokenizer, 'setting');
});

test('the setting is checked: wrong shapes are reported and not used', () => {
  assert.deepEqual(readModelFilesSetting(undefined, '/w'), { entries: {}, problems: [] });
  assert.deepEqual(readModelFilesSetting(['x'], '/w').problems, ['grassmannLens.modelFiles must be an object of checkpoint path → { "config": …, "tokenizer": … }']);
  const { entries, problems } = readModelFilesSetting({ 'a.pt': 'vocab.txt', 'b.pt': { tokeniser: 'x', config: 3 }, 'c.pt': { config: 'c.json' } }, '/w');
  assert.deepEqual(problems, [
    'grassmannLens.modelFiles["a.pt"] must be an object with "config" and/or "tokenizer"',
    'grassmannLens.modelFiles["b.pt"].tokeniser is not a model file kind (config, tokenizer)',
    'grassmannLens.modelFiles["b.pt"].config must be a path',
  ]);
  assert.deepEqual(entries, { [resolve('/w/b.pt')]: {}, [resolve('/w/c.pt')]: { config: resolve('/w/c.json') } });
});

test('an explicit tokenizer may be a file, a folder holding one, or a Hugging Face cache entry', () => {
  const lonely = join(dir, 'lonely', 'best.pt');
  mkdirSync(join(dir, 'lonely'));
  writeFileSync(lonely, '');
  const text = 'the licensor grants you a worldwide, royalty-free license.';
  const beside = findTokenizer({ checkpointPath: join(FIXTURE, 'model.safetensors') });
  const want = beside.tokenizer.encode(text).map((t) => t.id);
  assert.ok(want.length > 5);

  const folder = join(dir, 'tok');
  mkdirSync(folder);
  copyFileSync(join(FIXTURE, 'vocab.txt'), join(folder, 'vocab.txt'));
  const fromFolder = findTokenizer({ checkpointPath: lonely, explicitPath: folder });
  assert.equal(fromFolder.origin, 'explicit');
  assert.equal(fromFolder.path, join(folder, 'vocab.txt'));
  assert.deepEqual(fromFolder.tokenizer.encode(text).map((t) => t.id), want);

  // A cache entry as huggingface_hub lays it out: models--org--name/{refs/main, snapshots/<rev>/}.
  const hub = join(dir, 'hub');
  const entry = join(hub, 'models--lab--tiny-grassmann');
  mkdirSync(join(entry, 'snapshots', 'abc123'), { recursive: true });
  mkdirSync(join(entry, 'refs'));
  writeFileSync(join(entry, 'refs', 'main'), 'abc123');
  copyFileSync(join(FIXTURE, 'tokenizer.json'), join(entry, 'snapshots', 'abc123', 'tokenizer.json'));
  const fromCache = findTokenizer({ checkpointPath: lonely, explicitPath: entry });
  assert.equal(fromCache.path, join(entry, 'snapshots', 'abc123', 'tokenizer.json'));
  assert.deepEqual(fromCache.tokenizer.encode(text).map((t) => t.id), want);
  assert.deepEqual(cachedTokenizers({ HF_HUB_CACHE: hub }, '/nonexistent-home'), [{ repo: 'lab/tiny-grassmann', file: join(entry, 'snapshots', 'abc123', 'tokenizer.json') }]);

  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.throws(() => findTokenizer({ checkpointPath: lonely, explicitPath: empty }), (e: unknown) => {
    assert.ok(isInputError(e));
    assert.equal((e as Error).message, `${empty}: no tokenizer.json or vocab.txt in this folder`);
    return true;
  });
});
