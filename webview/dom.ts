/** A few DOM helpers: the views build plain elements (no framework besides the web components). */

type Child = Node | string | null | undefined | false;

/** `h('div', { class: 'x', id: 'y' }, child...)`: attributes are set as attributes (not inline styles). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string | number | boolean | undefined>, ...children: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Record<string, string | number | boolean | undefined>, ...children: Child[]): HTMLElement;
export function h(tag: string, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}

/** A <vscode-single-select> with options; `onChange` gets the chosen value. */
export function select(id: string, label: string, options: { value: string; label: string }[], value: string, onChange: (v: string) => void): HTMLElement {
  const wrap = h('label', { class: 'control', for: id }, h('span', { class: 'control-label' }, label));
  const sel = h('vscode-single-select', { id, 'aria-label': label });
  for (const o of options) {
    const opt = h('vscode-option', { value: o.value }, o.label);
    if (o.value === value) opt.setAttribute('selected', '');
    sel.append(opt);
  }
  sel.addEventListener('change', () => onChange((sel as unknown as { value: string }).value));
  wrap.append(sel);
  return wrap;
}

/** A table from header cells and rows of cells. */
export function table(id: string | undefined, header: string[], rows: (string | Node)[][], caption?: string): HTMLTableElement {
  const t = h('table', { id, class: 'data' });
  if (caption) t.append(h('caption', {}, caption));
  const head = h('thead', {}, h('tr', {}, ...header.map((c) => h('th', { scope: 'col' }, c))));
  const body = h('tbody');
  for (const r of rows) body.append(h('tr', {}, ...r.map((c) => h('td', {}, c))));
  t.append(head, body);
  return t;
}
