/**
 * Export of a chart (SVG, PNG) and of its data (CSV, JSON): the view prepares the content, the
 * extension host asks where to save it and writes the file (the webview has no file access).
 *
 * An exported SVG must look the same outside VS Code, where the theme's CSS variables do not
 * exist: the copy gets every element's computed fill, stroke and font written into it.
 */
import type { Protocol } from '../src/protocol/rpc';
import type { ExportFormat, ExportRequest } from '../src/util/exportMessage';
import { toCsv } from './csv';
import { connect } from './host';

/** The part of a page's protocol this module uses (the editor's and Compare's have it). */
interface Exporting extends Protocol {
  requests: Record<never, never>;
  commands: { export: ExportRequest };
  notifications: Record<never, never>;
}

const STYLE_PROPERTIES = ['fill', 'stroke', 'stroke-width', 'font-family', 'font-size', 'font-weight', 'opacity', 'visibility'];

/** A standalone copy of `svg` with computed styles inlined and the editor's background behind it. */
export function standaloneSvg(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  const source = [svg, ...svg.querySelectorAll('*')];
  const target = [copy, ...copy.querySelectorAll('*')];
  source.forEach((element, i) => {
    const computed = getComputedStyle(element);
    const out = target[i] as SVGElement;
    for (const p of STYLE_PROPERTIES) {
      const v = computed.getPropertyValue(p);
      if (v) out.style.setProperty(p, v);
    }
  });
  copy.querySelectorAll('.cells-overlay, .cursor, .brush').forEach((e) => e.remove());
  const background = getComputedStyle(document.body).getPropertyValue('--vscode-editor-background').trim() || '#ffffff';
  const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
  rect.setAttribute('width', '100%');
  rect.setAttribute('height', '100%');
  rect.setAttribute('fill', background);
  copy.insertBefore(rect, copy.firstChild);
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  return new XMLSerializer().serializeToString(copy);
}

/** The SVG drawn on a canvas at `scale`, as base64 PNG. */
export async function pngBase64(svg: SVGSVGElement, scale = 2): Promise<string> {
  const text = standaloneSvg(svg);
  const image = new Image();
  image.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(text)))}`;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(svg.width.baseVal.value * scale);
  canvas.height = Math.ceil(svg.height.baseVal.value * scale);
  const ctx = canvas.getContext('2d')!;
  ctx.scale(scale, scale);
  ctx.drawImage(image, 0, 0);
  return canvas.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
}

function send(filename: string, format: ExportFormat, content: string): void {
  connect<Exporting>().send('export', { filename, format, content });
}

export interface Exportable {
  /** File name without extension. */
  name: string;
  /** The chart; none for data without one (a table): then only CSV and JSON. */
  svg?: () => SVGSVGElement | null;
  rows: () => Record<string, unknown>[];
}

/** Saves `value` as `name`.json (e.g. a whole report, as the CLI's --json prints it). */
export function exportJson(name: string, value: unknown): void {
  send(`${name}.json`, 'json', JSON.stringify(value, null, 2));
}

/** A row of small buttons: SVG, PNG (for a chart), CSV, JSON. */
export function exportToolbar(what: Exportable): HTMLElement {
  const bar = document.createElement('div');
  bar.className = 'export-bar';
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', `Export ${what.name}`);
  const button = (label: string, run: () => Promise<void> | void) => {
    const b = document.createElement('vscode-button');
    b.setAttribute('secondary', '');
    b.setAttribute('title', `Export ${what.name} as ${label}`);
    b.textContent = label;
    b.addEventListener('click', () => void run());
    bar.append(b);
  };
  const chart = what.svg;
  if (chart) {
    button('SVG', () => {
      const svg = chart();
      if (svg) send(`${what.name}.svg`, 'svg', standaloneSvg(svg));
    });
    button('PNG', async () => {
      const svg = chart();
      if (svg) send(`${what.name}.png`, 'png', await pngBase64(svg));
    });
  }
  button('CSV', () => send(`${what.name}.csv`, 'csv', toCsv(what.rows())));
  button('JSON', () => send(`${what.name}.json`, 'json', JSON.stringify(what.rows(), null, 1)));
  return bar;
}
