import { bootApp, type TestApp } from '../support/app';
import { ingestInto, seed } from '../../src/demo/seed';
import { workspaceSummary } from '../../src/demo/summary';
import { KpiMetric } from '../../src/modules/kpis';

/**
 * `siyu seed` through the real ingest pipeline: a small seeded population gives merges, orders,
 * invites, and a value for (nearly) every KPI of the catalogue; `siyu recompute` rebuilds the KPI
 * rollups from events to the same answers, also when interrupted and resumed.
 */

let t: TestApp;
let ws: string;
const METRICS = Object.values(KpiMetric);
beforeAll(async () => {
  t = await bootApp();
  ws = (await t.newWorkspace('seeded')).workspaceId;
  const report = await seed(ingestInto(t.app.services, ws), { profiles: 200, days: 45, seed: 11 });
  expect(report.rejections).toEqual([]);
  expect(report.accepted).toBe(report.total);
  // The integration mistakes sent after the population, for INGEST_ERROR_RATE: every one rejected.
  expect(report.faults).toEqual({ sent: 4, rejected: 4 });
}, 180_000);
afterAll(() => t.stop());

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Every metric over the whole window and over its last two weeks. */
async function answers(): Promise<Record<string, (number | null)[]>> {
  const today = await t.app.services.kpis.today(ws);
  const whole = await t.app.services.kpis.snapshot(ws, METRICS, { from: addDays(today, -46), to: today });
  const recent = await t.app.services.kpis.snapshot(ws, METRICS, { from: addDays(today, -13), to: today });
  const out: Record<string, (number | null)[]> = {};
  METRICS.forEach((m, i) => (out[m] = [whole.values[i].value, whole.values[i].previous, recent.values[i].value, recent.values[i].previous]));
  return out;
}

describe('siyu seed (embedded or PostgreSQL)', () => {
  it('creates people who merged across channels, orders, invites, shares and group buys', async () => {
    const s = await workspaceSummary(t.app.db.dataSource.manager, ws);
    expect(s.people).toBeGreaterThanOrEqual(200);
    expect(s.merges).toBeGreaterThan(10);
    expect(s.orders).toBeGreaterThan(20);
    expect(s.revenue).toBeGreaterThan(0);
    expect(s.invites).toBeGreaterThan(5);
    expect(s.shares).toBeGreaterThan(0);
    expect(s.groupBuys).toBeGreaterThan(0);
    const [{ n }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM identity_merges WHERE workspace_id = $1`, [ws]);
    expect(n).toBe(s.merges);
    const [{ staffed }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS staffed FROM relations WHERE workspace_id = $1 AND kind = 'served_by'`, [ws]);
    expect(staffed).toBeGreaterThan(0);
    const [{ consents }] = await t.app.db.dataSource.query(`SELECT count(DISTINCT profile_id)::int AS consents FROM consents WHERE workspace_id = $1`, [ws]);
    expect(consents).toBeGreaterThan(s.people / 2);
  });

  it('gives every KPI of the catalogue a non-zero value over the window or its last two weeks', async () => {
    const a = await answers();
    const shown = METRICS.filter((m) => a[m].some((v) => v !== null && v !== 0));
    expect(shown.sort()).toEqual([...METRICS].sort());
  });

  it('is idempotent: seeding again stores nothing twice', async () => {
    const before = await workspaceSummary(t.app.db.dataSource.manager, ws);
    const again = await seed(ingestInto(t.app.services, ws), { profiles: 200, days: 45, seed: 11, end: undefined });
    // The window ends "now", so the newest minutes may differ; everything older is a duplicate.
    expect(again.duplicates).toBeGreaterThan(again.total * 0.9);
    const after = await workspaceSummary(t.app.db.dataSource.manager, ws);
    expect(after.events - before.events).toBe(again.accepted);
  });
});

