/**
 * The near-degenerate-plane warning of the reports that show no planes (run, eval, relevance):
 * features and distances flag each plane; these say how many there were per layer, with the
 * threshold, from the reduced states z of one forward pass.
 */
import { DEGENERATE_SINE, degeneratePlaneCount } from '../model/plucker';
import type { TapValue } from '../model/grassmann';
import { layerOffsetPlans, planeLayoutOf } from '../model/offsets';
import type { GrassmannSpec } from '../model/spec';

/** The taps the count needs: z of every layer ([T, r_l] each, a small download). */
export const reducedStateTaps = (spec: Pick<GrassmannSpec, 'layerShapes'>): string[] => spec.layerShapes.map((_, l) => `layers.${l}.z`);

/**
 * One warning naming, per layer, how many of the planes of every valid offset of a sequence of T
 * tokens are degenerate (sin of the angle between the two states < DEGENERATE_SINE), or null when
 * none is. `taps` holds layers.{l}.z of that sequence; `scope` says which planes were counted.
 */
export function degeneratePlanesWarning(spec: Pick<GrassmannSpec, 'layerShapes' | 'variant'>, taps: ReadonlyMap<string, TapValue>, T: number, scope: string): string | null {
  const plans = layerOffsetPlans(spec, T);
  const counts = spec.layerShapes.map((_, l) => {
    const z = taps.get(`layers.${l}.z`);
    if (!z) throw new Error(`the degenerate-plane count needs the tap layers.${l}.z`);
    return degeneratePlaneCount(z.data, T, plans[l].offsets, planeLayoutOf(spec, l));
  });
  if (!counts.some((c) => c.degenerate > 0)) return null;
  const perLayer = counts.map((c, l) => `layer ${l}: ${c.degenerate} of ${c.planes}`).join(', ');
  return `near-degenerate planes (sin of the angle between the two states < ${DEGENERATE_SINE}): ${perLayer}, ${scope}`;
}
