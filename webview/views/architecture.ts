/**
 * The Overview's architecture diagram as data: the parts of one block top to bottom, where the
 * LayerNorms sit, which parts a residual skips, what the mixing returns and how g aggregates the
 * offsets, all from the report's resolved options (src/model/architecture.ts). No DOM here: the
 * Overview draws it (drawArchitecture in ./overview.ts) and the unit tests read it.
 */
import type { InspectReport } from '../../src/core/inspect';
import { BUILT_IN_ARCHITECTURES, DEFAULT_OPTIONS, type Activation, type ArchitectureOptions, type LayerRole, type GlobalRole } from '../../src/model/architecture';
import { blockWindowsLabel, formatCount } from '../../src/core/reportText';

export type PartKind = 'io' | 'norm' | 'mix' | 'ffn' | 'add';

export interface DiagramPart {
  /** Stable name (data-part in the SVG): embedding, ln-a, reduce, planes, aggregate, gate, mix, mix-norm, add-mix, ln-f, ffn, add-ffn, final-norm, lm-head. */
  id: string;
  kind: PartKind;
  title: string;
  dims: string;
}

/** A residual connection: branches off just above block[from] and is added back at block[to] (an 'add' part). */
export interface DiagramResidual {
  from: number;
  to: number;
  label: string;
}

export interface ArchitectureDiagram {
  /** The accessible name of the chart. */
  title: string;
  outer: DiagramPart[];
  block: DiagramPart[];
  tail: DiagramPart[];
  residuals: DiagramResidual[];
  layers: number;
}

const ACTIVATION: Record<Activation, string> = { gelu: 'GELU', 'gelu-tanh': 'GELU, tanh approximation', relu: 'ReLU' };

/** One value, or each block's ("16 / 14 / 16 per block") when a pruned model's blocks differ. */
function perBlock(values: number[], fallback: number): string {
  if (values.length < 2 || values.every((v) => v === values[0])) return formatCount(values[0] ?? fallback);
  return `${values.map(formatCount).join(' / ')} per block`;
}

function small(v: number): string {
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v);
}

/**
 * Short tensor names of the implementation's roles ("ln1", "attention_norm", "ffn.layers.0"), for
 * a built-in description; a description file's templates are not in the report: no names then.
 */
function tensorNames(report: InspectReport): (role: LayerRole | GlobalRole) => string | undefined {
  const impl = report.implementation;
  const description = impl && impl.source === 'built-in' ? BUILT_IN_ARCHITECTURES.find((a) => a.id === impl.id) : undefined;
  return (role) => {
    const template = description?.tensors[role];
    if (!template) return undefined;
    const i = template.indexOf('{l}.');
    return (i >= 0 ? template.slice(i + 4) : template).replace(/\.(weight|bias)$/, '');
  };
}

/** "d = 64 · ln1": the dims and, where known, the tensor names. */
function withNames(dims: string, ...names: (string | undefined)[]): string {
  const known = names.filter((n): n is string => !!n);
  return known.length ? `${dims} · ${known.join(', ')}` : dims;
}

