import { AppError, ErrorClass, type FieldError } from '../../platform/errors';
import { HealthErrorCode } from './health.errors';

/** Weights of the per-profile health components; they sum to 1. */
export interface HealthWeights {
  interaction: number;
  spending: number;
  activeTime: number;
  recency: number;
  referral: number;
}

/** Lower bounds (inclusive) of the tiers on the 0–100 score; below `atRisk` is dormant. */
export interface HealthTierBounds {
  healthy: number;
  stable: number;
  atRisk: number;
}

export interface BrandHealthWeights {
  scale: number;
  activity: number;
  conversion: number;
}

export interface ActivityWeights {
  stickiness: number;
  activeShare: number;
}

export interface ConversionWeights {
  orderedShare: number;
  repurchaseShare: number;
}

/** A workspace's health settings (`health_settings.settings`, defaults below for what is not set). */
export interface HealthSettings {
  weights: HealthWeights;
  tiers: HealthTierBounds;
  /** Track event names that count as interactions (互动). */
  interactionEvents: string[];
  /** Interactions in the last 30 days that give the full interaction value. */
  interactionTarget: number;
  /** CNY; spending value = 1 − exp(−spend90 / spendScale). */
  spendScale: number;
  /** Days after which the recency value halves. */
  recencyHalfLifeDays: number;
  /** Invitees that give the full referral value. */
  referralTarget: number;
  /** Live profiles that give the full scale value of the brand health index. */
  scaleTarget: number;
  brandWeights: BrandHealthWeights;
  activityWeights: ActivityWeights;
  conversionWeights: ConversionWeights;
}

export const DEFAULT_HEALTH_SETTINGS: Readonly<HealthSettings> = Object.freeze({
  weights: { interaction: 0.25, spending: 0.25, activeTime: 0.2, recency: 0.2, referral: 0.1 },
  tiers: { healthy: 70, stable: 40, atRisk: 20 },
  interactionEvents: ['Message Sent', 'Liked', 'Content Shared', 'Group Joined', 'Comment Posted'],
  interactionTarget: 10,
  spendScale: 500,
  recencyHalfLifeDays: 14,
  referralTarget: 3,
  scaleTarget: 10_000,
  brandWeights: { scale: 0.2, activity: 0.3, conversion: 0.5 },
  activityWeights: { stickiness: 0.5, activeShare: 0.5 },
  conversionWeights: { orderedShare: 0.5, repurchaseShare: 0.5 },
});

/** Stored settings over the defaults (a group given replaces the default group as a whole). */
export function withDefaults(stored: Partial<HealthSettings> | null | undefined): HealthSettings {
  const d = DEFAULT_HEALTH_SETTINGS;
  const s = stored ?? {};
  return {
    weights: { ...d.weights, ...(s.weights ?? {}) },
    tiers: { ...d.tiers, ...(s.tiers ?? {}) },
    interactionEvents: [...(s.interactionEvents ?? d.interactionEvents)],
    interactionTarget: s.interactionTarget ?? d.interactionTarget,
    spendScale: s.spendScale ?? d.spendScale,
    recencyHalfLifeDays: s.recencyHalfLifeDays ?? d.recencyHalfLifeDays,
    referralTarget: s.referralTarget ?? d.referralTarget,
    scaleTarget: s.scaleTarget ?? d.scaleTarget,
    brandWeights: { ...d.brandWeights, ...(s.brandWeights ?? {}) },
    activityWeights: { ...d.activityWeights, ...(s.activityWeights ?? {}) },
    conversionWeights: { ...d.conversionWeights, ...(s.conversionWeights ?? {}) },
  };
}

export type HealthSettingsPatch = { [K in keyof HealthSettings]?: HealthSettings[K] | null };

/** Tolerance of the "weights sum to 1" rule. */
export const WEIGHT_SUM_TOLERANCE = 1e-6;

