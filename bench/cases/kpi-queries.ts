import { isDeepStrictEqual } from 'node:util';
import { Client } from 'pg';
import type { SiyuApp } from '../../src/app';
import { Role } from '../../src/platform/auth';
import { systemActor } from '../../src/modules/compliance';
import { compare, type Comparison } from '../lib/report';
import { fmt } from '../lib/stats';

/**
 * KPI queries through GraphQL (Siyu reads its rollups, kept in the ingest transaction) against the
 * naive SQL over the raw `events` table answering the same question. Data: the base dataset
 * (bench/lib/base-dataset.ts), with BENCH_FUNNEL saved before its history as an analyst would save
 * the funnel they watch, so `funnel` answers from the saved funnel's day counts. Answers are
 * checked for equality.
 */

/** The catalogue funnel: saved in the base dataset (bench/run.ts, bench/run-kpi-queries.ts) and asked by the case below. */
export const BENCH_FUNNEL = { name: 'browse to coupon', steps: ['Product Viewed', 'Product Added', 'Order Completed', 'Coupon Claimed'], withinHours: 168 };

export interface KpiData {
  workspaceId: string;
  /** One line saying what the data is (for the report). */
  description: string;
  /** The last full local day of data, and the workspace time zone. */
  lastDay: string;
  tz: string;
  /** Event names of the 4-step funnel, in order. */
  funnel: string[];
}

const addDays = (day: string, n: number) => {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
};

interface KpiQuery {
  name: string;
  gql: string;
  variables: Record<string, unknown>;
  /** The GraphQL answer reduced to comparable numbers. */
  fromGql(data: Record<string, unknown>): unknown;
  sql: string;
  params: unknown[];
  fromSql(rows: Record<string, unknown>[]): unknown;
}

const round = (x: number | null) => (x === null ? null : Math.round(x * 1e9) / 1e9);

