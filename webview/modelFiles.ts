/**
 * The checkpoint's config and tokenizer, and the buttons that fix them from VS Code: "Choose
 * Config…" and "Choose Tokenizer…" (the host runs the commands of the same names and sends the
 * model again). Shown in the Overview, under an error opening the checkpoint, and beside a run
 * that found no tokenizer.
 */
import type { ModelFileInfo, ModelFilesInfo } from '../src/protocol/editor';
import type { ModelFileKind } from '../src/util/modelFiles';
import { h, table } from './dom';

export type ChooseFile = (kind: ModelFileKind) => void;

const ORIGIN_TEXT: Record<ModelFileInfo['origin'], string> = {
  chosen: 'chosen in VS Code',
  setting: 'from the setting grassmannLens.modelFiles',
  found: 'found beside the checkpoint',
};

/** One button: Choose Config… or Choose Tokenizer…. */
export function chooseButton(kind: ModelFileKind, choose: ChooseFile, secondary = true): HTMLElement {
  const label = kind === 'config' ? 'Choose Config…' : 'Choose Tokenizer…';
  const b = h('vscode-button', {
    class: 'choose-file',
    'data-kind': kind,
    secondary,
    title: kind === 'config' ? 'Pick the config.json this checkpoint was trained with (remembered for this workspace)' : 'Pick a tokenizer file, a folder holding one, or a Hugging Face cache entry (remembered for this workspace)',
  }, label);
  b.addEventListener('click', () => choose(kind));
  return b;
}

/** Both buttons in a row. */
export function chooseButtons(choose: ChooseFile): HTMLElement {
  return h('div', { class: 'choose-files', role: 'group', 'aria-label': 'Model files' }, chooseButton('config', choose), chooseButton('tokenizer', choose));
}

function describe(kind: ModelFileKind, f: ModelFileInfo): string {
  if (f.problem) return f.problem;
  if (!f.path) return kind === 'config' ? 'none found: the values marked assumed are defaults' : 'none found';
  const where = f.origin === 'found' ? (f.description ?? f.path) : `${f.path} (${ORIGIN_TEXT[f.origin]})`;
  return where;
}

/** The Overview's "Model files" table: config and tokenizer, where each comes from, and the buttons. */
export function modelFilesSection(files: ModelFilesInfo, choose: ChooseFile): HTMLElement[] {
  const row = (kind: ModelFileKind, f: ModelFileInfo) => {
    const text = h('span', { class: f.problem ? 'error' : f.path ? '' : 'assumed', 'data-origin': f.origin }, describe(kind, f));
    return [kind === 'config' ? 'Config' : 'Tokenizer', h('span', {}, text, ' ', chooseButton(kind, choose))];
  };
  const t = table('model-files', ['', ''], [row('config', files.config), row('tokenizer', files.tokenizer)]);
  t.querySelector('thead')?.remove();
  return [h('h2', {}, 'Model files'), t];
}
