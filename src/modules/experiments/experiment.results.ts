import type { ExperimentDef } from './experiment.definition';
import type { Counts } from './experiment.exposures';
import { goodnessOfFit, meanInterval, proportion, twoProportionZTest, welchZTest, type Comparison, type GoodnessOfFit, type Interval, type Moments } from './experiment.stats';

/** `srmWarning` is raised below this p-value. */
export const SRM_ALPHA = 0.001;

export interface VariantResults {
  key: string;
  name: string;
  control: boolean;
  /** False for a variant seen in events that the (admin's) definition does not list. */
  defined: boolean;
  weight: number | null;
  expectedShare: number | null;
  /** People first exposed to this variant and never to another one. */
  exposed: number;
  /** People first exposed to this variant and later to another one (or merged with someone who was): excluded from every number here. */
  contaminated: number;
  clicked: number;
  converted: number;
  revenue: number;
  ctr: Interval | null;
  cvr: Interval | null;
  revenuePerExposed: Interval | null;
  ctrVsControl: Comparison | null;
  cvrVsControl: Comparison | null;
  revenuePerExposedVsControl: Comparison | null;
}

export interface ExperimentResults {
  exposed: number;
  contaminated: number;
  variants: VariantResults[];
  srm: GoodnessOfFit | null;
  srmWarning: boolean;
}

const moments = (c: { exposed: number; revenueCents: bigint; revenueSqCents: bigint }): Moments => ({
  n: c.exposed,
  sum: Number(c.revenueCents) / 100,
  sumSquares: Number(c.revenueSqCents) / 10_000,
});

/**
 * Results from the counters alone (O(variants)): per variant the clean people's rates with Wald
 * intervals, revenue per exposed person with its interval, comparisons with the control (pooled
 * two-proportion z for CTR and CVR, Welch z for revenue per exposed person), and the
 * sample-ratio-mismatch test of the defined variants' assigned people (clean + contaminated, by
 * first variant) against their weights.
 */
export function experimentResults(def: ExperimentDef, counts: Counts[]): ExperimentResults {
  const zero = () => ({ exposed: 0, clicked: 0, converted: 0, revenueCents: 0n, revenueSqCents: 0n, contaminated: 0 });
  const byVariant = new Map<string, ReturnType<typeof zero>>();
  const at = (k: string) => {
    let v = byVariant.get(k);
    if (!v) byVariant.set(k, (v = zero()));
    return v;
  };
  for (const c of counts) {
    const v = at(c.variantKey);
    if (c.contaminated) v.contaminated += c.exposed;
    else Object.assign(v, { exposed: c.exposed, clicked: c.clicked, converted: c.converted, revenueCents: c.revenueCents, revenueSqCents: c.revenueSqCents });
  }
  const totalWeight = def.variants.reduce((s, v) => s + v.weight, 0);
  const defined = new Set(def.variants.map((v) => v.key));
  const listed = [
    ...def.variants.map((v) => ({ key: v.key, name: v.name, control: v.control, defined: true, weight: v.weight as number | null })),
    ...[...byVariant.keys()].filter((k) => !defined.has(k)).sort().map((k) => ({ key: k, name: k, control: false, defined: false, weight: null })),
  ];
  const control = def.variants.find((v) => v.control);
  const c = at(control?.key ?? '');
  const hasClicks = def.clickEvent !== null;
  const variants = listed.map((l): VariantResults => {
    const v = at(l.key);
    const isControl = l.key === control?.key;
    return {
      ...l,
      expectedShare: l.weight === null ? null : l.weight / totalWeight,
      exposed: v.exposed,
      contaminated: v.contaminated,
      clicked: v.clicked,
      converted: v.converted,
      revenue: Number(v.revenueCents) / 100,
      ctr: hasClicks ? proportion(v.clicked, v.exposed) : null,
      cvr: proportion(v.converted, v.exposed),
      revenuePerExposed: meanInterval(moments(v)),
      ctrVsControl: isControl || !hasClicks ? null : twoProportionZTest(c.clicked, c.exposed, v.clicked, v.exposed),
      cvrVsControl: isControl ? null : twoProportionZTest(c.converted, c.exposed, v.converted, v.exposed),
      revenuePerExposedVsControl: isControl ? null : welchZTest(moments(c), moments(v)),
    };
  });
  const srm = goodnessOfFit(
    def.variants.map((d) => at(d.key).exposed + at(d.key).contaminated),
    def.variants.map((d) => d.weight),
  );
  return {
    exposed: variants.reduce((s, v) => s + v.exposed, 0),
    contaminated: variants.reduce((s, v) => s + v.contaminated, 0),
    variants,
    srm,
    srmWarning: srm !== null && srm.pValue < SRM_ALPHA,
  };
}