/**
 * Applies a patch (null/undefined = keep) and validates the result. Every problem is reported at
 * once, each on its input field; nothing is applied when there is one.
 */
export function applyPatch(current: HealthSettings, patch: HealthSettingsPatch): HealthSettings {
  const next: HealthSettings = withDefaults({
    ...current,
    ...(Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined && v !== null)) as Partial<HealthSettings>),
  });
  const errors = validateSettings(next, patch);
  if (errors.length) {
    throw new AppError(ErrorClass.BAD_USER_INPUT, HealthErrorCode.INVALID_HEALTH_SETTINGS, `Invalid health settings: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
  }
  return next;
}

export function validateSettings(s: HealthSettings, patch: HealthSettingsPatch = s): FieldError[] {
  const errors: FieldError[] = [];
  const given = (k: keyof HealthSettings) => patch[k] !== undefined && patch[k] !== null;
  const weightGroup = (k: 'weights' | 'brandWeights' | 'activityWeights' | 'conversionWeights') => {
    if (!given(k)) return;
    const w = s[k] as unknown as Record<string, number>;
    let ok = true;
    for (const [name, v] of Object.entries(w)) {
      if (!Number.isFinite(v) || v < 0 || v > 1) {
        errors.push({ field: `input.${k}.${name}`, message: `must be a number between 0 and 1; got ${v}` });
        ok = false;
      }
    }
    const sum = Object.values(w).reduce((a, b) => a + b, 0);
    if (ok && Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) {
      errors.push({ field: `input.${k}`, message: `weights must sum to 1 (±${WEIGHT_SUM_TOLERANCE}); they sum to ${round(sum, 9)}` });
    }
  };
  weightGroup('weights');
  weightGroup('brandWeights');
  weightGroup('activityWeights');
  weightGroup('conversionWeights');

  if (given('tiers')) {
    const t = s.tiers;
    let ok = true;
    for (const [name, v] of Object.entries(t)) {
      if (!Number.isFinite(v) || v <= 0 || v > 100) {
        errors.push({ field: `input.tiers.${name}`, message: `must be a number in (0, 100]; got ${v}` });
        ok = false;
      }
    }
    if (ok && !(t.healthy > t.stable && t.stable > t.atRisk)) {
      errors.push({ field: 'input.tiers', message: `boundaries must be strictly descending: healthy > stable > atRisk; got ${t.healthy} / ${t.stable} / ${t.atRisk}` });
    }
  }

  if (given('interactionEvents')) {
    const names = s.interactionEvents;
    if (names.length < 1 || names.length > 50) errors.push({ field: 'input.interactionEvents', message: `give 1–50 event names; got ${names.length}` });
    const seen = new Set<string>();
    names.forEach((n, i) => {
      if (typeof n !== 'string' || n.trim() === '' || n.length > 200 || n !== n.trim()) {
        errors.push({ field: `input.interactionEvents.${i}`, message: 'an event name is 1–200 characters without surrounding spaces' });
      } else if (seen.has(n)) errors.push({ field: `input.interactionEvents.${i}`, message: `duplicate event name ${JSON.stringify(n)}` });
      seen.add(n);
    });
  }

  const positive = (k: 'interactionTarget' | 'spendScale' | 'recencyHalfLifeDays' | 'referralTarget' | 'scaleTarget', max: number, integer = false) => {
    if (!given(k)) return;
    const v = s[k];
    if (!Number.isFinite(v) || v <= 0 || v > max || (integer && !Number.isInteger(v))) {
      errors.push({ field: `input.${k}`, message: `must be ${integer ? 'an integer' : 'a number'} greater than 0 and at most ${max}; got ${v}` });
    }
  };
  positive('interactionTarget', 1e6);
  positive('spendScale', 1e9);
  positive('recencyHalfLifeDays', 3650);
  positive('referralTarget', 1e6);
  positive('scaleTarget', 1e9, true);
  return errors;
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
