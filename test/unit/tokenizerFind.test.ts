import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findTokenizer, hubCacheDir, repoFolderName } from '../../src/tokenizer';
import { InputError } from '../../src/util/errors';

const tiny = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const fixtureTokenizer = join(tiny, 'tokenizer.json');
/** input_ids of the manifest's case 2, "Hi.". */
const HI_IDS = [2, 41, 97, 14, 3];

/** A fresh tree: `root/a/b/c/d/e/` holds a checkpoint (deep enough that the search never leaves `root`), `root/hub` is the cache. */
function sandbox(): { root: string; ckptDir: string; ckpt: string; hub: string; env: Record<string, string> } {
  const root = mkdtempSync(join(tmpdir(), 'gl-find-'));
  const ckptDir = join(root, 'a', 'b', 'c', 'd', 'e');
  mkdirSync(ckptDir, { recursive: true });
  const ckpt = join(ckptDir, 'model.safetensors');
  writeFileSync(ckpt, '');
  const hub = join(root, 'hub');
  mkdirSync(hub);
  return { root, ckptDir, ckpt, hub, env: { HF_HUB_CACHE: hub } };
}

/** Puts a copy of the fixture tokenizer into the cache as `repo` at revision `rev`; returns its path. */
function cache(hub: string, repo: string, rev: string, options: { main?: boolean; mtime?: number } = {}): string {
  const repoDir = join(hub, repoFolderName(repo));
  const snapshot = join(repoDir, 'snapshots', rev);
  mkdirSync(snapshot, { recursive: true });
  const file = join(snapshot, 'tokenizer.json');
  copyFileSync(fixtureTokenizer, file);
  if (options.mtime !== undefined) utimesSync(snapshot, options.mtime, options.mtime);
  if (options.main) {
    mkdirSync(join(repoDir, 'refs'), { recursive: true });
    writeFileSync(join(repoDir, 'refs', 'main'), `${rev}\n`);
  }
  return file;
}

function throwsInput(fn: () => unknown, file: string, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.equal(e.file, file);
    assert.ok(!e.message.includes('\n'), 'one line');
    for (const f of fragments) assert.ok(e.problem.includes(f), `${JSON.stringify(f)} in: ${e.problem}`);
    return true;
  });
}

test('the fixture checkpoint finds tokenizer.json one folder above it', () => {
  const { env } = sandbox();
  const found = findTokenizer({ checkpointPath: join(tiny, 'checkpoints', 'best.pt'), env });
  assert.equal(found.origin, 'near-checkpoint');
  assert.equal(found.path, fixtureTokenizer);
  assert.equal(found.tokenizer.source, fixtureTokenizer);
  assert.match(found.description, /^tokenizer\.json 1 folder above the checkpoint/);
  // model.safetensors sits next to it.
  const beside = findTokenizer({ checkpointPath: join(tiny, 'model.safetensors'), env });
  assert.equal(beside.path, fixtureTokenizer);
  assert.match(beside.description, /next to the checkpoint/);
  // A checkpoint folder (Hugging Face style) is searched itself.
  assert.equal(findTokenizer({ checkpointPath: tiny, env }).path, fixtureTokenizer);
});

test('an explicit path wins and must hold a tokenizer', () => {
  const { ckpt, ckptDir, env } = sandbox();
  writeFileSync(join(ckptDir, 'vocab.txt'), '[UNK]\n[CLS]\n[SEP]\nx\n');
  const explicit = findTokenizer({ explicitPath: tiny, checkpointPath: ckpt, env });
  assert.equal(explicit.origin, 'explicit');
  assert.equal(explicit.path, fixtureTokenizer);
  // Without it, the vocab.txt beside the checkpoint is used.
  const near = findTokenizer({ checkpointPath: ckpt, env });
  assert.equal(near.path, join(ckptDir, 'vocab.txt'));
  assert.equal(near.tokenizer.vocabSize, 4);
  const empty = mkdtempSync(join(tmpdir(), 'gl-empty-'));
  throwsInput(() => findTokenizer({ explicitPath: empty, checkpointPath: ckpt, env }), empty, 'no tokenizer.json or vocab.txt in this folder');
});

test('parents are searched up to maxParentLevels (default 4), no further', () => {
  const { root, ckpt, env } = sandbox();
  copyFileSync(fixtureTokenizer, join(root, 'a', 'tokenizer.json')); // 4 levels above a/b/c/d/e
  const found = findTokenizer({ checkpointPath: ckpt, env });
  assert.equal(found.path, join(root, 'a', 'tokenizer.json'));
  assert.match(found.description, /4 folders above the checkpoint/);
  throwsInput(
    () => findTokenizer({ checkpointPath: ckpt, env, maxParentLevels: 3 }),
    ckpt,
    `in ${join(root, 'a', 'b', 'c', 'd', 'e')}, ${join(root, 'a', 'b', 'c', 'd')}, ${join(root, 'a', 'b', 'c')}, ${join(root, 'a', 'b')}, ${join(root, 'hub')} (every cached model)`,
  );
});

test('the search stops at the filesystem root', () => {
  const { env } = sandbox();
  throwsInput(() => findTokenizer({ checkpointPath: '/model.safetensors', env, maxParentLevels: 10 }), '/model.safetensors', 'in /, ');
});

