/**
 * The LRP rules as objects (grassmann-math.md §4), shared by the head and every block, and the
 * accounting of what each rule application does not pass down.
 *
 * A linear rule distributes the relevance R of the outputs y = a W^T + b over the inputs. Each
 * rule divides R by a denominator den (per output) and hands every input its contribution times
 * s = R / den; the inputs then receive sum(s * passed) in all, where `passed` is the part of den
 * the inputs make up. What is left of R is absorbed:
 *   epsilon  den = stab(y) = y + eps sign(y), passed = y - b:   the bias absorbs sum(s * b),
 *            eps absorbs sum(R - s * y)
 *   zplus    den = pos + eps (pos = sum of the positive contributions (a_i w_ij)+, bias ignored),
 *            passed = pos:                                     eps absorbs sum(R - s * pos)
 *   gamma    den = stab(z + gamma boosted) (z = a W^T without the bias; boosted = the positive
 *            contributions where z > 0, the negative ones elsewhere), passed = z + gamma boosted:
 *            eps absorbs sum(R - s * (z + gamma boosted))
 * (0 where the denominator is 0, possible only with eps = 0: the whole of R there counts as eps.)
 * The same bookkeeping holds for every other denominator of a relevance pass (./layoutRules.ts):
 * sums (residual adds, terms of the mixing output, the embedding sum) absorb sum(R - s * total)
 * into eps, and the LayerNorm rule (sigma frozen) gives beta sum(s * beta) and eps
 * sum(R - s * y). So at every stage: relevance entering = leaving + biases + eps, exactly in real
 * arithmetic; the float32 rest is reported as the remainder.
 *
 * A composite (in Zennit's sense) picks the rule per site: the head's lm_head, or a linear map of a
 * block by layer and role. 'uniform' applies RelevanceOptions.rule everywhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { hostKernelsAvailable, registerHostKernels, STABILISED_RATIO_KERNEL } from '../model/hostKernels';
import type { LinearRule, RelevanceOptions, RuleComposite, RuleOverride } from './types';

/** The linear maps relevance passes, by role (the head's lm_head, and each block's). */
export type LinearRole = 'lmHead' | 'ffnOut' | 'ffnIn' | 'gate' | 'plucker' | 'reduce';
export const LINEAR_ROLES: readonly LinearRole[] = ['lmHead', 'ffnOut', 'ffnIn', 'gate', 'plucker', 'reduce'];
/** The role names of the report, README and the `overrides` option. */
export const LINEAR_ROLE_NAMES: Readonly<Record<LinearRole, string>> = {
  lmHead: 'lm_head',
  ffnOut: 'ffn.out',
  ffnIn: 'ffn.in',
  gate: 'W_gate',
  plucker: 'W_plu',
  reduce: 'W_red',
};

/** Where a rule is applied: layer null is the head. */
export interface RuleSite {
  layer: number | null;
  role: LinearRole;
}

/**
 * Collects what rule applications absorb, as scalar tensors kept until read (one device read per
 * stage, not per rule).
 */
export class Absorption {
  private readonly biases = new Map<string, tf.Tensor[]>();
  private readonly eps: tf.Tensor[] = [];

  bias(name: string, amount: tf.Tensor | number): void {
    let list = this.biases.get(name);
    if (!list) this.biases.set(name, (list = []));
    list.push(tf.keep(typeof amount === 'number' ? tf.scalar(amount, 'float32') : amount));
  }

  epsilon(amount: tf.Tensor): void {
    this.eps.push(tf.keep(amount));
  }

  /**
   * The sums so far (float64 on the host, added in the order recorded), and resets. The reads are
   * asynchronous (every backend can serve them: webgpu in Node cannot read synchronously).
   */
  async take(): Promise<{ biases: { name: string; relevance: number }[]; epsilon: number }> {
    const entries = [...this.biases];
    const eps = this.eps.slice();
    this.biases.clear();
    this.eps.length = 0;
    const lists = [...entries.map(([, list]) => list), eps];
    try {
      const values = await Promise.all(lists.map((list) => Promise.all(list.map((t) => t.data()))));
      const sum = (read: ArrayLike<number>[]): number => {
        let total = 0;
        for (const v of read) total += v[0];
        return total;
      };
      const biases = entries.map(([name], k) => ({ name, relevance: sum(values[k]) }));
      return { biases, epsilon: sum(values[values.length - 1]) };
    } finally {
      for (const list of lists) for (const t of list) t.dispose();
    }
  }

