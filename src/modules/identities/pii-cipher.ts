import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Phone numbers and e-mail addresses are stored encrypted (AES-256-GCM) and matched by a keyed hash
 * (HMAC-SHA-256), both derived from one master key (SIYU_PII_KEY) with HKDF. The hash is stable so it
 * can be a primary key; the ciphertext carries a key id so encryption keys can be rotated (see README).
 */
export class PiiCipher {
  private readonly encKeys: ReadonlyMap<string, Buffer>;
  private readonly encKey: Buffer;
  private readonly macKey: Buffer;
  readonly keyId: string;

  /**
   * From a master key: the data keys are derived from it with HKDF (key id `k1`). Deployments
   * keep these derived keys in the database keyring wrapped by the master key (see `pii-keyring.ts`),
   * so the master key can be rotated without touching data.
   */
  constructor(masterKey: Buffer, keyId = 'k1') {
    if (masterKey.length < 32) throw new RangeError('PII master key must be at least 32 bytes');
    const keys = PiiCipher.derive(masterKey);
    this.macKey = keys.mac;
    this.encKeys = new Map([[keyId, keys.enc]]);
    this.encKey = keys.enc;
    this.keyId = keyId;
  }

  /** The data keys HKDF derives from a master key (what a keyring starts with). */
  static derive(masterKey: Buffer): { mac: Buffer; enc: Buffer } {
    return {
      enc: Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'siyu pii encryption', 32)),
      mac: Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'siyu pii matching', 32)),
    };
  }

  /** From data keys: one matching key, encryption keys by id, new ciphertexts under `current`. */
  static fromKeys(mac: Buffer, enc: ReadonlyMap<string, Buffer>, current: string): PiiCipher {
    const c = Object.create(PiiCipher.prototype) as PiiCipher;
    const key = enc.get(current);
    if (!key) throw new RangeError(`no encryption key ${current}`);
    Object.assign(c, { macKey: mac, encKeys: enc, encKey: key, keyId: current });
    return c;
  }

  /** Deterministic keyed hash of a normalised value: the identifier's match key. */
  hash(type: string, normalised: string): string {
    return createHmac('sha256', this.macKey).update(`${type}\u0000${normalised}`).digest('base64url');
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.encKey, iv);
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return [this.keyId, iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  /** Decrypts with the key the ciphertext names (older keys stay readable after a rotation). */
  decrypt(sealed: string): string {
    const [id, iv, tag, ct] = sealed.split('.');
    const key = this.encKeys.get(id);
    if (!key) throw new RangeError(`ciphertext under unknown PII key id ${id}`);
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
  }

  /** Key id of a ciphertext. */
  static keyIdOf(sealed: string): string {
    return sealed.slice(0, sealed.indexOf('.'));
  }
}

/** `+8613812345678` → `138****5678`; other countries keep their code: `+14155552671` → `+141****2671`. */
export function maskPhone(e164: string): string {
  const national = e164.startsWith('+86') ? e164.slice(3) : e164;
  if (national.length <= 7) return national.slice(0, 2) + '****';
  return national.slice(0, national.length - 8) + '****' + national.slice(-4);
}

/** `li.lei@example.com` → `l***@example.com`. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return email[0] + '***' + email.slice(at);
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CN_MOBILE = /^(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}$/;
const E164 = /^\+[1-9]\d{7,14}$/;
const CN_ID_CARD = /^\d{17}[\dXx]$/;
/** Keys whose values are personal data whatever they look like (address, ID numbers, names of contact fields). */
const PERSONAL_KEY = /(phone|mobile|tel|e-?mail|mail|id_?card|id_?number|passport|address|addr|身份证|手机|电话|邮箱|地址)|^ip$/i;
/** Emails and phone numbers inside free text. */
const EMAIL_IN_TEXT = /[^\s@<>()"',;:]+@[^\s@<>()"',;:]+\.[A-Za-z]{2,}/g;
const MOBILE_IN_TEXT = /(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)/g;

function maskString(s: string, personalKey: boolean): string {
  const t = s.trim();
  if (EMAIL.test(t)) return maskEmail(t.toLowerCase());
  if (CN_MOBILE.test(t)) return maskPhone(`+86${t.replace(/\D/g, '').slice(-11)}`);
  if (E164.test(t)) return maskPhone(t);
  if (CN_ID_CARD.test(t)) return `${t.slice(0, 3)}***********${t.slice(-4)}`;
  if (personalKey) return t.length <= 2 ? '***' : `${t.slice(0, 1)}***`;
  return s.replace(EMAIL_IN_TEXT, (m) => maskEmail(m.toLowerCase())).replace(MOBILE_IN_TEXT, (m) => maskPhone(`+86${m.replace(/\D/g, '').slice(-11)}`));
}

/**
 * Masks personal data inside free-form JSON (event properties, context, traits) for callers without
 * the PII scope: e-mail addresses, phone numbers and Chinese ID numbers wherever they appear, and
 * every string under a key that names contact or identity data (phone, email, address, id card, …).
 * Returns a copy; other values are unchanged.
 */
export function maskPersonalJson(value: unknown, personalKey = false, depth = 0): unknown {
  if (depth > 32) return value;
  if (typeof value === 'string') return maskString(value, personalKey);
  if (typeof value === 'number' && personalKey) return '***';
  if (Array.isArray(value)) return value.map((v) => maskPersonalJson(v, personalKey, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, maskPersonalJson(v, personalKey || PERSONAL_KEY.test(k), depth + 1)]));
  }
  return value;
}
