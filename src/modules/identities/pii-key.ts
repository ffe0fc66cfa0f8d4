import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, decodeKey, type Config } from '../../platform/config';
import type { Logger } from '../../platform/logging';

export const EMBEDDED_KEY_FILE = 'siyu-pii.key';

/**
 * The PII master key: SIYU_PII_KEY when set (required on PostgreSQL). The embedded default without
 * it keeps a generated key in a 0600 file inside its data directory (zero setup, and the data stays
 * readable across restarts); `:memory:` uses a throw-away key. It wraps the data keys of the
 * database's keyring (`openPiiCipher`).
 */
export function resolvePiiMasterKey(config: Config, log: Logger): Buffer {
  if (config.piiKey) return decodeKey(config.piiKey.reveal())!;
  const db = config.database;
  if (db.kind === 'postgres') {
    throw new ConfigError([
      {
        variable: 'SIYU_PII_KEY',
        message: 'is required with DATABASE_URL: phone numbers and e-mails are encrypted with it (generate one with `openssl rand -base64 32`)',
      },
    ]);
  }
  if (db.dataDir === ':memory:') return randomBytes(32);
  const file = path.join(db.dataDir, EMBEDDED_KEY_FILE);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    log.warn({ file }, 'generated a PII key for the embedded database; set SIYU_PII_KEY for production');
  }
  return decodeKey(fs.readFileSync(file, 'utf8').trim())!;
}
