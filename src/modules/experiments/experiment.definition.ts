import { AppError } from '../../platform/errors';
import { ExperimentErrorCode as Code } from './experiment.errors';

/** The event that records a person's exposure to a variant (Segment spec). */
export const EXPERIMENT_VIEWED = 'Experiment Viewed';
/** The conversion event of an experiment that names none. */
export const DEFAULT_CONVERSION_EVENT = 'Order Completed';
export const DEFAULT_CONVERSION_WINDOW_DAYS = 7;
export const MAX_CONVERSION_WINDOW_DAYS = 90;
export const MAX_VARIANTS = 20;
export const MAX_WEIGHT = 1_000_000;
const MAX_KEY = 200;
const MAX_NAME = 200;

export interface VariantDef {
  key: string;
  name: string;
  /** Relative weight (> 0): the variant's share of the enrolled people is weight ÷ the sum of weights. */
  weight: number;
  control: boolean;
}

export interface ExperimentDef {
  key: string;
  name: string;
  variants: VariantDef[];
  /** 1–100: the share of people enrolled at all (below 100: a grey release). */
  rolloutPercent: number;
  clickEvent: string | null;
  conversionEvent: string;
  conversionWindowDays: number;
  /** Created from `Experiment Viewed` events for a key nobody had defined; false once an admin changes it. */
  autoCreated: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** What the GraphQL inputs carry; everything optional so that validation names the precise field. */
export interface VariantInputLike {
  key?: string | null;
  name?: string | null;
  weight?: number | null;
  control?: boolean | null;
}

export interface ExperimentInputLike {
  key?: string | null;
  name?: string | null;
  variants?: VariantInputLike[] | null;
  rolloutPercent?: number | null;
  clickEvent?: string | null;
  conversionEvent?: string | null;
  conversionWindowDays?: number | null;
}

/** Control characters (U+0000–U+001F, U+007F) would make keys unprintable in consoles and exports. */
const hasControlChars = (s: string) => [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

/** A key as events carry it (`experiment_id`, `variation_id`): 1–200 characters after trimming, no control characters; null when not one. */
export function keyOf(raw: unknown): string | null {
  const s = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : null;
  if (!s || s.length > MAX_KEY || hasControlChars(s)) return null;
  return s;
}

/** A display name: 1–200 characters after trimming; null when not one. */
function nameOf(raw: unknown): string | null {
  const s = typeof raw === 'string' ? raw.trim() : typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : null;
  if (!s || s.length > MAX_NAME || hasControlChars(s)) return null;
  return s;
}

export function validateKey(raw: unknown, field: string): string {
  const k = keyOf(raw);
  if (k === null) throw AppError.badInput(Code.INVALID_EXPERIMENT_KEY, field, `the key must be 1–${MAX_KEY} characters without control characters (it is the events' experiment_id)`);
  return k;
}

export function validateName(raw: unknown, field: string): string {
  const n = nameOf(raw);
  if (n === null) throw AppError.badInput(Code.INVALID_EXPERIMENT_NAME, field, `the name must be 1–${MAX_NAME} characters`);
  return n;
}

/** 2–20 variants with unique keys, weights > 0 and exactly one control. */
export function validateVariants(raw: VariantInputLike[] | null | undefined, field: string): VariantDef[] {
  if (!Array.isArray(raw) || raw.length < 2 || raw.length > MAX_VARIANTS) {
    throw AppError.badInput(Code.INVALID_VARIANTS, field, `an experiment needs 2–${MAX_VARIANTS} variants (a grey release: the control and the new version)`);
  }
  const seen = new Set<string>();
  const out = raw.map((v, i): VariantDef => {
    const key = keyOf(v?.key);
    if (key === null) throw AppError.badInput(Code.INVALID_VARIANT_KEY, `${field}.${i}.key`, `a variant key must be 1–${MAX_KEY} characters without control characters (it is the events' variation_id)`);
    if (seen.has(key)) throw AppError.badInput(Code.DUPLICATE_VARIANT_KEY, `${field}.${i}.key`, `variant key ${JSON.stringify(key)} is used twice`);
    seen.add(key);
    const name = v?.name === undefined || v?.name === null ? key : nameOf(v.name);
    if (name === null) throw AppError.badInput(Code.INVALID_VARIANT_NAME, `${field}.${i}.name`, `a variant name must be 1–${MAX_NAME} characters`);
    const weight = v?.weight ?? 1;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0 || weight > MAX_WEIGHT) {
      throw AppError.badInput(Code.INVALID_WEIGHT, `${field}.${i}.weight`, `a weight must be a number above 0 and at most ${MAX_WEIGHT}`);
    }
    return { key, name, weight, control: v?.control === true };
  });
  const controls = out.filter((v) => v.control).length;
  if (controls !== 1) throw AppError.badInput(Code.CONTROL_REQUIRED, field, `exactly one variant must be the control (control: true); ${controls} are`);
  return out;
}

export function validateRollout(raw: unknown, field: string): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > 100) throw AppError.badInput(Code.INVALID_ROLLOUT, field, 'rolloutPercent must be a whole number from 1 to 100');
  return raw;
}

export function validateEventName(raw: unknown, field: string): string {
  const n = nameOf(raw);
  if (n === null) throw AppError.badInput(Code.INVALID_EVENT_NAME, field, `an event name must be 1–${MAX_NAME} characters`);
  if (n === EXPERIMENT_VIEWED) throw AppError.badInput(Code.INVALID_EVENT_NAME, field, `${EXPERIMENT_VIEWED} records exposure; it cannot also be a click or conversion`);
  return n;
}

