import type { EntityManager } from 'typeorm';
import { EXPERIMENT_VIEWED, type ExperimentDef, type VariantDef } from './experiment.definition';
import { ExperimentEntity } from './experiment.entity';
import type { Counts, ExposureRow } from './experiment.exposures';

interface RowRecord {
  experiment_key: string;
  profile_id: string;
  variant_key: string;
  first_exposed_at: Date | string;
  contaminated: boolean;
  clicked: boolean;
  converted: boolean;
  revenue_cents: string;
}

const ROW_COLS = `experiment_key, profile_id, variant_key, first_exposed_at, contaminated, clicked, converted, revenue_cents::text AS revenue_cents`;

const toRow = (r: RowRecord): ExposureRow => ({
  experimentKey: r.experiment_key,
  profileId: r.profile_id,
  variantKey: r.variant_key,
  firstExposedAt: new Date(r.first_exposed_at),
  contaminated: r.contaminated,
  clicked: r.clicked,
  converted: r.converted,
  revenueCents: BigInt(r.revenue_cents),
});

const toDef = (e: ExperimentEntity): ExperimentDef => ({
  key: e.key,
  name: e.name,
  variants: e.variants,
  rolloutPercent: e.rolloutPercent,
  clickEvent: e.clickEvent,
  conversionEvent: e.conversionEvent,
  conversionWindowDays: e.conversionWindowDays,
  autoCreated: e.autoCreated,
  createdAt: new Date(e.createdAt),
  updatedAt: new Date(e.updatedAt),
});

/** What re-deriving a person's clicks and conversions needs: their first exposure and the experiment's events. */
export interface EvidenceAsk {
  profileId: string;
  firstExposedAt: Date;
  clickEvent: string | null;
  conversionEvent: string;
  windowDays: number;
}

/** A person's click (any at or after the first exposure) and conversions in the window (their value properties). */
export interface Evidence {
  clicked: boolean;
  conversions: { revenue?: unknown; total?: unknown }[];
}

/** SQL of the experiments module. Definitions go through the entity; the per-person and counter tables through set-based SQL. */
export class ExperimentRepository {
  async list(em: EntityManager, ws: string): Promise<ExperimentDef[]> {
    return (await em.find(ExperimentEntity, { where: { workspaceId: ws }, order: { createdAt: 'ASC', key: 'ASC' } })).map(toDef);
  }

  async get(em: EntityManager, ws: string, key: string): Promise<ExperimentDef | null> {
    const e = await em.findOneBy(ExperimentEntity, { workspaceId: ws, key });
    return e ? toDef(e) : null;
  }

  /** Inserts definitions that do not exist yet; returns the keys inserted. */
  async insert(em: EntityManager, ws: string, defs: ExperimentDef[]): Promise<Set<string>> {
    if (!defs.length) return new Set();
    const rows: { key: string }[] = await em.query(
      `INSERT INTO experiments (workspace_id, key, name, variants, rollout_percent, click_event, conversion_event, conversion_window_days, auto_created, created_at, updated_at)
       SELECT $1::uuid, u.key, u.name, u.variants, u.rollout, u.click, u.conv, u.win, u.auto, u.at, u.at
         FROM unnest($2::text[], $3::text[], $4::jsonb[], $5::int[], $6::text[], $7::text[], $8::int[], $9::boolean[], $10::timestamptz[]) AS u(key, name, variants, rollout, click, conv, win, auto, at)
       ON CONFLICT (workspace_id, key) DO NOTHING RETURNING key`,
      [
        ws,
        defs.map((d) => d.key),
        defs.map((d) => d.name),
        defs.map((d) => JSON.stringify(d.variants)),
        defs.map((d) => d.rolloutPercent),
        defs.map((d) => d.clickEvent),
        defs.map((d) => d.conversionEvent),
        defs.map((d) => d.conversionWindowDays),
        defs.map((d) => d.autoCreated),
        defs.map((d) => d.createdAt.toISOString()),
      ],
    );
    return new Set(rows.map((r) => r.key));
  }

