import { bootApp, usingPostgres, type TestApp } from '../support/app';
import { skipReason } from '../support/services';
import { DAY, HOUR } from '../support/time';
import { ingestOne } from '../support/api';
import { waitUntil } from '../support/wait';
import { systemActor } from '../../src/modules/compliance';
import { CreateJourneyFromTemplateDocument, CreateTagDocument, JourneyEntriesDocument, ProfileStageDocument, ProfileTagsDocument, RunSweepDocument } from '../generated/graphql';

/**
 * What time alone changes — an event leaving a rule's window, an inactivity threshold — happens
 * within about a second of its moment (the due scheduler), not at the next sweep; and `runSweep`
 * runs every read model's time-based work, not only tags and segments.
 */

async function tagsOf(t: TestApp, key: string, id: string): Promise<string[]> {
  const r = await t.gql(ProfileTagsDocument, { id }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.profile!.tags.map((x) => x.key);
}

async function stageOf(t: TestApp, key: string, id: string) {
  const r = await t.gql(ProfileStageDocument, { id }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.profile!.stage!;
}

async function windowRule(t: TestApp, key: string): Promise<void> {
  const r = await t.gql(CreateTagDocument, { input: { key: 'viewed_1h', name: '1小时内浏览', kind: 'RULE', expression: 'count(event = "Product Viewed", within = "1h") >= 1' } }, key);
  expect(r.errors).toBeUndefined();
  expect(r.data!.createTag.timeDependent).toBe(true);
}

describe('the due scheduler (sweep off: only it can make these changes)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ SIYU_SWEEP_INTERVAL_MS: '0', SIYU_DUE_INTERVAL_MS: '100' });
  });
  afterAll(() => t.stop());

  it('removes a window rule tag when its last event leaves the window', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    await windowRule(t, adminKey);
    // The event leaves the 1 h window 3 s from now.
    const leavesAt = Date.now() + 3_000;
    const id = await ingestOne(t, adminKey, ['member_id::DUE-W1'], { name: 'Product Viewed', timestamp: new Date(leavesAt - HOUR).toISOString() });
    expect(await tagsOf(t, adminKey, id)).toContain('viewed_1h');
    await waitUntil('the tag to go when the event left its window', async () => !(await tagsOf(t, adminKey, id)).includes('viewed_1h'), {
      timeoutMs: 30_000,
      intervalMs: 100,
      state: async () => ({ now: new Date(), due: await t.app.db.dataSource.query(`SELECT * FROM due_work WHERE workspace_id = $1`, [workspaceId]) }),
    });
    // Recorded as a change caused by the due work, at (not before) the moment.
    const [change] = await t.app.db.dataSource.query(
      `SELECT cause, at FROM membership_changes WHERE workspace_id = $1 AND profile_id = $2 AND subject = 'viewed_1h' AND change = 'left'`,
      [workspaceId, id],
    );
    expect(change.cause).toBe('due');
    expect(new Date(change.at).getTime()).toBeGreaterThanOrEqual(leavesAt);
  });

  it('moves a person to 沉默 when their inactivity threshold passes', async () => {
    const { adminKey } = await t.newWorkspace();
    // The default model: 沉默 after 30 days without activity — reached 3 s from now.
    const id = await ingestOne(t, adminKey, ['member_id::DUE-S1'], { timestamp: new Date(Date.now() + 3_000 - 30 * DAY).toISOString() });
    expect((await stageOf(t, adminKey, id)).inactive).toBe(false);
    await waitUntil('the person to go silent', async () => (await stageOf(t, adminKey, id)).key === 'silent', { timeoutMs: 30_000, intervalMs: 100 });
    const s = await stageOf(t, adminKey, id);
    expect(s).toMatchObject({ key: 'silent', inactive: true });
    // The stage tag follows in the same pass (tags run after stages).
    const r = await t.gql(ProfileStageDocument, { id }, adminKey);
    expect(r.data!.profile!.tags.map((x) => x.key)).toContain('stage:silent');
  });

  it('reaches a journey\'s negative step when its window ends (cart abandoned)', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    await t.app.services.compliance.updateSettings(systemActor(workspaceId), { consentPolicy: 'allow_unless_denied' });
    const created = await t.gql(CreateJourneyFromTemplateDocument, { template: 'CART_ABANDONMENT' }, adminKey);
    expect(created.errors).toBeUndefined();
    const journeyId = created.data!.createJourneyFromTemplate.id;
    // No order within 24 h of adding to the cart: the window ends 3 s from now.
    const id = await ingestOne(t, adminKey, ['member_id::DUE-J1'], { name: 'Product Added', timestamp: new Date(Date.now() + 3_000 - 24 * HOUR).toISOString() });
    const entries = async () => (await t.gql(JourneyEntriesDocument, { id: journeyId, profileId: id }, adminKey)).data!.journey.entries;
    expect(await entries()).toMatchObject([{ stepKey: 'added', status: 'ACTIVE' }]);
    await waitUntil('the cart to be abandoned', async () => (await entries())[0].status === 'COMPLETED', { timeoutMs: 30_000, intervalMs: 100 });
    expect(await entries()).toMatchObject([{ stepKey: 'abandoned', status: 'COMPLETED' }]);
  });
});