test('config.json naming a hub repo picks that repo from the cache, at the revision refs/main names', () => {
  const { ckpt, ckptDir, hub, env } = sandbox();
  writeFileSync(join(ckptDir, 'config.json'), JSON.stringify({ _name_or_path: 'grassmann/tiny', vocab_size: 1200 }));
  cache(hub, 'other/model', 'aaa');
  const old = cache(hub, 'grassmann/tiny', '1111', { main: true, mtime: 1_000_000 });
  cache(hub, 'grassmann/tiny', '2222', { mtime: 2_000_000 });
  const found = findTokenizer({ checkpointPath: ckpt, env });
  assert.equal(found.origin, 'hf-cache');
  assert.equal(found.repo, 'grassmann/tiny');
  assert.equal(found.path, old);
  assert.deepEqual(found.tokenizer.encode('Hi.').map((t) => t.text), ['[CLS]', 'h', '##i', '.', '[SEP]']);
  assert.deepEqual(found.tokenizer.encode('Hi.').map((t) => t.id), HI_IDS);
  assert.match(found.description, /from the Hugging Face cache \(grassmann\/tiny, /);
});

test('tokenizer_name beats _name_or_path; without refs/main the newest snapshot is used', () => {
  const { ckpt, root, hub, env } = sandbox();
  // The hint may sit in a parent folder's config.json.
  writeFileSync(join(root, 'a', 'b', 'config.json'), JSON.stringify({ _name_or_path: 'base/model', tokenizer_name: 'tok/enizer' }));
  cache(hub, 'base/model', 'r1');
  cache(hub, 'tok/enizer', 'older', { mtime: 1_000_000 });
  const newer = cache(hub, 'tok/enizer', 'newer', { mtime: 2_000_000 });
  const found = findTokenizer({ checkpointPath: ckpt, env });
  assert.equal(found.repo, 'tok/enizer');
  assert.equal(found.path, newer);
});

test('a named repo that is not cached is an error listing every place searched (no other repo is used)', () => {
  const { ckpt, ckptDir, hub, env } = sandbox();
  writeFileSync(join(ckptDir, 'config.json'), JSON.stringify({ _name_or_path: 'missing/repo' }));
  cache(hub, 'other/model', 'aaa');
  throwsInput(
    () => findTokenizer({ checkpointPath: ckpt, env }),
    ckpt,
    'no tokenizer found: looked for tokenizer.json or vocab.txt in ',
    ckptDir,
    join(hub, 'models--missing--repo', 'snapshots'),
    `${join(ckptDir, 'config.json')} names "missing/repo", which is not in the Hugging Face cache ${hub}`,
  );
});

test('with nothing naming the tokenizer, the only cached one is used; several are refused', () => {
  const one = sandbox();
  const only = cache(one.hub, 'solo/model', 'r');
  const found = findTokenizer({ checkpointPath: one.ckpt, env: one.env });
  assert.equal(found.path, only);
  assert.equal(found.repo, 'solo/model');

  // A cached tokenizer with more ids than the model's vocab_size cannot be the model's: skipped.
  writeFileSync(join(one.ckptDir, 'config.json'), JSON.stringify({ vocab_size: 1000 }));
  throwsInput(() => findTokenizer({ checkpointPath: one.ckpt, env: one.env }), one.ckpt, `${one.hub} (every cached model)`);

  const two = sandbox();
  cache(two.hub, 'first/model', 'r');
  cache(two.hub, 'second/model', 'r');
  throwsInput(
    () => findTokenizer({ checkpointPath: two.ckpt, env: two.env }),
    two.ckpt,
    'the Hugging Face cache holds several tokenizers (first/model, second/model) and no config.json names one',
  );

  const none = sandbox();
  throwsInput(() => findTokenizer({ checkpointPath: none.ckpt, env: none.env }), none.ckpt, none.ckptDir, `${none.hub} (every cached model)`);
});

test('the hub cache folder follows huggingface_hub precedence', () => {
  assert.equal(hubCacheDir({ HF_HUB_CACHE: '/h1', HUGGINGFACE_HUB_CACHE: '/h2', HF_HOME: '/h3' }, '/home/u'), '/h1');
  assert.equal(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '/h2', HF_HOME: '/h3' }, '/home/u'), '/h2');
  assert.equal(hubCacheDir({ HF_HOME: '/h3', XDG_CACHE_HOME: '/x' }, '/home/u'), '/h3/hub');
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/x' }, '/home/u'), '/x/huggingface/hub');
  assert.equal(hubCacheDir({}, '/home/u'), '/home/u/.cache/huggingface/hub');
  assert.equal(repoFolderName('org/name'), 'models--org--name');
  assert.equal(repoFolderName('gpt2'), 'models--gpt2');
});

test('HF_HOME and the home-folder default are searched', () => {
  const { root, ckpt } = sandbox();
  const file = cache(join(root, 'hfhome', 'hub'), 'home/model', 'r');
  assert.equal(findTokenizer({ checkpointPath: ckpt, env: { HF_HOME: join(root, 'hfhome') } }).path, file);
  const home = join(root, 'home');
  const homeFile = cache(join(home, '.cache', 'huggingface', 'hub'), 'default/model', 'r');
  assert.equal(findTokenizer({ checkpointPath: ckpt, env: {}, homeDir: home }).path, homeFile);
});