  dispose(): void {
    for (const list of this.biases.values()) for (const t of list) t.dispose();
    for (const t of this.eps) t.dispose();
    this.biases.clear();
    this.eps.length = 0;
  }
}

/** sign with sign(0) = +1, so that eps never cancels z. */
function stabilise(z: tf.Tensor, eps: number): tf.Tensor {
  return eps === 0 ? z : tf.add(z, tf.mul(tf.sub(tf.mul(tf.cast(tf.greaterEqual(z, 0), 'float32'), 2), 1), eps));
}

/**
 * R / stab(z), 0 where the denominator is 0 (only possible with eps = 0). One host kernel pass on
 * wasm and cpu (../model/hostKernels.ts), TensorFlow.js ops elsewhere.
 */
export function stabilisedRatio(R: tf.Tensor, z: tf.Tensor, eps: number): tf.Tensor {
  if (hostKernelsAvailable(tf.getBackend()) && tf.util.arraysEqual(R.shape, z.shape) && R.dtype === 'float32' && z.dtype === 'float32') {
    registerHostKernels();
    return tf.engine().runKernel(STABILISED_RATIO_KERNEL, { R, z }, { eps }) as tf.Tensor;
  }
  return eps === 0 ? tf.divNoNan(R, z) : tf.div(R, stabilise(z, eps));
}

/**
 * s = R / stab(den), recording what eps absorbs (den: what the inputs pass, so that they receive
 * sum(s * den) in all): R - s den = s (stab(den) - den) = s eps sign(den), computed in that form
 * (no cancellation); with eps = 0 it is R where den = 0 (s = 0 there) and nothing elsewhere.
 * R and den have the same shape or broadcast.
 */
export function shareOf(R: tf.Tensor, den: tf.Tensor, eps: number, sink: Absorption | null): tf.Tensor {
  const s = stabilisedRatio(R, den, eps);
  if (sink) sink.epsilon(absorbedByEps(R, s, den, eps, true));
  return s;
}

/** sum(R - s den) in a form without cancellation (see shareOf); `signed`: stab adds eps sign(den), else eps. */
function absorbedByEps(R: tf.Tensor, s: tf.Tensor, den: tf.Tensor, eps: number, signed: boolean): tf.Tensor {
  if (eps === 0) return tf.sum(tf.where(tf.equal(tf.broadcastTo(den, R.shape), 0), R, tf.zerosLike(R)));
  const shift = signed ? tf.sub(tf.mul(tf.cast(tf.greaterEqual(den, 0), 'float32'), 2 * eps), eps) : tf.scalar(eps);
  return tf.sum(tf.mul(s, shift));
}

export const positivePart = (t: tf.Tensor): tf.Tensor => tf.relu(t);
/** min(t, 0) as t - relu(t): the same numbers (exactly), and Minimum is a scalar loop on wasm (8x slower). */
export const negativePart = (t: tf.Tensor, positive: tf.Tensor = tf.relu(t)): tf.Tensor => tf.sub(t, positive);

/** One linear rule (see the module comment). Call its methods inside tf.tidy. */
export interface LinearRuleObject {
  readonly name: LinearRule;
  /** As the report states it. */
  readonly text: string;
  /**
   * R_a of y = a W^T + b (W^T as wT [in, out]; y the forward output with bias when known; w = W
   * [out, in] when the caller keeps it). `bias` names the bias for the accounting (null: none).
   */
  linear(a: tf.Tensor2D, wT: tf.Tensor2D, bias: tf.Tensor1D | null, y: tf.Tensor2D | null, R: tf.Tensor2D, sink: Absorption | null, biasName: string | null, w?: tf.Tensor2D): tf.Tensor2D;
  /**
   * One output per row, given as its contributions: y_n = sum_i c_ni (no bias; the head's target
   * logits, y_n = LN_f(x)_n . lm_head row of the target). R [N, 1] -> R of each contribution [N, in].
   */
  contributions(c: tf.Tensor2D, R: tf.Tensor2D, sink: Absorption | null): tf.Tensor2D;
}

const back = (s: tf.Tensor, v: tf.Tensor2D): tf.Tensor2D => tf.matMul(s as tf.Tensor2D, v, false, true);

