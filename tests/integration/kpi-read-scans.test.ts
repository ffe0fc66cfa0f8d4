import request from 'supertest';
import { KpiMetric } from '../../src/modules/kpis';
import { makeEvent } from '../support/events';
import { withScratchApp } from '../support/scratch-app';
import { waitUntil } from '../support/wait';

/**
 * A KPI answer costs its buckets, not the table: the gap counts of a 30-day range name a few
 * hundred kinds of `kpi_day_counts` (kpi.sets.ts `perKind`). Joined on `kind = ANY(…)`, the
 * planner read the whole table (every workspace's rows) with the kinds as a filter (measured: 11
 * of the 13 ms of the whole catalogue's buyer read on a seeded month).
 *
 * A scratch database of its own, so the table counters are this app's alone: beside ~90,000 day
 * counts of the workspace shaped like a seeded month's, the whole catalogue through `kpis`,
 * `aggregate` and `kpi` by channel reads no day count by a sequential scan (the old statements
 * read the table 1–2 times over).
 */
const ADMIN = 'siyu_kpi-read-scans-test-key-0123456789abcd';

it('the whole catalogue reads the day counts by index beside a large table (PostgreSQL)', () =>
  withScratchApp('kpi_read_scans', ADMIN, 'table read counters are PostgreSQL statistics: set DATABASE_URL to run the KPI read-scan test', async ({ url, admin, stop }) => {
    const gql = async (query: string, variables: Record<string, unknown>) => {
      const res = await request(url).post('/graphql').set('authorization', `Bearer ${ADMIN}`).send({ query, variables });
      expect(res.body.errors).toBeUndefined();
      return res.body.data as Record<string, unknown>;
    };
    const events = Array.from({ length: 40 }, (_, i) =>
      makeEvent({ identifiers: [`member_id::SCAN-${i % 10}`], name: i % 4 === 0 ? 'Order Completed' : 'Product Viewed', properties: i % 4 === 0 ? { revenue: 10 } : {}, timestamp: new Date(Date.now() - i * 3_600_000).toISOString() }),
    );
    const ingested = await gql('mutation($events:[EventInput!]!){ingestEvents(events:$events){accepted}}', { events });
    expect((ingested.ingestEvents as { accepted: number }).accepted).toBe(events.length);
    const [{ ws }] = (await admin.query(`SELECT id AS ws FROM workspaces LIMIT 1`)).rows as { ws: string }[];
    // A seeded month's shape (siyu seed --profiles 50000 --days 30: ~70,000 day counts over 31
    // dimensions and 63 days, one in sixteen of them the whole workspace's): the day sets and the
    // common gaps (up to 30 days) of every gap set, one combination in nine present.
    const filled = await admin.query(
      `INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
       SELECT $1, k, m, current_date - g, 1 + (k + g) % 7
       FROM (SELECT generate_series(0, 31) UNION ALL SELECT b * 100 + j FROM generate_series(1, 10) b, generate_series(1, 30) j) ks(k),
            (SELECT '' UNION ALL SELECT 'c:channel-' || i FROM generate_series(1, 15) i UNION ALL SELECT 't:touchpoint-' || i FROM generate_series(1, 15) i) ms(m),
            generate_series(0, 62) AS g
       WHERE (k * 7 + g * 13 + length(m)) % 9 = 0 OR m = ''
       ON CONFLICT DO NOTHING`,
      [ws],
    );
    expect(filled.rowCount).toBeGreaterThan(60_000);
    await admin.query(`ANALYZE kpi_day_counts`);
    const counters = async () =>
      (await admin.query(`SELECT seq_scan, seq_tup_read, idx_scan FROM pg_stat_user_tables WHERE relname = 'kpi_day_counts'`)).rows[0] as Record<string, string>;
    const before = await counters();

    const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
    const range = { from: day(-29), to: day(0) };
    // The whole catalogue, in requests of at most 30 metrics (the limit of `kpis` and `aggregate`).
    const all = Object.values(KpiMetric);
    for (let i = 0; i < all.length; i += 30) {
      const metrics = all.slice(i, i + 30);
      const kpis = await gql('query($m:[KpiMetric!]!,$r:KpiRangeInput!){kpis(metrics:$m,range:$r){values{metric value}}}', { m: metrics, r: range });
      expect((kpis.kpis as { values: unknown[] }).values).toHaveLength(metrics.length);
      const aggregate = await gql('query($m:[KpiMetric!]!,$r:KpiRangeInput!){aggregate(measures:$m,range:$r,grain:DAY){totalCount}}', { m: metrics, r: range });
      expect((aggregate.aggregate as { totalCount: number }).totalCount).toBeGreaterThan(0);
    }
    for (const m of [KpiMetric.REPURCHASE_RATE, KpiMetric.ACTIVE_USERS, KpiMetric.SILENT_WAKEUP_RATE]) {
      await gql('query($m:KpiMetric!,$r:KpiRangeInput!){kpi(metric:$m,grain:DAY,range:$r,breakdown:CHANNEL){metric}}', { m, r: range });
    }

    // The app's connections report their counters when they end.
    await stop();
    let after = before;
    await waitUntil('the reads to show in the day-count counters', async () => Number((after = await counters()).idx_scan) > Number(before.idx_scan), { timeoutMs: 30_000, intervalMs: 200 });
    // Rows read by sequential scans: none of the table's.
    expect(Number(after.seq_tup_read) - Number(before.seq_tup_read)).toBe(0);
  }));