function queries(d: KpiData): KpiQuery[] {
  const to = d.lastDay;
  const from = addDays(to, -29);
  const c0 = addDays(to, -14);
  const ws = d.workspaceId;
  type Points = { kpi: { total: { points: { localStart: string; value: number | null }[] } } };
  return [
    {
      name: 'DAU, 30 days (DAY)',
      gql: 'query($r:KpiRangeInput!){kpi(metric:DAU,grain:DAY,range:$r){total{points{localStart value}}}}',
      variables: { r: { from, to } },
      fromGql: (x) => (x as Points).kpi.total.points.map((p) => [p.localStart.slice(0, 10), round(p.value)]),
      sql: `SELECT to_char((ts AT TIME ZONE $4)::date, 'YYYY-MM-DD') AS day, count(DISTINCT profile_id)::int AS n
            FROM events WHERE workspace_id = $1 AND ts >= ($2::date)::timestamp AT TIME ZONE $4 AND ts < ($3::date + 1)::timestamp AT TIME ZONE $4
            GROUP BY 1 ORDER BY 1`,
      params: [ws, from, to, d.tz],
      fromSql: (rows) => rows.map((r) => [r.day, Number(r.n)]),
    },
    {
      name: 'MAU (30 days to the last day)',
      gql: 'query($r:KpiRangeInput!){kpi(metric:MAU,grain:DAY,range:$r){total{points{localStart value}}}}',
      variables: { r: { from: to, to } },
      fromGql: (x) => (x as Points).kpi.total.points.map((p) => round(p.value)),
      sql: `SELECT count(DISTINCT profile_id)::int AS n FROM events
            WHERE workspace_id = $1 AND ts >= ($2::date + 1 - 30)::timestamp AT TIME ZONE $3 AND ts < ($2::date + 1)::timestamp AT TIME ZONE $3`,
      params: [ws, to, d.tz],
      fromSql: (rows) => rows.map((r) => Number(r.n)),
    },
    {
      name: `funnel, 4 steps, 30 days, ${BENCH_FUNNEL.withinHours} h`,
      gql: 'query($r:KpiRangeInput!,$s:[String!]!,$w:Float!){funnel(range:$r,steps:$s,withinHours:$w){name count}}',
      variables: { r: { from, to }, s: d.funnel, w: BENCH_FUNNEL.withinHours },
      fromGql: (x) => (x as { funnel: { count: number }[] }).funnel.map((s) => s.count),
      // Per person: the first step-1 event in the range, then the first of each next step at or after
      // the previous step and within 168 h of step 1 — correlated subqueries over the raw events.
      sql: `WITH p AS (SELECT profile_id, min(ts) AS t0 FROM events
                       WHERE workspace_id = $1 AND name = $5 AND ts >= ($2::date)::timestamp AT TIME ZONE $4 AND ts < ($3::date + 1)::timestamp AT TIME ZONE $4
                       GROUP BY profile_id),
                 p1 AS (SELECT p.*, (SELECT min(ts) FROM events e WHERE e.workspace_id = $1 AND e.profile_id = p.profile_id AND e.name = $6 AND e.ts >= p.t0 AND e.ts <= p.t0 + interval '168 hours') AS t1 FROM p),
                 p2 AS (SELECT p1.*, (SELECT min(ts) FROM events e WHERE e.workspace_id = $1 AND e.profile_id = p1.profile_id AND e.name = $7 AND e.ts >= p1.t1 AND e.ts <= p1.t0 + interval '168 hours') AS t2 FROM p1),
                 p3 AS (SELECT p2.*, (SELECT min(ts) FROM events e WHERE e.workspace_id = $1 AND e.profile_id = p2.profile_id AND e.name = $8 AND e.ts >= p2.t2 AND e.ts <= p2.t0 + interval '168 hours') AS t3 FROM p2)
            SELECT count(*)::int AS c0, count(t1)::int AS c1, count(t2)::int AS c2, count(t3)::int AS c3 FROM p3`,
      params: [ws, from, to, d.tz, ...d.funnel],
      fromSql: (rows) => [rows[0].c0, rows[0].c1, rows[0].c2, rows[0].c3].map(Number),
    },
    {
      name: 'retention 8×8 (DAY cohorts, 7 periods)',
      gql: 'query($r:KpiRangeInput!){retentionCohorts(range:$r,grain:DAY,periods:7){cohorts{cohortStart size retention}}}',
      variables: { r: { from: c0, to: addDays(c0, 7) } },
      fromGql: (x) =>
        (x as { retentionCohorts: { cohorts: { cohortStart: string; size: number; retention: (number | null)[] }[] } }).retentionCohorts.cohorts.map((c) => [
          c.cohortStart.slice(0, 10),
          c.size,
          c.retention.map(round),
        ]),
      // Cohort: the person's first event's local day; active in period j: any event on cohort day + j.
      sql: `WITH f AS (SELECT profile_id, (min(ts) AT TIME ZONE $3)::date AS d FROM events WHERE workspace_id = $1 GROUP BY profile_id),
                 c AS (SELECT profile_id, d FROM f WHERE d >= $2::date AND d < $2::date + 8),
                 a AS (SELECT DISTINCT profile_id, (ts AT TIME ZONE $3)::date AS d FROM events
                       WHERE workspace_id = $1 AND ts >= ($2::date)::timestamp AT TIME ZONE $3 AND ts < ($2::date + 15)::timestamp AT TIME ZONE $3)
            SELECT to_char(c.d, 'YYYY-MM-DD') AS cohort, a.d - c.d AS j, count(*)::int AS n
            FROM c JOIN a ON a.profile_id = c.profile_id AND a.d >= c.d AND a.d <= c.d + 7 GROUP BY 1, 2 ORDER BY 1, 2`,
      params: [ws, c0, d.tz],
      fromSql: (rows) => {
        const out: [string, number, (number | null)[]][] = [];
        for (let i = 0; i < 8; i++) {
          const day = addDays(c0, i);
          const cells = rows.filter((r) => r.cohort === day);
          const size = Number(cells.find((r) => Number(r.j) === 0)?.n ?? 0);
          out.push([day, size, Array.from({ length: 8 }, (_, j) => (size ? round(Number(cells.find((r) => Number(r.j) === j)?.n ?? 0) / size) : null))]);
        }
        return out;
      },
    },
  ];
}

const p95 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)];
};