class EpsilonRule implements LinearRuleObject {
  readonly name = 'epsilon' as const;
  readonly text: string;
  constructor(private readonly eps: number) {
    this.text = eps === 0 ? 'LRP-0 (epsilon rule, eps 0)' : `epsilon rule (eps ${eps})`;
  }

  linear(a: tf.Tensor2D, wT: tf.Tensor2D, bias: tf.Tensor1D | null, y: tf.Tensor2D | null, R: tf.Tensor2D, sink: Absorption | null, biasName: string | null, w?: tf.Tensor2D): tf.Tensor2D {
    const out = y ?? (bias ? tf.add(tf.matMul(a, wT), bias) : tf.matMul(a, wT));
    const s = shareOf(R, out, this.eps, sink);
    if (sink && bias && biasName) sink.bias(biasName, tf.sum(tf.mul(s, bias)));
    return tf.mul(a, w ? tf.matMul(s as tf.Tensor2D, w) : back(s, wT)) as tf.Tensor2D;
  }

  contributions(c: tf.Tensor2D, R: tf.Tensor2D, sink: Absorption | null): tf.Tensor2D {
    return tf.mul(c, shareOf(R, tf.sum(c, 1, true), this.eps, sink)) as tf.Tensor2D;
  }
}

class ZPlusRule implements LinearRuleObject {
  readonly name = 'zplus' as const;
  readonly text = 'z+ rule';
  constructor(private readonly eps: number) {}

  /** s = R / (pos + eps) (pos >= 0, so no sign is needed; 0 where pos + eps = 0). */
  private share(R: tf.Tensor, pos: tf.Tensor, sink: Absorption | null): tf.Tensor {
    const s = tf.divNoNan(R, tf.add(pos, this.eps));
    if (sink) sink.epsilon(absorbedByEps(R, s, pos, this.eps, false));
    return s;
  }

  linear(a: tf.Tensor2D, wT: tf.Tensor2D, _bias: tf.Tensor1D | null, _y: tf.Tensor2D | null, R: tf.Tensor2D, sink: Absorption | null): tf.Tensor2D {
    const aPos = positivePart(a) as tf.Tensor2D;
    const aNeg = negativePart(a, aPos) as tf.Tensor2D;
    const wPos = positivePart(wT) as tf.Tensor2D;
    const wNeg = negativePart(wT, wPos) as tf.Tensor2D;
    const positive = tf.add(tf.matMul(aPos, wPos), tf.matMul(aNeg, wNeg));
    const s = this.share(R, positive, sink);
    return tf.add(tf.mul(aPos, back(s, wPos)), tf.mul(aNeg, back(s, wNeg))) as tf.Tensor2D;
  }

  contributions(c: tf.Tensor2D, R: tf.Tensor2D, sink: Absorption | null): tf.Tensor2D {
    const positive = positivePart(c);
    return tf.mul(positive, this.share(R, tf.sum(positive, 1, true), sink)) as tf.Tensor2D;
  }
}

/**
 * Generalised gamma (signed inputs): where z_j > 0 the positive contributions are boosted,
 * elsewhere the negative ones, so the denominator never cancels towards 0 (bias-free).
 */
class GammaRule implements LinearRuleObject {
  readonly name = 'gamma' as const;
  readonly text: string;
  constructor(private readonly gamma: number, private readonly eps: number) {
    this.text = `gamma rule (gamma ${gamma})`;
  }

  linear(a: tf.Tensor2D, wT: tf.Tensor2D, _bias: tf.Tensor1D | null, _y: tf.Tensor2D | null, R: tf.Tensor2D, sink: Absorption | null, _biasName: string | null, w?: tf.Tensor2D): tf.Tensor2D {
    const aPos = positivePart(a) as tf.Tensor2D;
    const aNeg = negativePart(a, aPos) as tf.Tensor2D;
    const wPos = positivePart(wT) as tf.Tensor2D;
    const wNeg = negativePart(wT, wPos) as tf.Tensor2D;
    const positive = tf.add(tf.matMul(aPos, wPos), tf.matMul(aNeg, wNeg));
    const negative = tf.add(tf.matMul(aPos, wNeg), tf.matMul(aNeg, wPos));
    const z = tf.matMul(a, wT);
    const up = tf.cast(tf.greater(z, 0), 'float32');
    const down = tf.sub(1, up);
    const boosted = tf.add(tf.mul(up, positive), tf.mul(down, negative));
    const s = shareOf(R, tf.add(z, tf.mul(boosted, this.gamma)), this.eps, sink);
    const sUp = tf.mul(s, up);
    const sDown = tf.mul(s, down);
    const boost = tf.addN([
      tf.mul(aPos, back(sUp, wPos)), tf.mul(aNeg, back(sUp, wNeg)),
      tf.mul(aPos, back(sDown, wNeg)), tf.mul(aNeg, back(sDown, wPos)),
    ]);
    return tf.add(tf.mul(a, w ? tf.matMul(s as tf.Tensor2D, w) : back(s, wT)), tf.mul(boost, this.gamma)) as tf.Tensor2D;
  }

