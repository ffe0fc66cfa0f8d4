import { idKey, type EventIdentifier } from './identity-graph';
import { PII_TYPES } from './identifier-type';
import type { IdentityRules } from './identity-rules';
import { normaliseIdentifier } from './normalize';
import type { PiiCipher } from './pii-cipher';

/** An identifier ready for the graph and the database: match key, and ciphertext for PII types. */
export interface PreparedIdentifier extends EventIdentifier {
  valueKey: string;
  valueEnc: string | null;
}

export type PrepareResult =
  | { ok: true; id: PreparedIdentifier }
  | { ok: false; dropped: true }
  | { ok: false; dropped: false; field: string; reason: string; message: string };

/** Normalises one identifier and derives its match key (keyed hash + ciphertext for phone/e-mail). */
export function prepareIdentifier(input: { type?: unknown; namespace?: unknown; value?: unknown }, rules: IdentityRules, cipher: PiiCipher): PrepareResult {
  const n = normaliseIdentifier(input, rules);
  if (!n.ok) return n.dropped ? { ok: false, dropped: true } : { ok: false, dropped: false, field: n.field, reason: n.reason, message: n.message };
  const pii = PII_TYPES.has(n.type);
  const valueKey = pii ? cipher.hash(n.type, n.value) : n.value;
  return {
    ok: true,
    id: {
      key: idKey(n.type, n.namespace, valueKey),
      type: n.type,
      namespace: n.namespace,
      priority: rules.priority(n.type),
      valueKey,
      valueEnc: pii ? cipher.encrypt(n.value) : null,
    },
  };
}
