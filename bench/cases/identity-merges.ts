import { Client } from 'pg';
import type { SiyuApp } from '../../src/app';
import type { RawEvent } from '../../src/modules/events';
import { idKey, prepareIdentifier } from '../../src/modules/identities';
import { compare, type Comparison } from '../lib/report';
import { fmt } from '../lib/stats';
import { batches, type BenchEvent, type StreamStats } from '../lib/stream';
import { UnionFind } from '../../src/shared/union-find';

/**
 * Identity merges: the merge-heavy stream of bench/lib/stream.ts (~19.5% of links join two
 * profiles; 1 in 50 people share a family device, so some links are refused) through Siyu's ingest
 * service, against a batched `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING` of the same
 * events' identifier rows (same match keys, ciphertexts prepared before timing) into
 * `identifiers` itself under a reference workspace of its own (same table, indexes and size), one
 * statement per 500 events. Verified every
 * repetition: the partition Siyu ends with (which identifiers share a profile) equals a plain
 * union-find over the links it accepted (each event's identifiers minus those it refused).
 */
export interface IdentityRep {
  siyu: number;
  upsert: number;
  merges: number;
  conflicts: number;
  components: number;
  identifiers: number;
  /** Components of the oracle missing from Siyu's partition (0 = identical). */
  mismatched: number;
}

