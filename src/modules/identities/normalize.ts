import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { IDENTIFIER_TYPES, isIdentifierType, type IdentifierType } from './identifier-type';
import type { IdentityRules } from './identity-rules';

export const MAX_IDENTIFIER_LENGTH = 256;
export const MAX_NAMESPACE_LENGTH = 128;

export type NormaliseResult =
  | { ok: true; type: IdentifierType; namespace: string; value: string }
  | { ok: false; dropped: true; reason: 'BLOCKED_VALUE' }
  | { ok: false; dropped: false; field: 'type' | 'namespace' | 'value'; reason: string; message: string };

export function normalisePhone(raw: string, defaultRegion = 'CN'): string | null {
  const p = parsePhoneNumberFromString(raw.trim(), defaultRegion as 'CN');
  return p && p.isPossible() ? p.number : null;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Step 1 of resolution: normalise (phone → E.164, e-mail → trimmed lower-case, others trimmed) and
 * drop blocked values. Malformed input is an error for the event; a blocked value is dropped quietly
 * (and counted) — it never identifies anyone.
 */
export function normaliseIdentifier(
  input: { type?: unknown; namespace?: unknown; value?: unknown },
  rules: IdentityRules,
): NormaliseResult {
  const { type } = input;
  if (!isIdentifierType(type)) {
    return { ok: false, dropped: false, field: 'type', reason: 'UNKNOWN_IDENTIFIER_TYPE', message: `unknown identifier type ${JSON.stringify(type)}; expected one of ${Object.keys(IDENTIFIER_TYPES).join(', ')}` };
  }
  if (typeof input.value !== 'string' && typeof input.value !== 'number') {
    return { ok: false, dropped: false, field: 'value', reason: 'INVALID_IDENTIFIER', message: 'value must be a string' };
  }
  const raw = String(input.value).trim();
  if (rules.isBlocked(raw)) return { ok: false, dropped: true, reason: 'BLOCKED_VALUE' };
  if (raw.length > MAX_IDENTIFIER_LENGTH) {
    return { ok: false, dropped: false, field: 'value', reason: 'INVALID_IDENTIFIER', message: `value is longer than ${MAX_IDENTIFIER_LENGTH} characters` };
  }
  let namespace = '';
  if (IDENTIFIER_TYPES[type].namespaced) {
    namespace = typeof input.namespace === 'string' ? input.namespace.trim() : '';
    if (!namespace) {
      return { ok: false, dropped: false, field: 'namespace', reason: 'NAMESPACE_REQUIRED', message: `${type} needs a namespace (${type.startsWith('wechat_openid') ? 'the app id' : type.startsWith('wecom') ? 'the corp id' : 'the issuing account'})` };
    }
    if (namespace.length > MAX_NAMESPACE_LENGTH) {
      return { ok: false, dropped: false, field: 'namespace', reason: 'INVALID_IDENTIFIER', message: `namespace is longer than ${MAX_NAMESPACE_LENGTH} characters` };
    }
  } else if (input.namespace !== undefined && input.namespace !== null && input.namespace !== '') {
    return { ok: false, dropped: false, field: 'namespace', reason: 'NAMESPACE_NOT_ALLOWED', message: `${type} has no namespace` };
  }
  let value = raw;
  if (type === 'phone') {
    const p = normalisePhone(raw);
    if (!p) return { ok: false, dropped: false, field: 'value', reason: 'INVALID_PHONE', message: `not a phone number: expected e.g. 13812345678 or +8613812345678` };
    value = p;
  } else if (type === 'email') {
    value = raw.toLowerCase();
    if (!EMAIL.test(value)) return { ok: false, dropped: false, field: 'value', reason: 'INVALID_EMAIL', message: 'not an e-mail address' };
  }
  if (rules.isBlocked(value)) return { ok: false, dropped: true, reason: 'BLOCKED_VALUE' };
  return { ok: true, type, namespace, value };
}
