import type { Rejection } from '../../platform/errors';
import { ComplianceErrorCode } from './compliance.errors';

/** Purposes a person consents to (PIPL 个人信息保护法). */
export const CONSENT_PURPOSES = ['marketing', 'personalization', 'analytics', 'third_party_sharing', 'sensitive_pi'] as const;
export type ConsentPurposeKey = (typeof CONSENT_PURPOSES)[number];
export const CONSENT_STATES = ['granted', 'denied', 'withdrawn'] as const;
export type ConsentStateKey = (typeof CONSENT_STATES)[number];
export type ConsentPolicyKey = 'require_granted' | 'allow_unless_denied';

/** The track event that records one consent change on ingest. */
export const CONSENT_EVENT = 'Consent Updated';
const MAX_TEXT = 64;

export const isPurpose = (v: unknown): v is ConsentPurposeKey => typeof v === 'string' && (CONSENT_PURPOSES as readonly string[]).includes(v);
const asState = (v: unknown): ConsentStateKey | null => {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : null;
  return s && (CONSENT_STATES as readonly string[]).includes(s) ? (s as ConsentStateKey) : null;
};

/** One consent change found in an event. */
export interface EventConsent {
  purpose: ConsentPurposeKey;
  state: ConsentStateKey;
  policyVersion: string | null;
  source: string | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown): string | null | undefined {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || !v.trim() || v.length > MAX_TEXT) return undefined;
  return v.trim();
}

const bad = (field: string, message: string): { ok: false; rejection: Rejection } => ({
  ok: false,
  rejection: { reason: ComplianceErrorCode.INVALID_CONSENT, field, message },
});

/**
 * The consent changes an event carries (none for most events), or why its consent payload is
 * malformed. Two forms:
 * - `track` named `Consent Updated` with `properties: {purpose, state, policyVersion, source?}`;
 * - any event with `traits.consents: {<purpose>: <state>, ..., policyVersion?}`.
 */
export function consentsInEvent(e: { type: string; name: string | null; traits: Record<string, unknown> | null; properties: Record<string, unknown> | null }):
  | { ok: true; consents: EventConsent[] }
  | { ok: false; rejection: Rejection } {
  const out: EventConsent[] = [];
  if (e.type === 'track' && e.name === CONSENT_EVENT) {
    const p = e.properties ?? {};
    if (!isPurpose(p.purpose)) return bad('properties.purpose', `purpose must be one of ${CONSENT_PURPOSES.join(', ')}`);
    const state = asState(p.state);
    if (!state) return bad('properties.state', `state must be one of ${CONSENT_STATES.join(', ')}`);
    const policyVersion = text(p.policyVersion);
    if (!policyVersion) return bad('properties.policyVersion', `policyVersion (the privacy policy version the person saw) is a string of 1–${MAX_TEXT} characters`);
    const source = text(p.source);
    if (source === undefined) return bad('properties.source', `source is a string of 1–${MAX_TEXT} characters`);
    out.push({ purpose: p.purpose, state, policyVersion, source });
  }
  const c = e.traits?.consents;
  if (c !== undefined && c !== null) {
    if (!isObject(c)) return bad('traits.consents', 'traits.consents must be an object {<purpose>: "granted" | "denied" | "withdrawn", policyVersion?}');
    const policyVersion = text(c.policyVersion);
    if (policyVersion === undefined) return bad('traits.consents.policyVersion', `policyVersion is a string of 1–${MAX_TEXT} characters`);
    let n = 0;
    for (const [k, v] of Object.entries(c)) {
      if (k === 'policyVersion') continue;
      if (!isPurpose(k)) return bad(`traits.consents.${k}`, `unknown purpose ${JSON.stringify(k)}; purposes are ${CONSENT_PURPOSES.join(', ')}`);
      const state = asState(v);
      if (!state) return bad(`traits.consents.${k}`, `state must be one of ${CONSENT_STATES.join(', ')}`);
      out.push({ purpose: k, state, policyVersion, source: null });
      n++;
    }
    if (!n) return bad('traits.consents', 'traits.consents names no purpose');
  }
  return { ok: true, consents: out };
}