  /** Writes a changed definition (every field but the key and creation time). */
  async save(em: EntityManager, ws: string, d: ExperimentDef): Promise<void> {
    await em.update(
      ExperimentEntity,
      { workspaceId: ws, key: d.key },
      {
        name: d.name,
        variants: d.variants,
        rolloutPercent: d.rolloutPercent,
        clickEvent: d.clickEvent,
        conversionEvent: d.conversionEvent,
        conversionWindowDays: d.conversionWindowDays,
        autoCreated: d.autoCreated,
        updatedAt: d.updatedAt,
      },
    );
  }

  /** Auto-created definitions that saw new variants. */
  async saveVariants(em: EntityManager, ws: string, defs: { key: string; variants: VariantDef[] }[]): Promise<void> {
    if (!defs.length) return;
    await em.query(
      `UPDATE experiments x SET variants = u.v, updated_at = now() FROM unnest($2::text[], $3::jsonb[]) AS u(k, v) WHERE x.workspace_id = $1 AND x.key = u.k`,
      [ws, defs.map((d) => d.key), defs.map((d) => JSON.stringify(d.variants))],
    );
  }

  // ---- people ------------------------------------------------------------------------------

  /** Every experiment row of these people (one indexed read). */
  async rowsOfProfiles(em: EntityManager, ws: string, profileIds: string[]): Promise<ExposureRow[]> {
    if (!profileIds.length) return [];
    const rows: RowRecord[] = await em.query(`SELECT ${ROW_COLS} FROM experiment_exposures WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, profileIds]);
    return rows.map(toRow);
  }

  /** Every row of one experiment (a change of its click or conversion definition re-derives them all). */
  async rowsOfExperiment(em: EntityManager, ws: string, key: string): Promise<ExposureRow[]> {
    const rows: RowRecord[] = await em.query(`SELECT ${ROW_COLS} FROM experiment_exposures WHERE workspace_id = $1 AND experiment_key = $2`, [ws, key]);
    return rows.map(toRow);
  }

  async rowOf(em: EntityManager, ws: string, key: string, profileId: string): Promise<ExposureRow | null> {
    const [r]: RowRecord[] = await em.query(`SELECT ${ROW_COLS} FROM experiment_exposures WHERE workspace_id = $1 AND experiment_key = $2 AND profile_id = $3`, [ws, key, profileId]);
    return r ? toRow(r) : null;
  }

  /** The stored `Experiment Viewed` events of these people, oldest first (an unmerge's or a rebuild's re-derivation). */
  async exposureEvents(em: EntityManager, ws: string, profileIds: string[]): Promise<{ profileId: string; ts: Date; properties: Record<string, unknown> | null }[]> {
    if (!profileIds.length) return [];
    const rows: { profile_id: string; ts: Date; properties: Record<string, unknown> | null }[] = await em.query(
      `SELECT profile_id, ts, properties FROM events WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND name = $3 ORDER BY ts, message_id`,
      [ws, profileIds, EXPERIMENT_VIEWED],
    );
    return rows.map((r) => ({ profileId: r.profile_id, ts: new Date(r.ts), properties: r.properties }));
  }

  /**
   * Per ask, from the person's stored events (through `events_profile_ts_idx`, only events at or
   * after the first exposure): whether a click event exists, and the value properties of the
   * conversion events in [first exposure, first exposure + days × 24 h).
   */
  async evidence(em: EntityManager, ws: string, asks: EvidenceAsk[]): Promise<Evidence[]> {
    if (!asks.length) return [];
    const rows: { i: string; clicked: boolean; conversions: Evidence['conversions'] }[] = await em.query(
      `SELECT u.i, (u.click IS NOT NULL AND EXISTS (
                SELECT 1 FROM events e WHERE e.workspace_id = $1 AND e.profile_id = u.p AND e.ts >= u.f AND e.name = u.click)) AS clicked,
              coalesce((SELECT jsonb_agg(jsonb_build_object('revenue', e.properties -> 'revenue', 'total', e.properties -> 'total'))
                 FROM events e WHERE e.workspace_id = $1 AND e.profile_id = u.p AND e.ts >= u.f AND e.ts < u.f + u.w * interval '24 hours' AND e.name = u.conv), '[]'::jsonb) AS conversions
         FROM unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::int[]) WITH ORDINALITY AS u(p, f, click, conv, w, i)`,
      [ws, asks.map((a) => a.profileId), asks.map((a) => a.firstExposedAt.toISOString()), asks.map((a) => a.clickEvent), asks.map((a) => a.conversionEvent), asks.map((a) => a.windowDays)],
    );
    const out: Evidence[] = asks.map(() => ({ clicked: false, conversions: [] }));
    for (const r of rows) out[Number(r.i) - 1] = { clicked: r.clicked, conversions: r.conversions };
    return out;
  }

  async upsertRows(em: EntityManager, ws: string, rows: ExposureRow[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO experiment_exposures (workspace_id, experiment_key, profile_id, variant_key, first_exposed_at, contaminated, clicked, converted, revenue_cents)
       SELECT $1::uuid, * FROM unnest($2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::boolean[], $7::boolean[], $8::boolean[], $9::bigint[])
       ON CONFLICT (workspace_id, experiment_key, profile_id) DO UPDATE
         SET variant_key = excluded.variant_key, first_exposed_at = excluded.first_exposed_at, contaminated = excluded.contaminated,
             clicked = excluded.clicked, converted = excluded.converted, revenue_cents = excluded.revenue_cents`,
      [
        ws,
        rows.map((r) => r.experimentKey),
        rows.map((r) => r.profileId),
        rows.map((r) => r.variantKey),
        rows.map((r) => r.firstExposedAt.toISOString()),
        rows.map((r) => r.contaminated),
        rows.map((r) => r.clicked),
        rows.map((r) => r.converted),
        rows.map((r) => r.revenueCents.toString()),
      ],
    );
  }

  async deleteRows(em: EntityManager, ws: string, rows: { experimentKey: string; profileId: string }[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `DELETE FROM experiment_exposures t USING unnest($2::text[], $3::uuid[]) AS u(k, p) WHERE t.workspace_id = $1 AND t.experiment_key = u.k AND t.profile_id = u.p`,
      [ws, rows.map((r) => r.experimentKey), rows.map((r) => r.profileId)],
    );
  }

  // ---- counters ----------------------------------------------------------------------------

  /** Adds deltas to the per-variant counters (one upsert). */
  async addCounts(em: EntityManager, ws: string, deltas: Counts[]): Promise<void> {
    if (!deltas.length) return;
    await em.query(
      `INSERT INTO experiment_variant_counts AS c (workspace_id, experiment_key, variant_key, contaminated, exposed, clicked, converted, revenue_cents, revenue_sq_cents)
       SELECT $1::uuid, * FROM unnest($2::text[], $3::text[], $4::boolean[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::numeric[])
       ON CONFLICT (workspace_id, experiment_key, variant_key, contaminated) DO UPDATE
         SET exposed = c.exposed + excluded.exposed, clicked = c.clicked + excluded.clicked, converted = c.converted + excluded.converted,
             revenue_cents = c.revenue_cents + excluded.revenue_cents, revenue_sq_cents = c.revenue_sq_cents + excluded.revenue_sq_cents`,
      [
        ws,
        deltas.map((d) => d.experimentKey),
        deltas.map((d) => d.variantKey),
        deltas.map((d) => d.contaminated),
        deltas.map((d) => d.exposed),
        deltas.map((d) => d.clicked),
        deltas.map((d) => d.converted),
        deltas.map((d) => d.revenueCents.toString()),
        deltas.map((d) => d.revenueSqCents.toString()),
      ],
    );
  }

  /** The counters of one experiment: one row per (first variant, contaminated). */
  async counts(em: EntityManager, ws: string, key: string): Promise<Counts[]> {
    const rows: { variant_key: string; contaminated: boolean; exposed: string; clicked: string; converted: string; revenue_cents: string; revenue_sq_cents: string }[] = await em.query(
      `SELECT variant_key, contaminated, exposed::text, clicked::text, converted::text, revenue_cents::text, revenue_sq_cents::text
         FROM experiment_variant_counts WHERE workspace_id = $1 AND experiment_key = $2 ORDER BY variant_key, contaminated`,
      [ws, key],
    );
    return rows.map((r) => ({
      experimentKey: key,
      variantKey: r.variant_key,
      contaminated: r.contaminated,
      exposed: Number(r.exposed),
      clicked: Number(r.clicked),
      converted: Number(r.converted),
      revenueCents: BigInt(r.revenue_cents),
      // numeric arithmetic on integers stays integral; `::text` may still print a scale.
      revenueSqCents: BigInt(r.revenue_sq_cents.replace(/\.0*$/, '')),
    }));
  }
}
