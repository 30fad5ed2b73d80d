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

/** What vscode-elements 2.5 draws for an open list: at most 10 rows of 22 px, borders and padding. */
const DROPDOWN_ROWS = 10;
const DROPDOWN_ROW_PX = 22;
const DROPDOWN_EXTRA_PX = 8;

/** A <vscode-single-select> with options; `onChange` gets the chosen value. */
export function select(id: string, label: string, options: { value: string; label: string }[], value: string, onChange: (v: string) => void): HTMLElement {
  const wrap = h('label', { class: 'control', for: id }, h('span', { class: 'control-label' }, label));
  const sel = h('vscode-single-select', { id, 'aria-label': label });
  for (const o of options) {
    const opt = h('vscode-option', { value: o.value }, o.label);
    if (o.value === value) opt.setAttribute('selected', '');
    sel.append(opt);
  }
  // The list is a popover placed below the picker and never moved: near the bottom of the view it
  // would open out of sight. Open it above when there is not room for it below (and more above).
  const place = (): void => {
    const rect = sel.getBoundingClientRect();
    const below = window.innerHeight - rect.bottom;
    const needed = Math.min(options.length, DROPDOWN_ROWS) * DROPDOWN_ROW_PX + DROPDOWN_EXTRA_PX;
    (sel as unknown as { position: 'above' | 'below' }).position = below < needed && rect.top > below ? 'above' : 'below';
  };
  for (const type of ['pointerdown', 'keydown', 'focusin']) sel.addEventListener(type, place, { capture: true });
  sel.addEventListener('change', () => {
    onChange((sel as unknown as { value: string }).value);
    // The list (a popover) closes after a choice and the focus falls to the page's body: give it
    // back to the picker, or to the one with its id that a redraw put in its place.
    // (Chromium moves the focus out of the hidden popover at a later rendering step: look again then.)
    const restore = (): void => {
      const active = document.activeElement;
      if (active && active !== document.body) return;
      const picker = sel.isConnected ? sel : document.getElementById(id);
      picker?.focus({ preventScroll: true });
    };
    requestAnimationFrame(() => {
      restore();
      requestAnimationFrame(restore);
      setTimeout(restore, 100);
    });
  });
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

/**
 * Rebuilds `container` with `rebuild` and keeps the user's place: the focused element inside it
 * (found again by its id: a picker that was just used keeps the keyboard), the page's scroll
 * position, and the container's height while the new content is not all there (a rebuild first
 * empties the container, and charts draw a frame later or once their data arrives: without this
 * the page would shrink and jump to the top). The height is let go two frames after a rebuild that
 * left nothing marked `data-pending` (a "Computing…" line).
 */
export function rebuildKeepingPlace(container: HTMLElement, rebuild: () => void): void {
  const doc = container.ownerDocument;
  const view = doc.defaultView;
  const active = doc.activeElement as HTMLElement | null;
  const focusId = active && active !== doc.body && container.contains(active) && active.id ? active.id : null;
  const scroll = view ? { x: view.scrollX, y: view.scrollY } : null;
  const height = container.getBoundingClientRect().height;
  if (height > 0) container.style.minHeight = `${Math.ceil(height)}px`;
  rebuild();
  if (focusId && !container.contains(doc.activeElement)) (doc.getElementById(focusId) as HTMLElement | null)?.focus({ preventScroll: true });
  if (view && scroll && (view.scrollX !== scroll.x || view.scrollY !== scroll.y)) view.scrollTo(scroll.x, scroll.y);
  const release = (): void => {
    if (!container.querySelector('[data-pending]')) container.style.minHeight = '';
  };
  if (view) view.requestAnimationFrame(() => view.requestAnimationFrame(release));
  else release();
}

export interface PickerSpec {
  id: string;
  label: string;
  options: { value: string; label: string }[];
  value: string;
  onChange: (v: string) => void;
}

/**
 * A row of pickers that stays in the page across a view's redraws: built again only when the
 * pickers or their options change, else each one's value is set. (A picker rebuilt on every redraw
 * loses the keyboard focus, and a <vscode-single-select> removed before its first render throws
 * "Failed to execute 'unobserve' on 'ResizeObserver'" from the scrollable of its list.)
 */
export class Pickers {
  readonly element = h('div', { class: 'controls' });
  private key = '';

  update(specs: PickerSpec[]): void {
    const key = JSON.stringify(specs.map((s) => [s.id, s.label, s.options]));
    if (key !== this.key) {
      this.key = key;
      clear(this.element);
      // onChange reads the latest spec: the closures of the first build would keep stale state
      for (const s of specs) this.element.append(select(s.id, s.label, s.options, s.value, (v) => this.current.get(s.id)?.onChange(v)));
    } else {
      for (const s of specs) {
        const sel = this.element.querySelector<HTMLElement & { value: string }>(`#${CSS.escape(s.id)}`);
        if (sel && sel.value !== s.value) sel.value = s.value;
      }
    }
    this.current = new Map(specs.map((s) => [s.id, s]));
  }

  private current = new Map<string, PickerSpec>();
}