describe('siyu recompute', () => {
  const service = () => t.app.services.recompute;
  const dropRollups = async () => {
    for (const table of ['kpi_activity', 'kpi_profiles', 'kpi_day_people', 'kpi_day_counts', 'kpi_hour_counts', 'kpi_person_days', 'kpi_person_refs', 'kpi_inviter_days', 'kpi_quarter_totals', 'kpi_buyers', 'kpi_rollup_state']) {
      await t.app.db.dataSource.query(`DELETE FROM ${table} WHERE workspace_id = $1`, [ws]);
    }
  };

  /**
   * The state carried forward at ingest, in the terms a rebuild from scratch must reproduce (person
   * ordinals are handed out again, so states are compared without them).
   */
  const carried = async () => {
    const q = (sql: string) => t.app.db.dataSource.query(sql, [ws]) as Promise<unknown[]>;
    return {
      dayCounts: await q(`SELECT kind, dim, to_char(day, 'YYYY-MM-DD') AS day, people FROM kpi_day_counts WHERE workspace_id = $1 AND people <> 0 ORDER BY 1, 2, 3`),
      hourCounts: await q(
        `SELECT dim, hour, active, interacting, buyers, sessions FROM kpi_hour_counts WHERE workspace_id = $1 AND (active, interacting, buyers, sessions) <> (0, 0, 0, 0) ORDER BY 1, 2`,
      ),
      personDays: await q(`SELECT profile_id, days FROM kpi_person_days WHERE workspace_id = $1 ORDER BY 1`),
      refs: await q(`SELECT profile_id, state - 'o' AS state FROM kpi_person_refs WHERE workspace_id = $1 ORDER BY 1`),
      inviters: await q(`SELECT inviter, to_char(day, 'YYYY-MM-DD') AS day, dim, invitees FROM kpi_inviter_days WHERE workspace_id = $1 AND invitees <> 0 ORDER BY 1, 2, 3`),
    };
  };

  it('rebuilds deleted KPI rollups to identical answers, and the carried counts to what ingest carried', async () => {
    const before = await answers();
    const state = await carried();
    expect(state.refs.length).toBeGreaterThan(10);
    expect(state.dayCounts.length).toBeGreaterThan(1000);
    await dropRollups();
    expect((await answers()).ACTIVE_USERS[0]).toBe(0);
    const r = await service().run(ws, { parts: ['kpis'], chunk: 64 });
    expect(r.stopped).toBe(false);
    expect(r.parts[0]).toEqual(expect.objectContaining({ part: 'kpis', finished: true, resumedAt: 0 }));
    expect(r.parts[0].done).toBe(r.parts[0].total);
    expect(await answers()).toEqual(before);
    expect(await carried()).toEqual(state);
    expect(await service().pending(ws)).toEqual([]);
  });

  it('resumes an interrupted rebuild where it stopped', async () => {
    const before = await answers();
    await dropRollups();
    const controller = new AbortController();
    const first = await service().run(ws, {
      parts: ['kpis', 'stages'],
      chunk: 40,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.done >= 80) controller.abort();
      },
    });
    expect(first.stopped).toBe(true);
    expect(first.parts).toHaveLength(1);
    const stoppedAt = first.parts[0].done;
    expect(stoppedAt).toBeGreaterThanOrEqual(80);
    expect(stoppedAt).toBeLessThan(first.parts[0].total);
    expect(await service().pending(ws)).toEqual([expect.objectContaining({ part: 'kpis', profilesDone: stoppedAt })]);

    const seen: number[] = [];
    const second = await service().run(ws, { parts: ['kpis', 'stages'], chunk: 40, onProgress: (p) => p.part === 'kpis' && seen.push(p.done) });
    expect(second.stopped).toBe(false);
    expect(second.parts.map((p) => [p.part, p.finished])).toEqual([
      ['kpis', true],
      ['stages', true],
    ]);
    expect(second.parts[0].resumedAt).toBe(stoppedAt);
    expect(seen[0]).toBe(stoppedAt);
    expect(await answers()).toEqual(before);
    expect(await service().pending(ws)).toEqual([]);
  });

  it('rebuilds stages, health and tags without changing them when nothing changed', async () => {
    const q = (sql: string) => t.app.db.dataSource.query(sql, [ws]);
    const snapshot = async () => ({
      stages: await q(`SELECT profile_id, stage FROM profile_stages WHERE workspace_id = $1 ORDER BY profile_id`),
      tags: await q(`SELECT profile_id, tag_key FROM profile_tags WHERE workspace_id = $1 ORDER BY profile_id, tag_key`),
    });
    const before = await snapshot();
    const r = await service().run(ws, { parts: ['stages', 'health', 'tags'], chunk: 100 });
    expect(r.parts.map((p) => p.finished)).toEqual([true, true, true]);
    expect(await snapshot()).toEqual(before);
  });
});
