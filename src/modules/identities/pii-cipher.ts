import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { maskEmail, maskMatch, maskPersonalText, maskPhone, wholePersonalValue } from '../../platform/privacy';

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

export { maskEmail, maskPhone };

const CN_ID_CARD = /^\d{17}[\dXx]$/;
/** Keys whose values are personal data whatever they look like (address, ID numbers, names of contact fields). */
const PERSONAL_KEY = /(phone|mobile|tel|e-?mail|mail|id_?card|id_?number|passport|address|addr|身份证|手机|电话|邮箱|地址)|^ip$/i;

function maskString(s: string, personalKey: boolean): string {
  const t = s.trim();
  const whole = wholePersonalValue(t);
  if (whole) return maskMatch(whole);
  if (CN_ID_CARD.test(t)) return `${t.slice(0, 3)}***********${t.slice(-4)}`;
  if (personalKey) return t.length <= 2 ? '***' : `${t.slice(0, 1)}***`;
  return maskPersonalText(s);
}

/**
 * Masks personal data inside free-form JSON (event properties, context, traits) for callers without
 * the PII scope: e-mail addresses, phone numbers and Chinese ID numbers wherever they appear, and
 * every string under a key that names contact or identity data (phone, email, address, id card, …),
 * in keys as in values, in every documented phone format (`platform/privacy`). Returns a copy; other values are unchanged.
 */
export function maskPersonalJson(value: unknown, personalKey = false, depth = 0): unknown {
  // Deeper than any real payload: masked whole rather than walked (and never returned as it is).
  if (depth > 32) return '***';
  if (typeof value === 'string') return maskString(value, personalKey);
  if (typeof value === 'number') {
    if (personalKey) return '***';
    const phone = wholePersonalValue(value);
    return phone ? maskMatch(phone) : value;
  }
  if (Array.isArray(value)) return value.map((v) => maskPersonalJson(v, personalKey, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [maskPersonalText(k), maskPersonalJson(v, personalKey || PERSONAL_KEY.test(k), depth + 1)]));
  }
  return value;
}