export function architectureDiagram(report: InspectReport): ArchitectureDiagram {
  const d = report.dims!;
  const o: ArchitectureOptions = report.options ?? DEFAULT_OPTIONS;
  const name = tensorNames(report);
  const shapes = report.layerShapes ?? [];
  const r = perBlock(shapes.map((s) => s.reducedDim), d.reducedDim);
  const P = perBlock(shapes.map((s) => s.pairCount), d.pairCount);
  const f = perBlock(shapes.map((s) => s.ffDim), d.ffDim);
  const ownWindows = blockWindowsLabel(report);
  const windows = `[${(report.windowSizes ?? []).join(', ')}]${report.windowSource === 'assumed' ? ' (assumed)' : ''}${ownWindows ? `; per block ${ownWindows}` : ''}`;
  const dm = d.modelDim;
  const pre = o.block === 'pre-norm';
  const h = pre ? 'h' : 'x';
  const lag = o.pairing === 'previous' ? '−' : '+';

  const outer: DiagramPart[] = [
    { id: 'tokens', kind: 'io', title: 'tokens', dims: `up to ${formatCount(d.maxPositions)} positions` },
    o.positions === 'learned'
      ? { id: 'embedding', kind: 'io', title: 'token + position embedding', dims: `${formatCount(d.vocabSize)} × ${dm} + ${d.maxPositions} × ${dm}` }
      : { id: 'embedding', kind: 'io', title: 'token embedding (no learned positions)', dims: `${formatCount(d.vocabSize)} × ${dm}` },
  ];

  const mixExpr: Record<ArchitectureOptions['mixOutput'], [string, string]> = {
    blend: [`α⊙${h} + (1 − α)⊙g`, 'α = 1 keeps the input, α = 0 takes the Grassmann features g'],
    additive: [`${h} + α⊙g`, 'α scales how much of g is added to the input'],
    'gated-geometry': ['α⊙g', `α scales g; ${h} reaches the output only through the gate`],
  };
  const [expr, meaning] = mixExpr[o.mixOutput];
  const mixing: DiagramPart[] = [
    { id: 'reduce', kind: 'mix', title: `W_red: z = W_red ${h} + b`, dims: withNames(`${pre ? '' : 'the block input x, '}${dm} → r = ${r}`, name('reduceWeight')) },
    { id: 'planes', kind: 'mix', title: `token planes span(z_t, z_{t${lag}δ}) ∈ Gr(2, r), p̂ = p / max(‖p‖, ${small(o.pluckerEps)})`, dims: `${P} Plücker pairs, offsets δ ∈ ${windows}` },
    o.aggregation === 'project-then-mean'
      ? { id: 'aggregate', kind: 'mix', title: 'W_plu p̂ + b_plu per offset, mean over the valid offsets → g', dims: withNames(`${P} → ${dm}; g = 0 where no offset is valid`, name('pluckerWeight')) }
      : { id: 'aggregate', kind: 'mix', title: 'mean of p̂ over the valid offsets, then W_plu → g', dims: withNames(`${P} → ${dm}; g = b_plu where no offset is valid`, name('pluckerWeight')) },
    { id: 'gate', kind: 'mix', title: `gate α = σ(W_gate [${h}; g] + b_gate)`, dims: withNames(`${2 * dm} → ${dm}`, name('gateWeight')) },
    { id: 'mix', kind: 'mix', title: o.mixNorm ? `mixing output ${expr}` : `mixing output Mix(${h}) = ${expr}`, dims: `${meaning}; ${o.mixNorm ? 'then its own LayerNorm' : 'no LayerNorm inside the mixing'}` },
  ];
  if (o.mixNorm) mixing.push({ id: 'mix-norm', kind: 'norm', title: `LayerNorm inside the mixing → Mix(${h})`, dims: withNames(`d = ${dm}`, name('mixNormWeight')) });

  const act = ACTIVATION[o.activation];
  const ffnNames = [name('ffnInWeight'), name('ffnOutWeight')];
  const lnA = name('norm1Weight');
  const lnF = name('norm2Weight');
  const block: DiagramPart[] = [];
  const residuals: DiagramResidual[] = [];
  const push = (p: DiagramPart): number => block.push(p) - 1;
  if (pre) {
    const a = push({ id: 'ln-a', kind: 'norm', title: 'LayerNorm LN_a → h = LN_a(x)', dims: withNames(`d = ${dm}, before the mixing (pre-norm)`, lnA) });
    mixing.forEach(push);
    residuals.push({ from: a, to: push({ id: 'add-mix', kind: 'add', title: "x' = x + Mix(h)", dims: 'residual around the mixing' }), label: 'x' });
    const fIn = push({ id: 'ln-f', kind: 'norm', title: "LayerNorm LN_f of x'", dims: withNames(`d = ${dm}, before the FFN (pre-norm)`, lnF) });
    push({ id: 'ffn', kind: 'ffn', title: `FFN (${act})`, dims: withNames(`${dm} → ${f} → ${dm}`, ...ffnNames) });
    residuals.push({ from: fIn, to: push({ id: 'add-ffn', kind: 'add', title: "out = x' + FFN(LN_f(x'))", dims: 'residual around the FFN' }), label: "x'" });
  } else {
    const start = block.length;
    mixing.forEach(push);
    if (o.block === 'post-norm') {
      residuals.push({ from: start, to: push({ id: 'add-mix', kind: 'add', title: 'x + Mix(x)', dims: 'residual around the mixing' }), label: 'x' });
      push({ id: 'ln-a', kind: 'norm', title: "LayerNorm LN_a → x' = LN_a(x + Mix(x))", dims: withNames(`d = ${dm}, after the sum (post-norm)`, lnA) });
    } else {
      push({ id: 'ln-a', kind: 'norm', title: "LayerNorm LN_a → x' = LN_a(Mix(x))", dims: withNames(`d = ${dm}; no residual around the mixing: x is not added back`, lnA) });
    }
    const fIn = push({ id: 'ffn', kind: 'ffn', title: `FFN (${act}) of x'`, dims: withNames(`${dm} → ${f} → ${dm}`, ...ffnNames) });
    residuals.push({ from: fIn, to: push({ id: 'add-ffn', kind: 'add', title: "x' + FFN(x')", dims: 'residual around the FFN' }), label: "x'" });
    push({ id: 'ln-f', kind: 'norm', title: "LayerNorm LN_f → out = LN_f(x' + FFN(x'))", dims: withNames(`d = ${dm}, after the sum (post-norm)`, lnF) });
  }

  const tail: DiagramPart[] = [
    { id: 'final-norm', kind: 'norm', title: 'final LayerNorm', dims: withNames(`d = ${dm}`, name('finalNormWeight')) },
    { id: 'lm-head', kind: 'io', title: `lm_head${report.tiedLmHead ? ' (tied to the embedding)' : ''}`, dims: `${dm} → ${formatCount(d.vocabSize)}` },
  ];
  const impl = report.implementation?.label ?? 'GrassmannGPT';
  const layoutName: Record<ArchitectureOptions['block'], string> = {
    'pre-norm': 'pre-norm blocks',
    'post-norm': 'post-norm blocks',
    'post-norm-no-mix-residual': 'post-norm blocks without a residual around the mixing',
  };
  const title = `${impl} architecture: ${d.layers} ${layoutName[o.block]}, mixing output ${expr}${o.mixNorm ? ' then LayerNorm' : ''}, ${o.aggregation === 'project-then-mean' ? 'g = mean of W_plu p̂ + b_plu' : 'g = W_plu (mean of p̂) + b_plu'}`;
  return { title, outer, block, tail, residuals, layers: d.layers };
}
