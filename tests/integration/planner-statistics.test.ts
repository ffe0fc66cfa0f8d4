import { StatisticsRefresher } from '../../src/platform/db';
import { createLogger } from '../../src/platform/logging';
import { bootApp, usingPostgres, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import { waitUntil } from '../support/wait';
import { IngestDocument } from '../generated/graphql';

/**
 * Planner statistics follow growing workspaces: a workspace that grows after the last ANALYZE must
 * not be planned as if it had one row (see src/platform/db/statistics.ts).
 */
describe('StatisticsRefresher', () => {
  const log = createLogger('silent');

  it('refreshes when a workspace passes 1,000 events, then 4,000, 16,000 — per workspace', async () => {
    let runs = 0;
    const r = new StatisticsRefresher(async () => {
      runs++;
    }, log);
    r.noteWritten('a', 999);
    await r.idle();
    expect(runs).toBe(0);
    r.noteWritten('a', 1);
    await r.idle();
    expect(runs).toBe(1);
    r.noteWritten('a', 2_999); // 3,999: below the next threshold
    r.noteWritten('b', 500);
    await r.idle();
    expect(runs).toBe(1);
    r.noteWritten('a', 13_000); // 16,999: passes 4,000 and 16,000 at once — one refresh
    await r.idle();
    expect(runs).toBe(2);
    r.noteWritten('b', 500); // another workspace has its own thresholds
    await r.idle();
    expect(runs).toBe(3);
  });

  it('coalesces refreshes asked for while one runs into one more run', async () => {
    let runs = 0;
    let release!: () => void;
    const r = new StatisticsRefresher(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
    }, log);
    r.noteWritten('a', 1_000);
    r.noteWritten('b', 1_000);
    r.noteWritten('c', 1_000);
    await waitUntil('the first refresh to start', () => runs === 1);
    release();
    await r.idle();
    expect(runs).toBe(2);
  });

  it('skips a refresh while the statistics already hold as many of each due workspace\'s events as this process wrote', async () => {
    let runs = 0;
    const known = new Map([['big', 1_000_000]]);
    const r = new StatisticsRefresher(
      async () => {
        runs++;
      },
      log,
      undefined,
      async (ws) => known.get(ws) ?? 0,
    );
    r.noteWritten('big', 1_000);
    r.noteWritten('big', 15_000);
    await r.idle();
    expect(runs).toBe(0);
    expect(r.stats.skipped).toBe(2);
    r.noteWritten('new', 1_000); // unknown to the statistics: refreshed
    await r.idle();
    expect(runs).toBe(1);
    known.set('big', 10_000); // the statistics hold fewer than the 16,000 written here
    r.noteWritten('big', 50_000);
    await r.idle();
    expect(runs).toBe(2);
  });

  it('a failed refresh is counted and does not stop later ones', async () => {
    let calls = 0;
    const r = new StatisticsRefresher(async () => {
      if (++calls === 1) throw new Error('boom');
    }, log);
    r.noteWritten('a', 1_000);
    await r.idle();
    r.noteWritten('a', 3_000);
    await r.idle();
    expect(r.stats).toEqual({ runs: 1, failures: 1, skipped: 0 });
  });
});

describe('ingest keeps the planner statistics current', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp();
  });
  afterAll(() => t.stop());

  const lastAnalyze = async (): Promise<number> => {
    const [r] = await t.app.db.dataSource.query(`SELECT extract(epoch FROM last_analyze)::float8 AS at FROM pg_stat_user_tables WHERE relname = 'events'`);
    return r?.at ?? 0;
  };

  (usingPostgres() ? it : it.skip)('PostgreSQL: ANALYZE runs once a new workspace has written 1,000 events, not before', async () => {
    const refresher = t.app.services.ingest.statistics!;
    expect(refresher).not.toBeNull();
    const { adminKey } = await t.newWorkspace('planner statistics');
    const batch = (from: number) => Array.from({ length: 500 }, (_, i) => makeEvent({ messageId: `ps-${from + i}`, identifiers: [`member_id::PS-${(from + i) % 50}`] }));
    await refresher.idle();
    const runs = refresher.stats.runs;
    const before = await lastAnalyze();

    const first = await t.gql(IngestDocument, { events: batch(0) }, adminKey);
    expect(first.data!.ingestEvents.accepted).toBe(500);
    await refresher.idle();
    expect(refresher.stats.runs).toBe(runs);

    const second = await t.gql(IngestDocument, { events: batch(500) }, adminKey);
    expect(second.data!.ingestEvents.accepted).toBe(500);
    await refresher.idle();
    expect(refresher.stats.runs).toBe(runs + 1);
    expect(refresher.stats.failures).toBe(0);
    expect(await lastAnalyze()).toBeGreaterThan(before);

    // A new process (its own refresher) beside a workspace the statistics hold: writing no more than
    // they hold for it does not analyse again; a workspace the statistics do not name does. (On the
    // shared test database this file's small workspace need not be among the most common values, so
    // the workspace is the one the statistics name first, with what they hold for it.)
    const fresh = StatisticsRefresher.forDataSource(t.app.db.dataSource, createLogger('silent'));
    const [top]: { w: string; n: number }[] = await t.app.db.dataSource.query(
      `SELECT (s.most_common_vals::text::uuid[])[1]::text AS w, (s.most_common_freqs[1] * c.reltuples)::float8 AS n
         FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename AND c.relnamespace = to_regnamespace(s.schemaname)
        WHERE s.schemaname = current_schema() AND s.tablename = 'events' AND s.attname = 'workspace_id'`,
    );
    expect(top.n).toBeGreaterThanOrEqual(1);
    fresh.noteWritten(top.w, Math.floor(top.n));
    await fresh.idle();
    expect(fresh.stats).toEqual({ runs: 0, failures: 0, skipped: 1 });
    fresh.noteWritten('00000000-0000-4000-8000-000000000000', 1_000);
    await fresh.idle();
    expect(fresh.stats).toEqual({ runs: 1, failures: 0, skipped: 1 });
  });

  (usingPostgres() ? it.skip : it)('embedded database: no background ANALYZE (one statement at a time)', () => {
    expect(t.app.services.ingest.statistics).toBeNull();
  });
});
