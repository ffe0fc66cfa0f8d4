import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Phone numbers and e-mail addresses are stored encrypted (AES-256-GCM) and matched by a keyed hash
 * (HMAC-SHA-256), both derived from one master key (SIYU_PII_KEY) with HKDF. The hash is stable so it
 * can be a primary key; the ciphertext carries a key id so the key can be rotated (see README).
 */
export class PiiCipher {
  private readonly encKey: Buffer;
  private readonly macKey: Buffer;
  readonly keyId: string;

  constructor(masterKey: Buffer, keyId = 'k1') {
    if (masterKey.length < 32) throw new RangeError('PII master key must be at least 32 bytes');
    this.encKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'siyu pii encryption', 32));
    this.macKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'siyu pii matching', 32));
    this.keyId = keyId;
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

  decrypt(sealed: string): string {
    const [, iv, tag, ct] = sealed.split('.');
    const d = createDecipheriv('aes-256-gcm', this.encKey, Buffer.from(iv, 'base64url'));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
  }
}

/** `+8613812345678` → `138****5678`; other countries keep their code: `+1415****2671`. */
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
