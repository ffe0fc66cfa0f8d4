import { Client } from 'pg';
import type { SiyuApp } from '../../src/app';
import type { RawEvent } from '../../src/modules/events/event-validation';
import { fmt } from './stats';
import { batches, makeStream, type StreamStats } from './stream';

/**
 * The base dataset the read cases run on (profile 360, KPI queries, N+1 guard) and that the write
 * cases write beside (ingest, merges), so every case meets tables and indexes of the run's size.
 *
 * Built in two steps, because ingesting 10 M events through Siyu at ~2,000 events/s would take
 * about 80 minutes:
 *
 * 1. **Template**: a seeded stream (`lib/stream.ts`, 90 days) ingested through Siyu's ingest service
 *    into the workspace `bench base` — identity resolution with merges and refused links, profile
 *    aggregates, tags, segments, stages, health, KPI rollups: exactly what ingest writes.
 * 2. **Copies**: the template's people copied `copies − 1` times into the same workspace by set-based
 *    SQL, each copy with its own profile ids (`md5(id ‖ copy)::uuid`), message ids and identifier
 *    keys (suffix `~copy`); everything else (timestamps, traits, channels, tags, scores) is the
 *    template's. The tables copied are those a person's rows live in (`PERSON_TABLES`); the history
 *    tables (membership changes, stage transitions, audit) are not.
 * 3. **KPI rollups**: not copied. Besides per-person rows they hold workspace-level structures the
 *    KPI module owns and reshapes (day sets over dense person ordinals, quarter-hour totals: DESIGN
 *    §5), so Siyu rebuilds them itself, as `siyu recompute --parts kpis` does: every live person from
 *    their events (the template's people keep their ordinals, the copies get the next ones), and at
 *    the end of the pass the workspace-level totals from all its events.
 *
 * The result has `copies ×` the template's events, profiles, identifiers and rollup rows; per-person
 * consistency (each copy's events, identifiers and read models belong to its own profiles) holds by
 * construction, and the KPI case checks that Siyu's rollup answers equal the naive SQL over the raw
 * events of the whole workspace. Known difference from a real ingest of the same size: copies repeat
 * the template's timestamps, so each hour holds `copies ×` the template's activity of that hour; and
 * `events.identifier_keys` / `identity_merges.moved` (used only by unmerge) keep the template's keys.
 */

export interface BaseSize {
  /** Events of the template stream (ingested through Siyu). */
  templateEvents: number;
  /** Total copies including the template (≥ 1). */
  copies: number;
  /** Days the stream spans, ending at the run's date. */
  days: number;
}

/** Per bench size: small 20,000 events; full 10 M (100,000 template events × 100). */
export const BASE_SIZES: Record<'small' | 'full', BaseSize> = {
  small: { templateEvents: 5_000, copies: 4, days: 90 },
  full: { templateEvents: 100_000, copies: 100, days: 90 },
};

export interface BaseDataset {
  workspaceId: string;
  size: BaseSize;
  template: StreamStats & { ingestSec: number; eventsPerSec: number };
  copySec: number;
  vacuumSec: number;
  /** Row counts of the workspace after copying. */
  counts: { events: number; profiles: number; liveProfiles: number; identifiers: number; kpiActivityRows: number; profileTags: number; segmentMembers: number };
  /** Database size after the build, bytes. */
  databaseBytes: number;
  /** Local time zone and last full local day (for the KPI queries). */
  tz: string;
  lastDay: string;
}

/** Tables holding a person's rows (all of a workspace's rows in them belong to some person). */
const PERSON_TABLES = [
  'profiles', 'identifiers', 'events', 'relations', 'identity_merges', 'identity_conflicts', 'profile_tags',
  'segment_members', 'profile_stages', 'profile_health', 'consents',
];