  contributions(c: tf.Tensor2D, R: tf.Tensor2D, sink: Absorption | null): tf.Tensor2D {
    const z = tf.sum(c, 1, true);
    const positive = positivePart(c);
    const boosted = tf.where(tf.greater(tf.broadcastTo(z, c.shape), 0), positive, negativePart(c, positive));
    const weighted = tf.add(c, tf.mul(boosted, this.gamma));
    return tf.mul(weighted, shareOf(R, tf.sum(weighted, 1, true), this.eps, sink)) as tf.Tensor2D;
  }
}

/** The rule object of one name under the run's eps and gamma. */
export function linearRuleObject(rule: LinearRule, options: Pick<RelevanceOptions, 'epsilon' | 'gamma'>): LinearRuleObject {
  if (rule === 'epsilon') return new EpsilonRule(options.epsilon);
  if (rule === 'zplus') return new ZPlusRule(options.epsilon);
  if (rule === 'gamma') return new GammaRule(options.gamma, options.epsilon);
  throw new RangeError(`unknown LRP rule '${String(rule)}' (epsilon, zplus or gamma)`);
}

/**
 * The named composites. `lower` is the set of blocks below the middle (layer < ceil(L / 2)):
 *   uniform        RelevanceOptions.rule at every site
 *   epsilon-gamma  gamma in the lower blocks; epsilon in the upper blocks and at the head
 *                  (Montavon et al. 2019's recommendation: gamma low, epsilon in the middle and top)
 *   epsilon-plus   z+ in the lower blocks; epsilon in the upper blocks and at the head (Zennit's EpsilonPlus)
 */
export const RULE_COMPOSITES: Readonly<Record<RuleComposite, { text: string; ruleAt(site: RuleSite, layers: number, uniform: LinearRule): LinearRule }>> = {
  uniform: { text: 'the same rule at every linear map', ruleAt: (_site, _layers, uniform) => uniform },
  'epsilon-gamma': {
    text: 'gamma in the lower half of the blocks, epsilon in the upper half and at the head',
    ruleAt: (site, layers) => (site.layer !== null && site.layer < Math.ceil(layers / 2) ? 'gamma' : 'epsilon'),
  },
  'epsilon-plus': {
    text: 'z+ in the lower half of the blocks, epsilon in the upper half and at the head',
    ruleAt: (site, layers) => (site.layer !== null && site.layer < Math.ceil(layers / 2) ? 'zplus' : 'epsilon'),
  },
};
export const RULE_COMPOSITE_NAMES = Object.keys(RULE_COMPOSITES) as RuleComposite[];

function overrideMatches(o: RuleOverride, site: RuleSite): boolean {
  if (o.head !== undefined && o.head !== (site.layer === null)) return false;
  if (o.layers && (site.layer === null || !o.layers.includes(site.layer))) return false;
  if (o.roles && !o.roles.includes(LINEAR_ROLE_NAMES[site.role])) return false;
  return true;
}

/** Checks an options object's composite and overrides (a clear error for a bad one). */
export function checkRuleOptions(options: RelevanceOptions, layers: number): void {
  if (!(options.composite in RULE_COMPOSITES)) throw new RangeError(`unknown rule composite '${options.composite}' (${RULE_COMPOSITE_NAMES.join(', ')})`);
  const roleNames = Object.values(LINEAR_ROLE_NAMES);
  for (const o of options.overrides ?? []) {
    linearRuleObject(o.rule, options);
    for (const r of o.roles ?? []) if (!roleNames.includes(r)) throw new RangeError(`unknown linear map '${r}' in a rule override (${roleNames.join(', ')})`);
    for (const l of o.layers ?? []) if (!Number.isInteger(l) || l < 0 || l >= layers) throw new RangeError(`rule override layer ${l} is outside 0..${layers - 1}`);
  }
}

