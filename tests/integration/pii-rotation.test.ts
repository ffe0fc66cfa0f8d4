import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { print } from 'graphql';
import { createApp, type SiyuApp } from '../../src/app';
import { loadConfig, type Config } from '../../src/platform/config';
import { createLogger } from '../../src/platform/logging';
import { openPiiCipher, reencryptPii, rotatePiiKeyring } from '../../src/modules/identities';
import { TEST_PII_KEY, usingPostgres } from '../support/app';
import { makeEvent } from '../support/events';
import { scratchDatabase } from '../support/scratch-db';
import { IngestDocument, ProfileByIdentifierDocument, type IngestMutation, type ProfileByIdentifierQuery } from '../generated/graphql';

/**
 * Rotating SIYU_PII_KEY: the keyring is re-wrapped with the new master key, a new encryption key is
 * added and stored phones are re-encrypted under it; after a restart with the new key everything
 * still decrypts and matches, and the old key is refused with a clear error.
 */
const ADMIN = 'siyu_pii-rotation-test-key-0123456789abcdef';
const log = createLogger('silent');

async function database(): Promise<{ config: (piiKey: string) => Config; drop(): Promise<void> }> {
  if (usingPostgres()) {
    const scratch = await scratchDatabase('pii_rotation', { SIYU_AUTO_MIGRATE: 'true', SIYU_BOOTSTRAP_ADMIN_KEY: ADMIN });
    return { config: (k) => ({ ...scratch.config, piiKey: loadConfig({ SIYU_PII_KEY: k }).piiKey }), drop: scratch.drop };
  }
  // Embedded: a data directory of its own, so that the app can be restarted on it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-pii-rotation-'));
  return {
    config: (k) => loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', SIYU_DATA_DIR: dir, SIYU_PII_KEY: k, SIYU_BOOTSTRAP_ADMIN_KEY: ADMIN, SIYU_SWEEP_INTERVAL_MS: '0' }),
    drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

async function gql<T>(url: string, doc: Parameters<typeof print>[0], variables: Record<string, unknown>): Promise<{ data?: T; errors?: { extensions: Record<string, unknown> }[] }> {
  const res = await request(url).post('/graphql').set('authorization', `Bearer ${ADMIN}`).send({ query: print(doc), variables });
  return res.body;
}

it('rotates the master key and the encryption key without losing a phone', async () => {
  const db = await database();
  const oldKey = TEST_PII_KEY;
  const newKey = randomBytes(32).toString('base64');
  let app: SiyuApp | null = await createApp(db.config(oldKey), { logger: log });
  try {
    let url = await app.listen(0, '127.0.0.1');
    const ingest = await gql<IngestMutation>(url, IngestDocument, { events: [makeEvent({ identifiers: ['phone::13800138000', 'member_id::ROT-1'] })] });
    const id = ingest.data!.ingestEvents.results[0].profileId!;
    const before: { value_enc: string }[] = await app.db.dataSource.query(`SELECT value_enc FROM identifiers WHERE type = 'phone'`);
    expect(before.map((r) => r.value_enc.split('.')[0])).toEqual(['k1']);

    const r = await rotatePiiKeyring(app.db.dataSource, Buffer.from(oldKey, 'base64'), Buffer.from(newKey, 'base64'), true);
    expect(r).toEqual({ current: 'k2', keyIds: ['k1', 'k2'] });
    const cipher = await openPiiCipher(app.db.dataSource, Buffer.from(newKey, 'base64'), log);
    expect(await reencryptPii(app.db.dataSource, cipher, 1)).toBe(1);
    expect(await reencryptPii(app.db.dataSource, cipher, 1)).toBe(0);
    const after: { value_enc: string }[] = await app.db.dataSource.query(`SELECT value_enc FROM identifiers WHERE type = 'phone'`);
    expect(after[0].value_enc.startsWith('k2.')).toBe(true);
    expect(after[0].value_enc).not.toContain('13800138000');
    // The old master key no longer opens the keyring.
    await expect(openPiiCipher(app.db.dataSource, Buffer.from(oldKey, 'base64'), log)).rejects.toThrow(/SIYU_PII_KEY.*does not open the PII keyring/);
    await app.stop();

    // Restart with the old key: refused, naming the variable.
    app = null;
    await expect(createApp(db.config(oldKey), { logger: log })).rejects.toThrow(/SIYU_PII_KEY/);
    // Restart with the new key: the phone decrypts for an admin and still matches new events.
    app = await createApp(db.config(newKey), { logger: log });
    url = await app.listen(0, '127.0.0.1');
    const p = await gql<ProfileByIdentifierQuery>(url, ProfileByIdentifierDocument, { identifier: { type: 'phone', value: '+86 138 0013 8000' } });
    expect(p.errors).toBeUndefined();
    expect(p.data!.profileByIdentifier.id).toBe(id);
    const again = await gql<IngestMutation>(url, IngestDocument, { events: [makeEvent({ identifiers: ['phone::13800138000'] })] });
    expect(again.data!.ingestEvents.results[0].profileId).toBe(id);
    const shown = await request(url).post('/graphql').set('authorization', `Bearer ${ADMIN}`).send({ query: `query($id: ID!) { profile(id: $id) { identifiers { type value } } }`, variables: { id } });
    expect(shown.body.data.profile.identifiers).toContainEqual({ type: 'phone', value: '+8613800138000' });
  } finally {
    await app?.stop();
    await db.drop();
  }
}, 120_000);
