/**
 * One list of checkpoint extensions and one folder listing (src/checkpoint/files.ts), and the
 * manifest and sources agree with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CHECKPOINT_EXTENSIONS, CHECKPOINT_GLOB, CHECKPOINT_PATTERNS, UNAMBIGUOUS_CHECKPOINT_EXTENSIONS, UNAMBIGUOUS_CHECKPOINT_GLOB,
  checkpointsInFolder, isCheckpointName,
} from '../../src/checkpoint/files';

const root = resolve(__dirname, '..', '..');

test('which names are checkpoints', () => {
  for (const name of ['best.pt', 'EPOCH_3.PT', 'model.safetensors', 'pytorch_model.bin', 'last.ckpt', 'w.pth', '/runs/a.b/c.pt', 'C:\\runs\\c.pt']) assert.equal(isCheckpointName(name), true, name);
  for (const name of ['.best.pt', '/runs/.tmp.pt', 'notes.txt', 'pt', 'model.safetensors.index.json', 'a.ptx', 'config.json', '/runs/x.pt/notes']) assert.equal(isCheckpointName(name), false, name);
  assert.equal(CHECKPOINT_GLOB, '*.{safetensors,pt,pth,bin,ckpt}');
  assert.equal(UNAMBIGUOUS_CHECKPOINT_GLOB, '*.{safetensors,pt,pth,ckpt}');
  assert.deepEqual(CHECKPOINT_PATTERNS, ['*.safetensors', '*.pt', '*.pth', '*.bin', '*.ckpt']);
});

test('a folder lists its checkpoints in natural name order, hidden and other files left out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gl-ckpts-'));
  for (const n of ['epoch_10.pt', 'epoch_2.pt', 'epoch_1.pt', 'best.safetensors', '.epoch_11.pt', 'notes.txt', 'last.ckpt']) writeFileSync(join(dir, n), '');
  assert.deepEqual((await checkpointsInFolder(dir)).map((p) => p.slice(dir.length + 1)), ['best.safetensors', 'epoch_1.pt', 'epoch_2.pt', 'epoch_10.pt', 'last.ckpt']);
  assert.deepEqual(await checkpointsInFolder(join(dir, 'absent')), []);
});

test('the manifest opens and activates on the same extensions', () => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const patterns = manifest.contributes.customEditors.flatMap((e: { selector: { filenamePattern: string }[] }) => e.selector.map((s) => s.filenamePattern));
  assert.deepEqual([...patterns].sort(), CHECKPOINT_EXTENSIONS.map((e) => `*.${e}`).sort());
  const contains = manifest.activationEvents.filter((e: string) => e.startsWith('workspaceContains:')).map((e: string) => e.replace('workspaceContains:**/*.', ''));
  assert.deepEqual([...contains].sort(), [...UNAMBIGUOUS_CHECKPOINT_EXTENSIONS].sort());
});

test('no source keeps its own list of checkpoint extensions', () => {
  // ['pt', 'pth', …], {pt,pth,…}, (pt|pth|…), ".pt, .pth", "*.pt,*.pth" (each caught by this on the code it replaced)
  const inline = /['"`{(|]\s*\.?(pt|pth|ckpt)['"]?\s*[,|]\s*['"]?\.?(pt|pth|ckpt|safetensors|bin)\b|\.pt, \.pth|\*\.pt,\*\.pth/;
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
  const offenders = [...files(join(root, 'src')), ...files(join(root, 'webview'))]
    .filter((f) => !f.endsWith(join('checkpoint', 'files.ts')))
    .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => ({ f, i, line })))
    .filter(({ line }) => inline.test(line) && !line.trim().startsWith('*') && !line.trim().startsWith('//'));
  assert.deepEqual(offenders.map(({ f, i, line }) => `${f.slice(root.length + 1)}:${i + 1}: ${line.trim()}`), []);
});
