/**
 * Runs inside the real extension host (code-server), against the extension loaded from the
 * repository as extensionDevelopmentPath.
 */
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import type { GrassmannLensApi } from '../../../src/extension/extension';
import type { BackendName } from '../../../src/model/backend';

const EXTENSION_ID = 'grassmann-lens.grassmann-lens';
const BACKENDS: BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

interface Manifest {
  contributes: {
    commands: { command: string; title: string; category: string }[];
    configuration: { properties: Record<string, { enum?: string[]; default?: unknown; type: string }> };
    customEditors: { viewType: string; priority: string; selector: { filenamePattern: string }[] }[];
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function defineExtensionSuite(): void {
  describe('Grassmann Lens extension host', () => {
    let extension: vscode.Extension<GrassmannLensApi>;
    let api: GrassmannLensApi;
    const workspace = () => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      assert.ok(folder, 'the test workbench opens a folder');
      return folder.uri;
    };

    before(async () => {
      const found = vscode.extensions.getExtension<GrassmannLensApi>(EXTENSION_ID);
      assert.ok(found, `${EXTENSION_ID} is loaded`);
      extension = found;
      api = await extension.activate();
    });

    after(async () => {
      await vscode.workspace.getConfiguration('grassmannLens').update('backend', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    });

    it('registers its commands in the Grassmann Lens category', async () => {
      const all = new Set(await vscode.commands.getCommands(true));
      const contributed = (extension.packageJSON as Manifest).contributes.commands;
      assert.deepEqual(contributed.map((c) => c.command).sort(), [
        'grassmannLens.analyzeText', 'grassmannLens.chooseConfig', 'grassmannLens.chooseTokenizer', 'grassmannLens.clearTextAnalysis', 'grassmannLens.colorTokensBy', 'grassmannLens.compareCheckpoints',
        'grassmannLens.describeArchitecture', 'grassmannLens.inspectCheckpoint', 'grassmannLens.installGpuBackend', 'grassmannLens.openCheckpoint', 'grassmannLens.openExample', 'grassmannLens.openLatestCheckpoint',
        'grassmannLens.pruneByExplanation', 'grassmannLens.selectBackend', 'grassmannLens.showBackend', 'grassmannLens.stopWatchingRun',
        'grassmannLens.toggleTokenColors', 'grassmannLens.watchTrainingRun',
      ]);
      for (const c of contributed) {
        assert.equal(c.category, 'Grassmann Lens');
        assert.ok(all.has(c.command), `${c.command} is registered`);
      }
    });

    it('contributes the backend setting as an enum defaulting to auto', () => {
      const props = (extension.packageJSON as Manifest).contributes.configuration.properties;
      assert.deepEqual(props['grassmannLens.backend'].enum, ['auto', ...BACKENDS]);
      assert.equal(props['grassmannLens.backend'].default, 'auto');
      assert.equal(props['grassmannLens.nativeModulesDir'].type, 'string');
      assert.equal(props['grassmannLens.architectureFile'].type, 'string');
      assert.equal(props['grassmannLens.architectureFile'].default, '');
      assert.equal(vscode.workspace.getConfiguration('grassmannLens').get('backend'), 'auto');
    });

    it('probes a real backend on first use', async () => {
      const report = await api.backendReport();
      assert.ok(BACKENDS.includes(report.active), `active backend ${report.active}`);
      assert.ok(report.reason.length > 0);
      assert.equal(report.attempts.at(-1)?.name, report.active);
      assert.ok(report.attempts.at(-1)?.available);
    });

    it('is the default editor for .pt, .pth, .ckpt and .safetensors, an option for the generic .bin', () => {
      const [editor, bin] = (extension.packageJSON as Manifest).contributes.customEditors;
      assert.equal(editor.viewType, 'grassmannLens.checkpoint');
      assert.equal(editor.priority, 'default');
      assert.deepEqual(editor.selector.map((s) => s.filenamePattern).sort(), ['*.ckpt', '*.pt', '*.pth', '*.safetensors']);
      assert.equal(bin.viewType, 'grassmannLens.checkpointBin');
      assert.equal(bin.priority, 'option');
      assert.deepEqual(bin.selector.map((s) => s.filenamePattern), ['*.bin']);
    });

    it('Open Checkpoint opens a file in the custom editor and a model folder in a panel', async () => {
      const file = vscode.Uri.joinPath(workspace(), 'tiny-grassmann', 'checkpoints', 'epoch_1.pt');
      await vscode.commands.executeCommand('grassmannLens.openCheckpoint', file);
      const fileTab = await until('the checkpoint editor', async () => {
        const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
        return input instanceof vscode.TabInputCustom && input.uri.toString() === file.toString() ? input : undefined;
      });
      assert.equal(fileTab.viewType, 'grassmannLens.checkpoint');
      const folder = vscode.Uri.joinPath(workspace(), 'tiny-grassmann');
      await vscode.commands.executeCommand('grassmannLens.openCheckpoint', folder);
      const panel = await until('the folder panel', async () => {
        const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
        return tab?.input instanceof vscode.TabInputWebview ? tab : undefined;
      });
      assert.match((panel.input as vscode.TabInputWebview).viewType, /grassmannLens\.folder$/);
      assert.equal(panel.label, 'tiny-grassmann');
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    });

    it('opens a checkpoint with vscode.openWith in its custom editor', async () => {
      const uri = vscode.Uri.joinPath(workspace(), 'tiny-grassmann', 'model.safetensors');
      await vscode.commands.executeCommand('vscode.openWith', uri, 'grassmannLens.checkpoint');
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      assert.ok(input instanceof vscode.TabInputCustom, 'the active tab is a custom editor');
      assert.equal(input.viewType, 'grassmannLens.checkpoint');
      assert.equal(input.uri.toString(), uri.toString());
    });

    it('two editors of one checkpoint share one document: one watcher, one change for both, gone when both close', async () => {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      const checkpoints = vscode.Uri.joinPath(workspace(), 'tiny-grassmann', 'checkpoints');
      const folder = vscode.Uri.joinPath(workspace(), 'shared-document');
      mkdirSync(folder.fsPath, { recursive: true });
      const file = vscode.Uri.joinPath(folder, 'best.pt');
      copyFileSync(vscode.Uri.joinPath(checkpoints, 'epoch_2.pt').fsPath, file.fsPath);
      await vscode.commands.executeCommand('vscode.openWith', file, 'grassmannLens.checkpoint', vscode.ViewColumn.One);
      await vscode.commands.executeCommand('vscode.openWith', file, 'grassmannLens.checkpoint', vscode.ViewColumn.Two);
      const editors = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputCustom && t.input.uri.toString() === file.toString());
      assert.equal(editors.length, 2, 'the checkpoint is open in two editor groups');
      const mine = () => api.openCheckpoints().filter((d) => d.path === file.fsPath);
      assert.deepEqual(mine(), [{ path: file.fsPath, holders: 1, changes: 0 }], 'one document for both editors');
      // A training run writes it again (twice in quick succession): the document passes on one change.
      copyFileSync(vscode.Uri.joinPath(checkpoints, 'epoch_1.pt').fsPath, file.fsPath);
      copyFileSync(vscode.Uri.joinPath(checkpoints, 'epoch_2.pt').fsPath, file.fsPath);
      await until('the change on disk', async () => (mine()[0]?.changes ? true : undefined), 30_000);
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(mine(), [{ path: file.fsPath, holders: 1, changes: 1 }]);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await until('the document to close', async () => (mine().length === 0 ? true : undefined), 10_000);
    });

    it('Analyze This Text binds a selection: a hover inside it names the token, its id and window; none outside it; an edit before it moves it', async () => {
      const text = 'outside words. the licensor grants you a license. more outside';
      const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
      const editor = await vscode.window.showTextDocument(doc);
      editor.selection = new vscode.Selection(doc.positionAt(text.indexOf('the licensor')), doc.positionAt(text.indexOf('. more')));
      const checkpoint = vscode.Uri.joinPath(workspace(), 'tiny-grassmann', 'model.safetensors').fsPath;
      // Resolves once the first analysis is done.
      await vscode.commands.executeCommand('grassmannLens.analyzeText', { checkpoint });
      const vocab = readFileSync(join(dirname(checkpoint), 'vocab.txt'), 'utf8').split('\n').map((l) => l.trim());
      const hoverAt = async (offset: number) => {
        const hovers = (await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, doc.positionAt(offset))) ?? [];
        const ours = hovers.filter((h) => h.contents.some((c) => (typeof c === 'string' ? c : c.value).includes('text tokens')));
        return ours[0];
      };
      const inside = await hoverAt(doc.getText().indexOf('licensor') + 3);
      assert.ok(inside, 'a hover on licensor');
      const markdown = inside.contents.map((c) => (typeof c === 'string' ? c : c.value)).join('\n');
      // [CLS] the licensor: position 2 of the selection's own encoding.
      // The file name is Markdown-escaped (model\.safetensors renders as model.safetensors).
      assert.ok(markdown.includes(`**\`licensor\`** · id ${vocab.indexOf('licensor')} · position 2 · model\\.safetensors`), markdown);
      assert.ok(markdown.includes('window 1 of 1, text tokens 0–'), markdown);
      assert.equal(doc.getText(inside.range), 'licensor');
      assert.equal(await hoverAt(text.indexOf('outside') + 2), undefined, 'no hover outside the selection');
      await editor.edit((e) => e.insert(new vscode.Position(0, 0), 'more text before. '));
      const moved = await until('the analysis after the edit', async () => {
        const h = await hoverAt(doc.getText().indexOf('licensor') + 3);
        return h && doc.getText(h.range) === 'licensor' ? h : undefined;
      });
      assert.ok(moved.contents.some((c) => (typeof c === 'string' ? c : c.value).includes('position 2 ·')));
      await vscode.commands.executeCommand('grassmannLens.clearTextAnalysis');
      assert.equal(await hoverAt(doc.getText().indexOf('licensor') + 3), undefined, 'cleared');
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    });

    it('restarts the worker on the backend the setting names', async () => {
      const before = await api.backendReport();
      const other: BackendName = before.active === 'cpu' ? 'wasm' : 'cpu';
      await vscode.workspace.getConfiguration('grassmannLens').update('backend', other, vscode.ConfigurationTarget.Global);
      const report = await until(`the ${other} backend`, async () => {
        const r = await api.backendReport().catch(() => undefined);
        return r?.active === other ? r : undefined;
      });
      assert.equal(report.reason, `${other} was requested`);
      await vscode.workspace.getConfiguration('grassmannLens').update('backend', undefined, vscode.ConfigurationTarget.Global);
      await until('the automatic backend again', async () => {
        const r = await api.backendReport().catch(() => undefined);
        return r?.active === before.active ? r : undefined;
      });
    });
  });
}
