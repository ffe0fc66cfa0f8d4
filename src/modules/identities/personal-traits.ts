import { findPersonalData, wholePersonalValue } from '../../platform/privacy';
import { normalisePhone } from './normalize';
import type { PiiCipher } from './pii-cipher';

/**
 * Phones and e-mails are never plain traits (docs/privacy.md, "Personal data in traits"):
 *
 * - a top-level trait (or one inside `contact`) whose key names a phone or an e-mail — compared
 *   case-insensitively without `_`, `-`, `.` or spaces: `mobile`, `phone_number`, `Phone`, `tel`,
 *   `cellphone`, `手机`, `电话`, `e_mail`, `mail`, `邮箱`, `contact.email`, … — and whose value is one
 *   becomes an identifier, like `traits.phone` / `traits.email`;
 * - any other trait value that is or contains a phone number or an e-mail address (a string, free
 *   text, a number such as `15076740179`), and any value under such a key, is stored sealed:
 *   `{"$pii": "<AES-256-GCM ciphertext of its JSON>"}`, read back decrypted for callers with the
 *   PII scope and masked for the others.
 */
const PHONE_KEYS = new Set([
  'phone', 'phonenumber', 'phoneno', 'mobile', 'mobilephone', 'mobilenumber', 'mobileno', 'tel', 'telephone', 'cellphone',
  'cell', 'cellnumber', '手机', '手机号', '手机号码', '电话', '电话号码', '联系电话', '移动电话',
]);
const EMAIL_KEYS = new Set(['email', 'emailaddress', 'mail', 'mailaddress', '邮箱', '邮件', '电子邮箱', '电子邮件', '邮箱地址']);
const CONTACT_KEYS = new Set(['contact', 'contacts', 'contactinfo', '联系方式']);
const MAX_DEPTH = 32;

const normKey = (k: string) => k.normalize('NFKC').toLowerCase().replace(/[\s_.-]/g, '');

/** `phone` or `email` when a trait key names one (`Mobile`, `phone_number`, `e-mail`, `手机`, …), else null. */
export function personalTraitKind(key: string): 'phone' | 'email' | null {
  const k = normKey(key);
  return PHONE_KEYS.has(k) ? 'phone' : EMAIL_KEYS.has(k) ? 'email' : null;
}

/** A scalar that, under a key naming a phone or e-mail, is stored sealed whatever it looks like. */
const isContactScalar = (v: unknown) => (typeof v === 'string' && v.trim() !== '') || typeof v === 'number';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A trait value found to be a phone/e-mail identifier, with the field it came from. */
export interface TraitIdentifier {
  type: 'phone' | 'email';
  value: string;
  field: string;
}

function asIdentifier(kind: 'phone' | 'email', v: unknown): string | null {
  if (typeof v !== 'string' && typeof v !== 'number') return null;
  const whole = wholePersonalValue(v);
  if (whole) return whole.type === kind ? whole.value : null;
  return kind === 'phone' ? normalisePhone(String(v)) : null;
}

/** Whether a value holds a phone number or e-mail address anywhere (keys included). */
function holdsPersonalData(v: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH) return true;
  if (typeof v === 'string') return findPersonalData(v).length > 0;
  if (typeof v === 'number') return wholePersonalValue(v) !== null;
  if (Array.isArray(v)) return v.some((x) => holdsPersonalData(x, depth + 1));
  if (isPlainObject(v)) return Object.entries(v).some(([k, x]) => findPersonalData(k).length > 0 || (personalTraitKind(k) !== null && isContactScalar(x)) || holdsPersonalData(x, depth + 1));
  return false;
}

/**
 * Splits event traits into the phones and e-mails that become identifiers and the traits to store,
 * in which every other phone or e-mail is sealed. Exactly `phone` / `email` are left to the caller
 * (they are validated strictly); `null` when nothing is left.
 */
export function separatePersonalTraits(traits: Record<string, unknown>, cipher: PiiCipher): { traits: Record<string, unknown> | null; identifiers: TraitIdentifier[] } {
  const identifiers: TraitIdentifier[] = [];
  const seal = (v: unknown) => ({ $pii: cipher.encrypt(JSON.stringify(v)) });
  const keep = (v: unknown) => (holdsPersonalData(v) ? seal(v) : v);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(traits)) {
    const kind = personalTraitKind(k);
    if (kind) {
      const value = asIdentifier(kind, v);
      if (value) identifiers.push({ type: kind, value, field: `traits.${k}` });
      else out[k] = isContactScalar(v) ? seal(v) : keep(v);
    } else if (CONTACT_KEYS.has(normKey(k)) && isPlainObject(v)) {
      const rest: Record<string, unknown> = {};
      for (const [ck, cv] of Object.entries(v)) {
        const ckind = personalTraitKind(ck);
        const value = ckind ? asIdentifier(ckind, cv) : null;
        if (ckind && value) identifiers.push({ type: ckind, value, field: `traits.${k}.${ck}` });
        else rest[ck] = ckind && isContactScalar(cv) ? seal(cv) : keep(cv);
      }
      if (Object.keys(rest).length) out[k] = rest;
    } else {
      out[k] = keep(v);
    }
  }
  return { traits: Object.keys(out).length ? out : null, identifiers };
}

const isSealed = (v: unknown): v is { $pii: string } => isPlainObject(v) && typeof v.$pii === 'string' && Object.keys(v).length === 1;

/** A copy of stored JSON with every sealed value (`{"$pii": …}`) decrypted; other values as they are. */
export function revealPersonalJson(value: unknown, cipher: PiiCipher, depth = 0): unknown {
  if (depth > MAX_DEPTH) return value;
  if (isSealed(value)) return JSON.parse(cipher.decrypt(value.$pii)) as unknown;
  if (Array.isArray(value)) return value.map((v) => revealPersonalJson(v, cipher, depth + 1));
  if (isPlainObject(value) && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealPersonalJson(v, cipher, depth + 1)]));
  }
  return value;
}