/** The read models rebuilt after copying instead of copied (`siyu recompute` parts): KPI rollups, attribution and experiments (their per-day credit, path-set counts and per-variant counters are workspace-level too). */
const REBUILT_PARTS = ['kpis', 'attribution', 'experiments'];

/** uuid columns that hold a profile id (remapped per copy). */
const PROFILE_COLUMNS = new Set(['profile_id', 'origin_profile_id', 'merged_into', 'survivor_id', 'merged_id', 'other_profile_id', 'from_profile_id', 'to_profile_id']);
/** text columns that must stay unique per workspace (suffixed per copy). */
const SUFFIXED_COLUMNS = new Set(['message_id', 'event_message_id', 'value_key']);

/** Copies per INSERT statement (one transaction each). */
const COPIES_PER_STATEMENT = 5;

async function selectList(c: Client, table: string): Promise<{ columns: string[]; exprs: string[] }> {
  const { rows } = await c.query<{ column_name: string; data_type: string; column_default: string | null }>(
    `SELECT column_name, data_type, column_default FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  if (!rows.length) throw new Error(`table ${table} not found`);
  const columns: string[] = [];
  const exprs: string[] = [];
  for (const r of rows) {
    const col = `"${r.column_name}"`;
    // Sequence numbers and generated row ids: the column default gives the copy its own.
    if (r.column_default?.startsWith('nextval(')) continue;
    if (r.column_name === 'id' && table !== 'profiles') continue;
    columns.push(col);
    if ((table === 'profiles' && r.column_name === 'id') || (PROFILE_COLUMNS.has(r.column_name) && r.data_type === 'uuid')) {
      exprs.push(`md5(t.${col}::text || ':' || k)::uuid`);
    } else if (SUFFIXED_COLUMNS.has(r.column_name) && r.data_type === 'text') {
      exprs.push(`t.${col} || '~' || k`);
    } else exprs.push(`t.${col}`);
  }
  return { columns, exprs };
}

export async function buildBaseDataset(o: {
  app: SiyuApp;
  databaseUrl: string;
  size: BaseSize;
  seed: number;
  end: Date;
  batchSize: number;
  /** Funnels saved before any event, as an analyst would: kept by ingest, then by the rollups' rebuild after copying. */
  savedFunnels?: readonly { name: string; steps: string[]; withinHours: number }[];
  log: (m: string) => void;
}): Promise<BaseDataset> {
  const { app, size, log } = o;
  const ws = (await app.services.workspaces.createWorkspace('bench base', undefined)).workspace.id;
  for (const f of o.savedFunnels ?? []) await app.services.kpis.saveFunnel(ws, f.name, f.steps, f.withinHours);
  const { events, stats } = makeStream(size.templateEvents, o.seed, o.end, size.days);
  log(`  base dataset: template of ${fmt(events.length, 0)} events through the ingest service`);
  const loaded = await loadWorkspace({ app, databaseUrl: o.databaseUrl, workspaceId: ws, template: batches(events, o.batchSize), templateEvents: events.length, copies: size.copies, log });
  const base: BaseDataset = {
    workspaceId: ws,
    size,
    template: { ...stats, ingestSec: loaded.ingestSec, eventsPerSec: events.length / loaded.ingestSec },
    copySec: loaded.copySec,
    vacuumSec: loaded.vacuumSec,
    counts: loaded.counts,
    databaseBytes: loaded.databaseBytes,
    tz: loaded.tz,
    lastDay: loaded.lastDay,
  };
  // Recorded in the database, for follow-up runs on a kept database (bench/run-profile.ts).
  const c = new Client({ connectionString: o.databaseUrl });
  await c.connect();
  try {
    await c.query('CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb NOT NULL)');
    await c.query(`INSERT INTO bench_meta VALUES ('base', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [JSON.stringify(base)]);
  } finally {
    await c.end();
  }
  return base;
}

