import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/platform/config';
import { createLogger } from '../../src/platform/logging';
import { PiiCipher, maskEmail, maskPersonalJson, maskPhone, resolvePiiMasterKey } from '../../src/modules/identities';

const resolvePiiCipher = (...a: Parameters<typeof resolvePiiMasterKey>) => new PiiCipher(resolvePiiMasterKey(...a));

const log = createLogger('silent');

describe('PII cipher', () => {
  const c = new PiiCipher(randomBytes(32));

  it('encrypts with a fresh IV each time and decrypts back', () => {
    const a = c.encrypt('+8613812345678');
    const b = c.encrypt('+8613812345678');
    expect(a).not.toBe(b);
    expect(a).not.toContain('13812345678');
    expect(c.decrypt(a)).toBe('+8613812345678');
  });

  it('detects tampering', () => {
    const sealed = c.encrypt('li.lei@example.com').split('.');
    sealed[3] = Buffer.from('x' + Buffer.from(sealed[3], 'base64url').toString('latin1')).toString('base64url');
    expect(() => c.decrypt(sealed.join('.'))).toThrow();
  });

  it('hashes deterministically per key and type', () => {
    expect(c.hash('phone', '+8613812345678')).toBe(c.hash('phone', '+8613812345678'));
    expect(c.hash('phone', '+8613812345678')).not.toBe(c.hash('email', '+8613812345678'));
    expect(new PiiCipher(randomBytes(32)).hash('phone', '+8613812345678')).not.toBe(c.hash('phone', '+8613812345678'));
  });

  it('masks phones and e-mails', () => {
    expect(maskPhone('+8613812345678')).toBe('138****5678');
    expect(maskPhone('+14155552671')).toBe('+141****2671');
    expect(maskEmail('li.lei@example.com')).toBe('l***@example.com');
  });
});

describe('masking free-form JSON', () => {
  it('finds phones in every documented format and e-mails, leaving dates, ids and amounts alone', () => {
    expect(maskPersonalJson({ contact: 15076740179, note: '联系电话：１５１６７６６６９７５', tel: 'x', text: 'tel 008615167666975', memo: 'call +1 (415) 555-4955, 2026 please', m: 'Li＠Example.com' })).toEqual({
      contact: '150****0179',
      note: '联系电话：151****6975',
      tel: '***',
      text: 'tel 151****6975',
      memo: 'call +141****4955, 2026 please',
      m: 'l***@example.com',
    });
    const plain = { birthday: '1990-03-07', order: '2026112308', at: '2026-11-23T08:00:00Z', ts: 1732348800000, revenue: 199.9, idLike: 'A-13812345678X' };
    expect(maskPersonalJson(plain)).toEqual({ ...plain, idLike: 'A-138****5678X' });
  });
});

describe('PII key resolution', () => {
  it('requires SIYU_PII_KEY on PostgreSQL, naming the variable', () => {
    expect(() => resolvePiiCipher(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }), log)).toThrow(ConfigError);
    expect(() => resolvePiiCipher(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }), log)).toThrow(/SIYU_PII_KEY/);
  });

  it('rejects a short key in config', () => {
    expect(() => loadConfig({ SIYU_PII_KEY: 'c2hvcnQ=' })).toThrow(/SIYU_PII_KEY must be 32\+ random bytes/);
  });

  it('keeps a generated key for an embedded data directory across restarts (mode 0600)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-pii-'));
    try {
      const config = loadConfig({ SIYU_DATA_DIR: dir });
      const a = resolvePiiCipher(config, log);
      const sealed = a.encrypt('+8613900000007');
      const b = resolvePiiCipher(config, log);
      expect(b.decrypt(sealed)).toBe('+8613900000007');
      expect(b.hash('phone', 'x')).toBe(a.hash('phone', 'x'));
      expect(fs.statSync(path.join(dir, 'siyu-pii.key')).mode & 0o777).toBe(0o600);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses SIYU_PII_KEY when given', () => {
    const key = randomBytes(32);
    const a = resolvePiiCipher(loadConfig({ SIYU_PII_KEY: key.toString('base64'), DATABASE_URL: 'postgres://u@h/db' }), log);
    const b = resolvePiiCipher(loadConfig({ SIYU_PII_KEY: key.toString('hex') }), log);
    expect(b.decrypt(a.encrypt('x'))).toBe('x');
  });
});

describe('PII keyring ciphers', () => {
  it('decrypt by key id: a cipher holding k1 and k2 reads both, writes under the current one', () => {
    const mac = randomBytes(32);
    const k1 = randomBytes(32);
    const old = PiiCipher.fromKeys(mac, new Map([['k1', k1]]), 'k1');
    const sealed = old.encrypt('+8613800000001');
    const both = PiiCipher.fromKeys(mac, new Map([['k1', k1], ['k2', randomBytes(32)]]), 'k2');
    expect(both.decrypt(sealed)).toBe('+8613800000001');
    expect(PiiCipher.keyIdOf(both.encrypt('x'))).toBe('k2');
    expect(both.hash('phone', 'x')).toBe(old.hash('phone', 'x'));
    expect(() => old.decrypt(both.encrypt('x'))).toThrow(/unknown PII key id k2/);
  });

  it('the master-key constructor equals the keyring start (derived k1)', () => {
    const master = randomBytes(32);
    const d = PiiCipher.derive(master);
    const a = new PiiCipher(master);
    const b = PiiCipher.fromKeys(d.mac, new Map([['k1', d.enc]]), 'k1');
    expect(b.decrypt(a.encrypt('y'))).toBe('y');
    expect(b.hash('email', 'y')).toBe(a.hash('email', 'y'));
  });
});
