import { createHash } from 'node:crypto';
import type { VariantDef } from './experiment.definition';

/**
 * The bucket of an identifier in an experiment: the first 52 bits of
 * SHA-256(experiment key ‖ 0x00 ‖ identifier key), as a number in [0, 1). Uniform, deterministic,
 * independent between experiments (the key is part of the hash).
 */
export function bucketOf(experimentKey: string, identifierKey: string): number {
  const h = createHash('sha256').update(experimentKey, 'utf8').update('\u0000').update(identifierKey, 'utf8').digest();
  return (h.readUInt32BE(0) * 2 ** 20 + (h.readUInt32BE(4) >>> 12)) / 2 ** 52;
}

/**
 * The variant a bucket gets: enrolled when bucket < rollout/100 (so raising a grey release's rollout
 * keeps everyone already in it); then u = bucket ÷ (rollout/100), uniform in [0, 1), picks the first
 * variant (in definition order) whose cumulative share of the weights exceeds u. Null: not enrolled.
 */
export function variantForBucket(def: { rolloutPercent: number; variants: readonly VariantDef[] }, bucket: number): VariantDef | null {
  const rollout = def.rolloutPercent / 100;
  if (!(bucket < rollout) || !def.variants.length) return null;
  const u = bucket / rollout;
  const total = def.variants.reduce((s, v) => s + v.weight, 0);
  let cumulative = 0;
  for (const v of def.variants) {
    cumulative += v.weight / total;
    if (u < cumulative) return v;
  }
  return def.variants[def.variants.length - 1];
}

/**
 * The pure assignment `assignVariant` uses for a person not yet exposed: the variant for the bucket
 * of (experiment key, canonical identifier key), or null outside the rollout.
 */
export function assignmentOf(def: { key: string; rolloutPercent: number; variants: readonly VariantDef[] }, identifierKey: string): VariantDef | null {
  return variantForBucket(def, bucketOf(def.key, identifierKey));
}

/**
 * A person's canonical identifier: of the identifiers they hold (internal keys
 * `type \u0001 namespace \u0001 value key`), the one of the highest-priority type in the identity
 * rules (member_id before unionid before phone …), ties broken by the smaller key. Every identifier
 * of the same person therefore lands in the same bucket.
 */
export function canonicalIdentifierKey(keys: readonly string[], priority: (type: string) => number): string {
  let best: string | null = null;
  let bestPriority = Infinity;
  for (const k of keys) {
    const raw = priority(k.slice(0, k.indexOf('\u0001')));
    const p = Number.isFinite(raw) ? raw : Number.MAX_SAFE_INTEGER;
    if (p < bestPriority || (p === bestPriority && best !== null && k < best)) {
      best = k;
      bestPriority = p;
    }
  }
  if (best === null) throw new TypeError('a person holds at least one identifier');
  return best;
}
