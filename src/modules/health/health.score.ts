import { round, type HealthSettings } from './health.settings';

export type HealthTierKey = 'healthy' | 'stable' | 'at_risk' | 'dormant';

export const TIER_LABELS: Record<HealthTierKey, string> = { healthy: '健康', stable: '稳定', at_risk: '风险', dormant: '沉睡' };

/** One weighted component: `contribution` = round(100 × weight × value, 2). */
export interface HealthComponentValue {
  name: string;
  label: string;
  /** The measured figure behind `value` (count, CNY, days, …); null when there is none. */
  measure: number | null;
  /** Normalised to [0, 1] (rounded to 4 decimals for display; the contribution uses the exact value). */
  value: number;
  weight: number;
  contribution: number;
}

export interface WeightedScore {
  /** Σ contributions, so the parts add up exactly (to 0.01). */
  score: number;
  components: HealthComponentValue[];
}

/** What the score of one profile is computed from (loaded set-based by the repository). */
export interface ProfileHealthInputs {
  profileId: string;
  /** Events named in `interactionEvents` in (now − 30 days, now]. */
  interactions30: number;
  /** Distinct days (workspace time zone) with any event in (now − 30 days, now]. */
  activeDays30: number;
  /** Order value (`Order Completed` revenue/total, CNY) in (now − 90 days, now]. */
  spend90: number;
  /** Distinct people this person invited (`invited` relations from them). */
  invitees: number;
  lastSeenAt: Date | null;
}

export interface ProfileHealthValue extends WeightedScore {
  profileId: string;
  tier: HealthTierKey;
}

const DAY_MS = 86_400_000;

/**
 * Combines normalised values with weights. Contributions are rounded to hundredths of a point in
 * integer arithmetic and the score is their sum, so Σ contribution = score exactly.
 */
export function weighted(parts: { name: string; label: string; measure: number | null; value: number; weight: number }[]): WeightedScore {
  let hundredths = 0;
  const components = parts.map((p) => {
    const value = Math.min(1, Math.max(0, Number.isFinite(p.value) ? p.value : 0));
    const c = Math.round(10_000 * p.weight * value);
    hundredths += c;
    return { name: p.name, label: p.label, measure: p.measure === null ? null : round(p.measure, 4), value: round(value, 4), weight: p.weight, contribution: c / 100 };
  });
  return { score: hundredths / 100, components };
}

export function tierOf(score: number, s: HealthSettings): HealthTierKey {
  if (score >= s.tiers.healthy) return 'healthy';
  if (score >= s.tiers.stable) return 'stable';
  if (score >= s.tiers.atRisk) return 'at_risk';
  return 'dormant';
}

/**
 * The health score of one person (see the GraphQL description of `ProfileHealth` for the formulas):
 * interaction = min(1, interactions30 / interactionTarget); spending = 1 − exp(−spend90 / spendScale);
 * activeTime = activeDays30 / 30; recency = 0.5^(daysSinceLastSeen / recencyHalfLifeDays) (0 if never
 * seen); referral = min(1, invitees / referralTarget).
 */
export function profileHealth(i: ProfileHealthInputs, s: HealthSettings, now: Date): ProfileHealthValue {
  const days = i.lastSeenAt ? Math.max(0, (now.getTime() - i.lastSeenAt.getTime()) / DAY_MS) : null;
  const w = s.weights;
  const r = weighted([
    { name: 'interaction', label: '互动指数', measure: i.interactions30, value: Math.min(1, i.interactions30 / s.interactionTarget), weight: w.interaction },
    { name: 'spending', label: '消费能力', measure: i.spend90, value: 1 - Math.exp(-Math.max(0, i.spend90) / s.spendScale), weight: w.spending },
    { name: 'activeTime', label: '活跃时长', measure: i.activeDays30, value: Math.min(30, i.activeDays30) / 30, weight: w.activeTime },
    { name: 'recency', label: '最近活跃', measure: days, value: days === null ? 0 : 0.5 ** (days / s.recencyHalfLifeDays), weight: w.recency },
    { name: 'referral', label: '推荐裂变', measure: i.invitees, value: Math.min(1, i.invitees / s.referralTarget), weight: w.referral },
  ]);
  return { profileId: i.profileId, score: r.score, components: r.components, tier: tierOf(r.score, s) };
}

/** Workspace aggregates the composite indices are computed from. */
export interface WorkspaceAggregates {
  /** Live (not merged-away) profiles. */
  profiles: number;
  /** Live profiles with at least one order / at least two orders. */
  buyers: number;
  repeaters: number;
  /** Distinct profiles with an event in (now − 30 days, now] (MAU). */
  active30: number;
  /** Σ over those profiles of their distinct active days in the window (= Σ of daily actives). */
  profileDays30: number;
}

export interface HealthIndicesValue {
  activity: WeightedScore;
  conversion: WeightedScore;
  brandHealth: WeightedScore;
}

const share = (a: number, b: number) => (b > 0 ? a / b : 0);

export function healthIndices(a: WorkspaceAggregates, s: HealthSettings): HealthIndicesValue {
  const avgDau = a.profileDays30 / 30;
  const activity = weighted([
    { name: 'stickiness', label: '粘性 (DAU/MAU)', measure: avgDau, value: share(avgDau, a.active30), weight: s.activityWeights.stickiness },
    { name: 'activeShare', label: '30日活跃占比', measure: a.active30, value: share(a.active30, a.profiles), weight: s.activityWeights.activeShare },
  ]);
  const conversion = weighted([
    { name: 'orderedShare', label: '下单用户占比', measure: a.buyers, value: share(a.buyers, a.profiles), weight: s.conversionWeights.orderedShare },
    { name: 'repurchaseShare', label: '复购率', measure: a.repeaters, value: share(a.repeaters, a.buyers), weight: s.conversionWeights.repurchaseShare },
  ]);
  const brandHealth = weighted([
    { name: 'scale', label: '用户规模', measure: a.profiles, value: Math.min(1, a.profiles / s.scaleTarget), weight: s.brandWeights.scale },
    { name: 'activity', label: '活跃度指数', measure: activity.score, value: activity.score / 100, weight: s.brandWeights.activity },
    { name: 'conversion', label: '转化效率指数', measure: conversion.score, value: conversion.score / 100, weight: s.brandWeights.conversion },
  ]);
  return { activity, conversion, brandHealth };
}