export async function runIdentityMerges(opts: {
  app: SiyuApp;
  databaseUrl: string;
  events: BenchEvent[];
  stats: StreamStats;
  batchSize: number;
  reps: number;
  log: (m: string) => void;
}): Promise<{ comparisons: Comparison[]; reps: IdentityRep[]; lines: string[] }> {
  const { app } = opts;
  const ds = app.db.dataSource;
  const pg = new Client({ connectionString: opts.databaseUrl });
  await pg.connect();
  const out: IdentityRep[] = [];
  try {
    const chunks = batches(opts.events, opts.batchSize);
    for (let rep = 0; rep < opts.reps; rep++) {
      // Siyu: a fresh workspace, 500 events per ingest call.
      const ws = (await app.services.workspaces.createWorkspace(`bench identity ${rep}`, undefined)).workspace.id;
      await pg.query('CHECKPOINT');
      let t = performance.now();
      for (const b of chunks) await app.services.ingest.ingest(ws, b as RawEvent[]);
      const siyu = opts.events.length / ((performance.now() - t) / 1000);
      await app.services.kpis.alerts.idle();

      // Reference rows: the same identifiers with Siyu's match keys, prepared before timing.
      const rules = await app.services.identities.rules(ws);
      const cipher = app.services.identities.cipher;
      const prepared = chunks.map((b) => {
        const cols: [string[], string[], string[], (string | null)[], string[]] = [[], [], [], [], []];
        for (const e of b)
          for (const i of e.identifiers) {
            const p = prepareIdentifier(i, rules, cipher);
            if (!p.ok) continue;
            cols[0].push(p.id.type);
            cols[1].push(p.id.namespace);
            cols[2].push(p.id.valueKey);
            cols[3].push(p.id.valueEnc);
            cols[4].push(e.timestamp);
          }
        return cols;
      });
      // Into `identifiers` itself under a reference workspace of its own: the same table and indexes, of the same size.
      const ref = (await app.services.workspaces.createWorkspace(`bench identity ${rep} upsert`, undefined)).workspace.id;
      await pg.query('CHECKPOINT');
      t = performance.now();
      for (const cols of prepared) {
        await pg.query(
          `INSERT INTO identifiers (workspace_id, type, namespace, value_key, value_enc, profile_id, first_seen_at, last_seen_at)
           SELECT $1, u.t, u.n, u.k, u.e, gen_random_uuid(), u.ts, u.ts FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) AS u(t, n, k, e, ts)
           ON CONFLICT DO NOTHING`,
          [ref, ...cols],
        );
      }
      const upsert = opts.events.length / ((performance.now() - t) / 1000);

      // The oracle: a plain union-find over the accepted links.
      const refused = new Map<string, Set<string>>();
      const wholeEvent = new Set<string>();
      for (const c of (await ds.query('SELECT event_message_id AS m, identifier FROM identity_conflicts WHERE workspace_id = $1', [ws])) as { m: string; identifier: [string, string, string] | null }[]) {
        if (!c.identifier) wholeEvent.add(c.m);
        else {
          const s = refused.get(c.m) ?? new Set<string>();
          s.add(idKey(...c.identifier));
          refused.set(c.m, s);
        }
      }
      const uf = new UnionFind();
      for (const e of opts.events) {
        const keys: string[] = [];
        for (const i of [...e.identifiers, ...(e.context?.sharedBy ? [e.context.sharedBy as BenchEvent['identifiers'][number]] : [])]) {
          const p = prepareIdentifier(i, rules, cipher);
          if (p.ok) keys.push(p.id.key);
        }
        const own = keys.slice(0, e.identifiers.length);
        for (const k of keys) uf.find(k);
        if (wholeEvent.has(e.messageId)) continue;
        const accepted = own.filter((k) => !refused.get(e.messageId)?.has(k));
        for (let i = 1; i < accepted.length; i++) uf.union(accepted[0], accepted[i]);
      }
      const byProfile = new Map<string, string[]>();
      const rows: { type: string; namespace: string; value_key: string; profile_id: string }[] = await ds.query(
        'SELECT type, namespace, value_key, profile_id FROM identifiers WHERE workspace_id = $1',
        [ws],
      );
      for (const r of rows) {
        const k = idKey(r.type, r.namespace, r.value_key);
        const g = byProfile.get(r.profile_id);
        if (g) g.push(k);
        else byProfile.set(r.profile_id, [k]);
      }
      const siyuParts = new Set([...byProfile.values()].map((g) => g.sort().join('\n')));
      const oracle = uf.components();
      const mismatched = oracle.filter((c) => !siyuParts.has(c.join('\n'))).length + Math.max(0, siyuParts.size - oracle.length);
      const [m] = await ds.query(
        `SELECT (SELECT count(*) FROM identity_merges WHERE workspace_id = $1)::int AS merges, (SELECT count(*) FROM identity_conflicts WHERE workspace_id = $1)::int AS conflicts`,
        [ws],
      );
      out.push({ siyu, upsert, merges: m.merges, conflicts: m.conflicts, components: oracle.length, identifiers: rows.length, mismatched });
      opts.log(`    repetition ${rep + 1}/${opts.reps}: Siyu ${fmt(siyu, 0)} events/s, upsert ${fmt(upsert, 0)} events/s; partition ${mismatched ? `DIFFERS (${mismatched} components)` : 'identical'} to union-find`);
    }
  } finally {
    await pg.end();
  }
  const r0 = out[0];
  const comparisons = [
    compare({
      case: 'identity merges',
      metric: 'events/s',
      higherIsBetter: true,
      siyuName: 'ingest service in-process, 500/call (resolution, merges, read models)',
      siyu: out.map((r) => r.siyu),
      referenceName: 'INSERT … unnest … ON CONFLICT DO NOTHING of the identifier rows, 500 events/statement',
      reference: out.map((r) => r.upsert),
      target: 0.25,
    }),
  ];
  const lines = [
    `- Stream: ${fmt(opts.stats.events, 0)} events of ${fmt(opts.stats.people, 0)} people (bench/lib/stream.ts, seed of case 1 + 1); ${fmt(opts.stats.links, 0)} links, ${fmt((100 * opts.stats.mergingLinks) / opts.stats.links, 1)}% of them join two profiles (plain union-find). Siyu: ${fmt(r0.merges, 0)} merges, ${fmt(r0.conflicts, 0)} refused links (conflicts), ${fmt(r0.identifiers, 0)} identifiers.`,
    `- Verified every repetition: Siyu's partition of identifiers into profiles equals a plain union-find (bench/lib/union-find.ts, copied from tests/support/random.ts) over each event's identifiers minus those Siyu refused: ${out.map((r) => (r.mismatched ? `**${r.mismatched} components differ**` : `identical (${fmt(r.components, 0)} components)`)).join('; ')}.`,
    `- The reference only writes identifier rows (no resolution, no merge, no events, no read models); both sides write into a fresh workspace of the same \`identifiers\` table (beside the base dataset's rows), with a CHECKPOINT before timing.`,
  ];
  return { comparisons, reps: out, lines };
}