export function validateWindow(raw: unknown, field: string): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > MAX_CONVERSION_WINDOW_DAYS) {
    throw AppError.badInput(Code.INVALID_CONVERSION_WINDOW, field, `conversionWindowDays must be a whole number from 1 to ${MAX_CONVERSION_WINDOW_DAYS}`);
  }
  return raw;
}

/** A complete definition from a create input (defaults filled in), or a typed error naming the field. */
export function definitionFromInput(input: ExperimentInputLike, now: Date): ExperimentDef {
  return {
    key: validateKey(input.key, 'input.key'),
    name: validateName(input.name, 'input.name'),
    variants: validateVariants(input.variants, 'input.variants'),
    rolloutPercent: input.rolloutPercent === undefined || input.rolloutPercent === null ? 100 : validateRollout(input.rolloutPercent, 'input.rolloutPercent'),
    clickEvent: input.clickEvent === undefined || input.clickEvent === null ? null : validateEventName(input.clickEvent, 'input.clickEvent'),
    conversionEvent: input.conversionEvent === undefined || input.conversionEvent === null ? DEFAULT_CONVERSION_EVENT : validateEventName(input.conversionEvent, 'input.conversionEvent'),
    conversionWindowDays: input.conversionWindowDays === undefined || input.conversionWindowDays === null ? DEFAULT_CONVERSION_WINDOW_DAYS : validateWindow(input.conversionWindowDays, 'input.conversionWindowDays'),
    autoCreated: false,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * The definition after an update input: omitted fields stay; `clickEvent: ""` removes the click
 * event. An auto-created definition becomes an admin's (it stops growing from events).
 */
export function applyUpdate(current: ExperimentDef, input: Omit<ExperimentInputLike, 'key'>, now: Date): ExperimentDef {
  const given = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;
  return {
    ...current,
    name: given(input.name) ? validateName(input.name, 'input.name') : current.name,
    variants: given(input.variants) ? validateVariants(input.variants, 'input.variants') : current.variants,
    rolloutPercent: given(input.rolloutPercent) ? validateRollout(input.rolloutPercent, 'input.rolloutPercent') : current.rolloutPercent,
    clickEvent: input.clickEvent === '' ? null : given(input.clickEvent) ? validateEventName(input.clickEvent, 'input.clickEvent') : current.clickEvent,
    conversionEvent: given(input.conversionEvent) ? validateEventName(input.conversionEvent, 'input.conversionEvent') : current.conversionEvent,
    conversionWindowDays: given(input.conversionWindowDays) ? validateWindow(input.conversionWindowDays, 'input.conversionWindowDays') : current.conversionWindowDays,
    autoCreated: false,
    updatedAt: now,
  };
}

/** What an `Experiment Viewed` event says: which experiment and variant (keys, with names when given). */
export interface Exposure {
  experiment: string;
  experimentName: string | null;
  variant: string;
  variantName: string | null;
}

/**
 * The exposure an `Experiment Viewed` event records: `experiment_id` (else `experiment_name`) and
 * `variation_id` (else `variation_name`), strings or numbers. A rejection naming the property when
 * either is missing or unusable.
 */
export function exposureOf(properties: Record<string, unknown> | null): Exposure | { reason: string; field: string; message: string } {
  const p = properties ?? {};
  const experiment = keyOf(p.experiment_id ?? p.experiment_name);
  if (experiment === null) {
    return { reason: Code.INVALID_EXPOSURE, field: 'properties.experiment_id', message: `${EXPERIMENT_VIEWED} needs properties.experiment_id (or experiment_name): 1–${MAX_KEY} characters` };
  }
  const variant = keyOf(p.variation_id ?? p.variation_name);
  if (variant === null) {
    return { reason: Code.INVALID_EXPOSURE, field: 'properties.variation_id', message: `${EXPERIMENT_VIEWED} needs properties.variation_id (or variation_name): 1–${MAX_KEY} characters` };
  }
  return { experiment, experimentName: nameOf(p.experiment_name), variant, variantName: nameOf(p.variation_name) };
}

/**
 * The definition an `Experiment Viewed` event creates for a key nobody defined: the variant seen
 * (the control: the first one seen), equal weights, full rollout, the default conversion.
 */
export function autoDefinition(e: Exposure, now: Date): ExperimentDef {
  return {
    key: e.experiment,
    name: e.experimentName ?? e.experiment,
    variants: [{ key: e.variant, name: e.variantName ?? e.variant, weight: 1, control: true }],
    rolloutPercent: 100,
    clickEvent: null,
    conversionEvent: DEFAULT_CONVERSION_EVENT,
    conversionWindowDays: DEFAULT_CONVERSION_WINDOW_DAYS,
    autoCreated: true,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * The value of a conversion event in cents: the validated order value of `Order Completed`
 * (`BatchEvent.revenue`), else `properties.revenue` (or `total`) when it is a number from 0 to
 * 10¹² (a numeric string counts), else 0. The same rule reads stored events and batch events.
 */
export function conversionCents(revenue: number | null, properties: Record<string, unknown> | null): bigint {
  if (revenue !== null) return BigInt(Math.round(revenue * 100));
  const raw = properties?.revenue ?? properties?.total ?? 0;
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1e12) return 0n;
  return BigInt(Math.round(n * 100));
}