/** Picks the rule object of each site: the composite, then the overrides in order (the last match wins). */
export class RuleBook {
  private readonly objects = new Map<LinearRule, LinearRuleObject>();
  constructor(private readonly options: RelevanceOptions, private readonly layers: number) {
    checkRuleOptions(options, layers);
  }

  nameAt(site: RuleSite): LinearRule {
    let rule = RULE_COMPOSITES[this.options.composite].ruleAt(site, this.layers, this.options.rule);
    for (const o of this.options.overrides ?? []) if (overrideMatches(o, site)) rule = o.rule;
    return rule;
  }

  at(site: RuleSite): LinearRuleObject {
    const name = this.nameAt(site);
    let object = this.objects.get(name);
    if (!object) this.objects.set(name, (object = linearRuleObject(name, this.options)));
    return object;
  }

  /** Whether every site follows one rule (the report then names it once). */
  uniformRule(): LinearRule | null {
    const names = new Set<LinearRule>([this.nameAt({ layer: null, role: 'lmHead' })]);
    for (let l = 0; l < this.layers; l++) for (const role of LINEAR_ROLES) if (role !== 'lmHead') names.add(this.nameAt({ layer: l, role }));
    return names.size === 1 ? [...names][0] : null;
  }

  /** The rule of each site, grouped: "epsilon rule (eps 1e-6): lm_head; layers 2-3 all maps". */
  describe(): string[] {
    const groups = new Map<string, string[]>();
    const add = (rule: LinearRule, where: string): void => {
      const text = linearRuleObject(rule, this.options).text;
      let list = groups.get(text);
      if (!list) groups.set(text, (list = []));
      list.push(where);
    };
    add(this.nameAt({ layer: null, role: 'lmHead' }), 'lm_head');
    for (let l = 0; l < this.layers; l++) {
      const perRole = LINEAR_ROLES.filter((r) => r !== 'lmHead').map((role) => [role, this.nameAt({ layer: l, role })] as const);
      if (perRole.every(([, r]) => r === perRole[0][1])) add(perRole[0][1], `layer ${l}`);
      else for (const [role, rule] of perRole) add(rule, `layer ${l} ${LINEAR_ROLE_NAMES[role]}`);
    }
    return [...groups].map(([text, where]) => `${text}: ${where.join(', ')}`);
  }
}

/**
 * Parses the CLI's `--rule-for WHERE=RULE` (repeatable; several joined by commas): WHERE is
 * `head`, `layers:N` or `layers:N-M` (optionally followed by `/MAP+MAP`), or `MAP+MAP` alone;
 * MAP is one of lm_head, ffn.out, ffn.in, W_gate, W_plu, W_red. E.g. `layers:0-1=gamma`,
 * `head=epsilon`, `layers:2/W_plu+W_red=zplus`.
 */
export function parseRuleOverrides(text: string): RuleOverride[] {
  const rules: readonly LinearRule[] = ['epsilon', 'zplus', 'gamma'];
  const maps = Object.values(LINEAR_ROLE_NAMES);
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((item) => {
    const eq = item.lastIndexOf('=');
    if (eq <= 0) throw new RangeError(`--rule-for '${item}' must look like WHERE=RULE (e.g. layers:0-1=gamma, head=epsilon, ffn.in=zplus)`);
    const rule = item.slice(eq + 1) as LinearRule;
    if (!rules.includes(rule)) throw new RangeError(`--rule-for '${item}': the rule must be one of ${rules.join(', ')}`);
    const where = item.slice(0, eq);
    if (where === 'head') return { rule, head: true };
    const out: RuleOverride = { rule };
    let rest = where;
    const layerMatch = /^layers?:(\d+)(?:-(\d+))?(?:\/|$)/.exec(where);
    if (layerMatch) {
      const from = Number(layerMatch[1]);
      const to = layerMatch[2] === undefined ? from : Number(layerMatch[2]);
      if (to < from || to - from > 10_000) throw new RangeError(`--rule-for '${item}': the layer range ${from}-${to} is empty or too long`);
      out.layers = Array.from({ length: to - from + 1 }, (_, i) => from + i);
      rest = where.slice(layerMatch[0].length);
    }
    if (rest) {
      const roles = rest.split('+');
      for (const r of roles) if (!maps.includes(r)) throw new RangeError(`--rule-for '${item}': unknown linear map '${r}' (${maps.join(', ')})`);
      out.roles = roles;
    }
    return out;
  });
}