export interface KpiQueryFacts {
  query: string;
  equal: boolean;
  siyuAnswer: unknown;
  naiveAnswer: unknown;
  siyuP95: number[];
  naiveP95: number[];
}

/**
 * Each repetition runs every query `samples` times through GraphQL (one request at a time, ANALYST
 * key) and `samples` times as naive SQL (pg client), interleaved per query; the p95 of each side per
 * repetition is compared (target: p95 ≤ 50 ms and ≥ 50× faster than naive).
 */
export async function runKpiQueries(opts: { app: SiyuApp; url: string; databaseUrl: string; data: KpiData; reps: number; samples: number; log: (m: string) => void }): Promise<{ comparisons: Comparison[]; facts: KpiQueryFacts[]; lines: string[] }> {
  const { key } = await opts.app.services.workspaces.createApiKey(systemActor(opts.data.workspaceId), { role: Role.ANALYST, name: 'bench kpi' });
  const pg = new Client({ connectionString: opts.databaseUrl });
  await pg.connect();
  const facts: KpiQueryFacts[] = [];
  try {
    const gql = async (q: KpiQuery) => {
      const res = await fetch(`${opts.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: q.gql, variables: q.variables }),
      });
      const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown };
      if (body.errors || !body.data) throw new Error(`${q.name}: ${JSON.stringify(body.errors)}`);
      return body.data;
    };
    for (const q of queries(opts.data)) {
      const siyuAnswer = q.fromGql(await gql(q));
      const naiveAnswer = q.fromSql((await pg.query(q.sql, q.params)).rows);
      const f: KpiQueryFacts = { query: q.name, equal: isDeepStrictEqual(siyuAnswer, naiveAnswer), siyuAnswer, naiveAnswer, siyuP95: [], naiveP95: [] };
      if (!f.equal) opts.log(`    WARNING ${q.name}: answers differ: Siyu ${JSON.stringify(siyuAnswer).slice(0, 400)} naive ${JSON.stringify(naiveAnswer).slice(0, 400)}`);
      for (let rep = 0; rep < opts.reps; rep++) {
        const s: number[] = [];
        const n: number[] = [];
        for (let i = 0; i < opts.samples; i++) {
          let t = performance.now();
          await gql(q);
          s.push(performance.now() - t);
          t = performance.now();
          await pg.query(q.sql, q.params);
          n.push(performance.now() - t);
        }
        f.siyuP95.push(p95(s));
        f.naiveP95.push(p95(n));
      }
      opts.log(`    ${q.name}: Siyu p95 ${fmt(f.siyuP95[0], 1)} ms, naive p95 ${fmt(f.naiveP95[0], 1)} ms, answers ${f.equal ? 'equal' : 'DIFFER'}`);
      facts.push(f);
    }
  } finally {
    await pg.end();
  }
  const comparisons = facts.map((f) => {
    const c = compare({
      case: 'KPI queries',
      metric: `p95 ms, ${f.query}`,
      higherIsBetter: false,
      siyuName: 'GraphQL over HTTP (rollups)',
      siyu: f.siyuP95,
      referenceName: 'naive SQL over raw events',
      reference: f.naiveP95,
      target: 50,
    });
    // Both halves of the target: the speed ratio and the absolute p95.
    c.meets = c.meets === true && c.siyu.median <= 50 && f.equal;
    return c;
  });
  const lines = [
    `- Data: ${opts.data.description} Time zone ${opts.data.tz}; last full local day ${opts.data.lastDay}. Funnel steps: ${opts.data.funnel.join(' → ')}.`,
    `- ${opts.samples} sequential requests per side per repetition, Siyu and naive alternating; ANALYST key; the naive SQL runs on one pg connection.`,
    '',
    '| query | answers equal | Siyu p95 ms (median) | ≤ 50 ms | naive p95 ms (median) |',
    '|---|---|---:|---|---:|',
    ...comparisons.map((c, i) => `| ${facts[i].query} | ${facts[i].equal ? 'yes' : '**no**'} | ${fmt(c.siyu.median, 1)} | ${c.siyu.median <= 50 ? 'yes' : 'no'} | ${fmt(c.reference.median, 1)} |`),
  ];
  return { comparisons, facts, lines };
}
