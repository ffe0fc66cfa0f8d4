import { AppError } from '../../platform/errors';
import { AttributionErrorCode } from './attribution.errors';

/** A conversion definition: events named `event` are conversions, valued by `valueProperty`. */
export interface ConversionDefinition {
  key: string;
  event: string;
  /** `revenue`: the order value as ingest validated it (`properties.revenue`, else `properties.total`); another name: that number property, else 0. */
  valueProperty: string;
}

/** Attribution settings of a workspace (a new version on every change; paths closed after it use it). */
export interface AttributionSettings {
  /** Touches count for a conversion this many days before it, and a run of touches closes as non-converting this long after its last touch (1–90). */
  lookbackDays: number;
  /** TIME_DECAY: a touch this many days before the conversion weighs half as much as one at it (0.1–90). */
  halfLifeDays: number;
  /** 1–5 conversion definitions; an event matching one is a conversion, never a touch. */
  conversions: ConversionDefinition[];
  /** Touch filter: only events of these names are touches (null: every track, page and screen event that is not a conversion). */
  touchEvents: string[] | null;
}

export const DEFAULT_CONVERSION: ConversionDefinition = { key: 'order', event: 'Order Completed', valueProperty: 'revenue' };

export const DEFAULT_ATTRIBUTION_SETTINGS: AttributionSettings = Object.freeze({
  lookbackDays: 7,
  halfLifeDays: 7,
  conversions: [DEFAULT_CONVERSION],
  touchEvents: null,
}) as AttributionSettings;

export interface AttributionSettingsPatch {
  lookbackDays?: number | null;
  halfLifeDays?: number | null;
  conversions?: { key: string; event: string; valueProperty?: string | null }[] | null;
  touchEvents?: string[] | null;
  /** Set true to clear the touch filter (every event is a touch again). */
  clearTouchEvents?: boolean | null;
}

const KEY = /^[a-z][a-z0-9_]{0,39}$/;
const bad = (field: string, message: string) => AppError.badInput(AttributionErrorCode.INVALID_ATTRIBUTION_SETTINGS, field, message);
const name = (v: unknown, field: string): string => {
  if (typeof v !== 'string' || !v.trim() || v.trim().length > 200) throw bad(field, `${field} must be 1–200 characters`);
  return v.trim();
};

/** The settings after a patch, validated all or nothing (a typed error names the field). */
export function applyPatch(current: AttributionSettings, p: AttributionSettingsPatch): AttributionSettings {
  const next: AttributionSettings = { ...current, conversions: [...current.conversions], touchEvents: current.touchEvents ? [...current.touchEvents] : null };
  if (p.lookbackDays !== undefined && p.lookbackDays !== null) {
    if (!Number.isInteger(p.lookbackDays) || p.lookbackDays < 1 || p.lookbackDays > 90) throw bad('input.lookbackDays', 'lookbackDays must be a whole number of days in 1–90');
    next.lookbackDays = p.lookbackDays;
  }
  if (p.halfLifeDays !== undefined && p.halfLifeDays !== null) {
    if (!Number.isFinite(p.halfLifeDays) || p.halfLifeDays < 0.1 || p.halfLifeDays > 90) throw bad('input.halfLifeDays', 'halfLifeDays must be in 0.1–90');
    next.halfLifeDays = p.halfLifeDays;
  }
  if (p.conversions !== undefined && p.conversions !== null) {
    if (p.conversions.length < 1 || p.conversions.length > 5) throw bad('input.conversions', 'give 1–5 conversion definitions');
    const keys = new Set<string>();
    next.conversions = p.conversions.map((c, i) => {
      if (typeof c.key !== 'string' || !KEY.test(c.key)) throw bad(`input.conversions.${i}.key`, 'a key is 1–40 characters: a lower-case letter, then letters, digits or _');
      if (keys.has(c.key)) throw bad(`input.conversions.${i}.key`, `the key ${c.key} is given twice`);
      keys.add(c.key);
      return { key: c.key, event: name(c.event, `input.conversions.${i}.event`), valueProperty: c.valueProperty ? name(c.valueProperty, `input.conversions.${i}.valueProperty`) : 'revenue' };
    });
  }
  if (p.clearTouchEvents) {
    if (p.touchEvents) throw bad('input.touchEvents', 'give touchEvents or clearTouchEvents, not both');
    next.touchEvents = null;
  } else if (p.touchEvents !== undefined && p.touchEvents !== null) {
    if (p.touchEvents.length < 1 || p.touchEvents.length > 100) throw bad('input.touchEvents', 'give 1–100 event names (or clearTouchEvents)');
    next.touchEvents = [...new Set(p.touchEvents.map((t, i) => name(t, `input.touchEvents.${i}`)))];
  }
  const conversionEvents = new Set(next.conversions.map((c) => c.event));
  const both = next.touchEvents?.find((t) => conversionEvents.has(t));
  if (both) throw bad('input.touchEvents', `${both} is a conversion event: it cannot also be a touch`);
  return next;
}

/** Stored settings with the defaults filled in (settings written by an older version may lack a field). */
export function withDefaults(s: Partial<AttributionSettings> | null | undefined): AttributionSettings {
  return {
    lookbackDays: s?.lookbackDays ?? DEFAULT_ATTRIBUTION_SETTINGS.lookbackDays,
    halfLifeDays: s?.halfLifeDays ?? DEFAULT_ATTRIBUTION_SETTINGS.halfLifeDays,
    conversions: s?.conversions?.length ? s.conversions : [DEFAULT_CONVERSION],
    touchEvents: s?.touchEvents ?? null,
  };
}