describe('the due scheduler on two instances (PostgreSQL: both share the database)', () => {
  it('handles each moment once: one membership change, whichever instance took it', async () => {
    if (!usingPostgres()) {
      skipReason('two instances need a shared database (PostgreSQL); the embedded one belongs to one process');
      return;
    }
    const env = { SIYU_SWEEP_INTERVAL_MS: '0', SIYU_DUE_INTERVAL_MS: '50' };
    const [a, b] = await Promise.all([bootApp(env), bootApp(env)]);
    try {
      const { workspaceId, adminKey } = await a.newWorkspace();
      await windowRule(a, adminKey);
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        ids.push(await ingestOne(i % 2 ? a : b, adminKey, [`member_id::DUE-2I-${i}`], { name: 'Product Viewed', timestamp: new Date(Date.now() + 2_000 - HOUR).toISOString() }));
      }
      const left = async () =>
        (await a.app.db.dataSource.query(`SELECT profile_id FROM membership_changes WHERE workspace_id = $1 AND subject = 'viewed_1h' AND change = 'left'`, [workspaceId])) as { profile_id: string }[];
      await waitUntil('every tag to go', async () => (await left()).length >= ids.length, { timeoutMs: 30_000, intervalMs: 100 });
      // Both instances kept polling meanwhile; each person left exactly once.
      const rows = await left();
      expect(rows.map((r) => r.profile_id).sort()).toEqual([...ids].sort());
      for (const id of ids) expect(await tagsOf(a, adminKey, id)).not.toContain('viewed_1h');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('runSweep (every scheduler off)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({ SIYU_SWEEP_INTERVAL_MS: '0', SIYU_DUE_INTERVAL_MS: '0' });
  });
  afterAll(() => t.stop());

  it('runs the time-based work of every read model: stages as well as tags', async () => {
    const { adminKey } = await t.newWorkspace();
    await windowRule(t, adminKey);
    const quiet = await ingestOne(t, adminKey, ['member_id::SWEEP-S1'], { timestamp: new Date(Date.now() - 31 * DAY).toISOString() });
    const leavesAt = Date.now() + 1_000;
    const viewer = await ingestOne(t, adminKey, ['member_id::SWEEP-W1'], { name: 'Product Viewed', timestamp: new Date(leavesAt - HOUR).toISOString() });
    expect((await stageOf(t, adminKey, quiet)).key).not.toBe('silent');
    expect(await tagsOf(t, adminKey, viewer)).toContain('viewed_1h');
    await waitUntil('the event to have left its window', () => Date.now() > leavesAt + 10);
    // Nothing runs by itself here.
    expect((await stageOf(t, adminKey, quiet)).key).not.toBe('silent');
    expect(await tagsOf(t, adminKey, viewer)).toContain('viewed_1h');

    const r = await t.gql(RunSweepDocument, { maxProfiles: 1000 }, adminKey);
    expect(r.errors).toBeUndefined();
    expect((await stageOf(t, adminKey, quiet)).key).toBe('silent');
    expect(await tagsOf(t, adminKey, viewer)).not.toContain('viewed_1h');
  });
});