/** A workspace filled by `loadWorkspace`: template ingested through Siyu, then copied by SQL. */
export interface LoadedWorkspace {
  ingestSec: number;
  copySec: number;
  vacuumSec: number;
  /** The KPI rollups rebuilt after copying (0 without copies). */
  rebuildSec: number;
  counts: BaseDataset['counts'];
  databaseBytes: number;
  tz: string;
  lastDay: string;
}

/**
 * Ingests `template` (batches of events) into the existing workspace `workspaceId` through Siyu's
 * ingest service, then copies the workspace's person rows `copies − 1` times (see above), VACUUM
 * ANALYZE and CHECKPOINT. Used for the base dataset and for the KPI history pair
 * (bench/lib/history-pair.ts).
 */
export async function loadWorkspace(o: {
  app: SiyuApp;
  databaseUrl: string;
  workspaceId: string;
  template: Iterable<readonly object[]>;
  templateEvents: number;
  copies: number;
  log: (m: string) => void;
}): Promise<LoadedWorkspace> {
  const { app, log, copies } = o;
  const ws = o.workspaceId;
  if (!Number.isInteger(copies) || copies < 1) throw new Error('base dataset: copies must be a positive integer');
  let t0 = performance.now();
  for (const b of o.template) {
    const r = await app.services.ingest.ingest(ws, b as RawEvent[]);
    if (r.accepted !== b.length) throw new Error(`base dataset: template batch accepted ${r.accepted}/${b.length}`);
  }
  const ingestSec = (performance.now() - t0) / 1000;
  await app.services.kpis.alerts.idle();
  // What the due scheduler of a running server does within seconds of each moment (runs of touches
  // closing as non-converting attribution paths, journey windows ending): the history is in the past.
  while ((await app.services.due.runWorkspace(ws, new Date(), 5000)) > 0);
  log(`    ${fmt(o.templateEvents / ingestSec, 0)} events/s; copying ${copies - 1} times`);

  const c = new Client({ connectionString: o.databaseUrl });
  await c.connect();
  try {
    t0 = performance.now();
    let t0b = 0;
    // Snapshot the template's rows first, so every copy reads exactly them.
    const plans: { table: string; columns: string[]; exprs: string[] }[] = [];
    for (const table of PERSON_TABLES) {
      await c.query(`DROP TABLE IF EXISTS bench_tpl_${table}; CREATE UNLOGGED TABLE bench_tpl_${table} AS SELECT * FROM ${table} WHERE workspace_id = '${ws}'`);
      plans.push({ table, ...(await selectList(c, table)) });
    }
    // Two connections (PostgreSQL then uses both cores): `events` on one, every other table on the other.
    const c2 = new Client({ connectionString: o.databaseUrl });
    await c2.connect();
    try {
      const copy = async (client: Client, ps: typeof plans, first: number, last: number) => {
        for (const p of ps) {
          await client.query(
            `INSERT INTO ${p.table} (${p.columns.join(', ')})
             SELECT ${p.exprs.join(', ')} FROM generate_series($1::int, $2::int) AS k CROSS JOIN bench_tpl_${p.table} t`,
            [first, last],
          );
        }
      };
      for (let first = 1; first < copies; first += COPIES_PER_STATEMENT) {
        const last = Math.min(copies - 1, first + COPIES_PER_STATEMENT - 1);
        await Promise.all([copy(c, plans.filter((p) => p.table === 'events'), first, last), copy(c2, plans.filter((p) => p.table !== 'events'), first, last)]);
        log(`    copies ${first}–${last} of ${copies - 1} (${fmt((performance.now() - t0) / 1000, 0)} s)`);
      }
      t0b = performance.now();
      await Promise.all([c.query('VACUUM (ANALYZE) events'), c2.query(`VACUUM (ANALYZE) ${PERSON_TABLES.filter((t) => t !== 'events').join(', ')}`)]);
    } finally {
      await c2.end();
    }
    const copySec = (t0b - t0) / 1000;
    for (const table of PERSON_TABLES) await c.query(`DROP TABLE bench_tpl_${table}`);
    const vacuumSec = (performance.now() - t0b) / 1000;
    const rebuildSec = copies > 1 ? await rebuildKpis(app, c, ws, log) : 0;
    await c.query('CHECKPOINT');
    const one = async (sql: string) => Number((await c.query<{ n: string }>(sql, [ws])).rows[0].n);
    const counts = {
      events: await one('SELECT count(*) AS n FROM events WHERE workspace_id = $1'),
      profiles: await one('SELECT count(*) AS n FROM profiles WHERE workspace_id = $1'),
      liveProfiles: await one('SELECT count(*) AS n FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL'),
      identifiers: await one('SELECT count(*) AS n FROM identifiers WHERE workspace_id = $1'),
      kpiActivityRows: await one('SELECT count(*) AS n FROM kpi_activity WHERE workspace_id = $1'),
      profileTags: await one('SELECT count(*) AS n FROM profile_tags WHERE workspace_id = $1'),
      segmentMembers: await one('SELECT count(*) AS n FROM segment_members WHERE workspace_id = $1'),
    };
    if (counts.events !== o.templateEvents * copies) throw new Error(`base dataset: ${counts.events} events, expected ${o.templateEvents * copies}`);
    const databaseBytes = Number((await c.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
    const { rows } = await c.query<{ tz: string; last: string }>(
      `SELECT w.time_zone AS tz, to_char((max(e.ts) AT TIME ZONE w.time_zone)::date - 1, 'YYYY-MM-DD') AS last
       FROM workspaces w JOIN events e ON e.workspace_id = w.id WHERE w.id = $1 GROUP BY w.time_zone`,
      [ws],
    );
    log(
      `    ${fmt(counts.events, 0)} events, ${fmt(counts.liveProfiles, 0)} live profiles (${fmt(counts.profiles, 0)} with merged), ${fmt(counts.identifiers, 0)} identifiers; copy ${fmt(copySec, 0)} s, vacuum ${fmt(vacuumSec, 0)} s, KPI rebuild ${fmt(rebuildSec, 0)} s, database ${fmt(databaseBytes / 2 ** 30, 1)} GiB`,
    );
    return { ingestSec, copySec, vacuumSec, rebuildSec, counts, databaseBytes, tz: rows[0].tz, lastDay: rows[0].last };
  } finally {
    await c.end();
  }
}

/** Step 3 (see the top): the KPI rollups rebuilt by Siyu from the events, as `siyu recompute --parts kpis` does. */
async function rebuildKpis(app: SiyuApp, c: Client, ws: string, log: (m: string) => void): Promise<number> {
  const t0 = performance.now();
  const recompute = app.services.recompute;
  const missing = REBUILT_PARTS.filter((p) => !recompute.parts.includes(p));
  if (missing.length) throw new Error(`base dataset: no recompute part ${missing.join(', ')} (parts: ${recompute.parts.join(', ')})`);
  let shown = 0;
  const r = await recompute.run(ws, {
    parts: REBUILT_PARTS,
    restart: true,
    chunk: 2000,
    onProgress: (p) => {
      if (p.done - shown >= p.total / 5 || (p.done === p.total && shown < p.total)) {
        shown = p.done;
        log(`    KPI rollups, attribution and experiments rebuilt for ${fmt(p.done, 0)} of ${fmt(p.total, 0)} live profiles (${fmt(p.elapsedMs / 1000, 0)} s)`);
      }
    },
  });
  if (r.stopped) throw new Error('base dataset: the KPI rebuild stopped');
  const { rows } = await c.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND (tablename LIKE 'kpi\\_%' OR tablename LIKE 'attribution\\_%' OR tablename LIKE 'experiment\\_%')`);
  await c.query(`VACUUM (ANALYZE) ${rows.map((x) => x.t).join(', ')}`);
  return (performance.now() - t0) / 1000;
}
