import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { ConfigError } from '../../platform/config';
import type { Logger } from '../../platform/logging';
import { PiiCipher } from './pii-cipher';

/**
 * Envelope encryption for personal data. The data keys (one matching/HMAC key, and encryption keys
 * by id) live in the database table `pii_keyring`, each wrapped (AES-256-GCM) by a key derived from
 * the master key `SIYU_PII_KEY`. Rotating the master key re-wraps a few bytes; rotating the
 * encryption key adds a new data key for new ciphertexts (old ones stay readable by id) and can
 * re-encrypt stored phones and e-mails in batches. The matching key never changes: identifiers are
 * keyed by its hashes (changing it would re-key every identifier, event and suppression entry).
 */

interface StoredKeyring {
  v: 1;
  /** Identifies the master key that wraps this keyring (not secret-revealing: an HMAC). */
  fingerprint: string;
  mac: string;
  enc: Record<string, string>;
  current: string;
}

const ROW = 'pii';

function kek(master: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'siyu pii key wrapping', 32));
}

export function masterFingerprint(master: Buffer): string {
  const k = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'siyu pii fingerprint', 32));
  return createHmac('sha256', k).update('siyu').digest('base64url').slice(0, 22);
}

function wrap(master: Buffer, key: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek(master), iv);
  const ct = Buffer.concat([c.update(key), c.final()]);
  return [iv, c.getAuthTag(), ct].map((b) => b.toString('base64url')).join('.');
}

function unwrap(master: Buffer, wrapped: string): Buffer {
  const [iv, tag, ct] = wrapped.split('.').map((x) => Buffer.from(x, 'base64url'));
  const d = createDecipheriv('aes-256-gcm', kek(master), iv);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

async function read(em: EntityManager, lock = false): Promise<StoredKeyring | null> {
  const [r] = await em.query(`SELECT keyring FROM pii_keyring WHERE id = $1 ${lock ? 'FOR UPDATE' : ''}`, [ROW]);
  return r ? (r.keyring as StoredKeyring) : null;
}

function open(k: StoredKeyring, master: Buffer, variable: string): PiiCipher {
  if (k.fingerprint !== masterFingerprint(master)) {
    throw new ConfigError([
      {
        variable,
        message: 'does not open the PII keyring of this database: it is not the key the data was protected with (after `siyu pii-key rotate`, use the new key)',
      },
    ]);
  }
  const enc = new Map(Object.entries(k.enc).map(([id, w]) => [id, unwrap(master, w)]));
  return PiiCipher.fromKeys(unwrap(master, k.mac), enc, k.current);
}

function seal(master: Buffer, mac: Buffer, enc: ReadonlyMap<string, Buffer>, current: string): StoredKeyring {
  return {
    v: 1,
    fingerprint: masterFingerprint(master),
    mac: wrap(master, mac),
    enc: Object.fromEntries([...enc].map(([id, key]) => [id, wrap(master, key)])),
    current,
  };
}

/**
 * The cipher of this database. The first start creates the keyring from the master key's HKDF
 * derivation (so data written before the keyring existed stays readable and matchable).
 */
export async function openPiiCipher(ds: DataSource, master: Buffer, log: Logger, variable = 'SIYU_PII_KEY'): Promise<PiiCipher> {
  const [exists] = await ds.query(`SELECT to_regclass('public.pii_keyring') IS NOT NULL AS ok`);
  if (!exists.ok) {
    // Migrations pending (the server reports not ready): the keyring's starting keys, not stored.
    log.warn('no PII keyring table yet (migrations pending): using keys derived from SIYU_PII_KEY');
    return new PiiCipher(master);
  }
  let k = await read(ds.manager);
  if (!k) {
    const d = PiiCipher.derive(master);
    await ds.query(`INSERT INTO pii_keyring (id, keyring) VALUES ($1, $2::jsonb) ON CONFLICT (id) DO NOTHING`, [ROW, JSON.stringify(seal(master, d.mac, new Map([['k1', d.enc]]), 'k1'))]);
    k = (await read(ds.manager))!;
    log.info('created the PII keyring (data keys wrapped by SIYU_PII_KEY)');
  }
  return open(k, master, variable);
}

export interface RotationResult {
  /** Encryption key id new ciphertexts use. */
  current: string;
  keyIds: string[];
}

/**
 * Re-wraps the keyring with `newMaster` (opened with `oldMaster`), and with `newDataKey` adds a fresh
 * encryption key used for everything encrypted from now on. One row, one transaction.
 */
export async function rotatePiiKeyring(ds: DataSource, oldMaster: Buffer, newMaster: Buffer, newDataKey: boolean): Promise<RotationResult> {
  return ds.transaction(async (em) => {
    const k = await read(em, true);
    if (!k) throw new ConfigError([{ variable: 'SIYU_PII_KEY', message: 'this database has no PII keyring yet: start Siyu once with the current key first' }]);
    open(k, oldMaster, 'SIYU_PII_KEY'); // refuses a wrong current key
    const enc = new Map(Object.entries(k.enc).map(([id, w]) => [id, unwrap(oldMaster, w)]));
    let current = k.current;
    if (newDataKey) {
      current = `k${Math.max(0, ...[...enc.keys()].map((id) => Number(id.slice(1)) || 0)) + 1}`;
      enc.set(current, randomBytes(32));
    }
    await em.query(`UPDATE pii_keyring SET keyring = $2::jsonb, updated_at = now() WHERE id = $1`, [ROW, JSON.stringify(seal(newMaster, unwrap(oldMaster, k.mac), enc, current))]);
    return { current, keyIds: [...enc.keys()] };
  });
}

/**
 * Re-encrypts stored phones and e-mails not yet under the cipher's current key, `batch` rows per
 * transaction; returns how many were re-encrypted. Safe to interrupt and re-run.
 */
export async function reencryptPii(ds: DataSource, cipher: PiiCipher, batch = 1000, onProgress?: (done: number) => void): Promise<number> {
  let done = 0;
  for (;;) {
    const n = await ds.transaction(async (em) => {
      const rows: { workspace_id: string; type: string; namespace: string; value_key: string; value_enc: string }[] = await em.query(
        `SELECT workspace_id, type, namespace, value_key, value_enc FROM identifiers
         WHERE value_enc IS NOT NULL AND value_enc NOT LIKE $1 LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [`${cipher.keyId}.%`, batch],
      );
      if (!rows.length) return 0;
      await em.query(
        `UPDATE identifiers i SET value_enc = u.enc
         FROM jsonb_to_recordset($1::jsonb) AS u(w uuid, t text, n text, k text, enc text)
         WHERE i.workspace_id = u.w AND i.type = u.t AND i.namespace = u.n AND i.value_key = u.k`,
        [JSON.stringify(rows.map((r) => ({ w: r.workspace_id, t: r.type, n: r.namespace, k: r.value_key, enc: cipher.encrypt(cipher.decrypt(r.value_enc)) })))],
      );
      return rows.length;
    });
    if (!n) return done;
    done += n;
    onProgress?.(done);
  }
}
