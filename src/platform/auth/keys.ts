import { createHash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'siyu_';

/** A new random API key secret: `siyu_` + 32 url-safe characters (192 bits). */
export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(24).toString('base64url');
}

/** Keys are high-entropy random secrets, so a plain SHA-256 is the right storage hash (no salt/KDF needed). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function displayPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 6);
}

/** `Bearer <key>` (HTTP and graphql-ws connectionParams) or a bare key; null when absent. */
export function parseAuthorization(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const v = value.trim();
  if (!v || /^bearer$/i.test(v)) return null;
  const m = /^Bearer\s+(.+)$/i.exec(v);
  return (m ? m[1] : v).trim() || null;
}
