import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { lockWorkspaceWrites } from '../../platform/db/workspace-lock';
import { AppError, ErrorClass } from '../../platform/errors';
import type { ModuleDeps } from '../../platform/module';
import { AuditService, type AuditActor } from '../compliance';
import type { BatchContext, IngestOutcome, Projection, RawEvent } from '../events';
import { IdentityRepository, isChannel, prepareIdentifier, type IdentifierType, type IdentityService } from '../identities';
import { assignmentOf, canonicalIdentifierKey } from './experiment.assignment';
import {
  applyUpdate,
  autoDefinition,
  conversionCents,
  definitionFromInput,
  EXPERIMENT_VIEWED,
  exposureOf,
  keyOf,
  type ExperimentDef,
  type ExperimentInputLike,
  type Exposure,
  type VariantDef,
} from './experiment.definition';
import { ExperimentErrorCode as Code } from './experiment.errors';
import { combine, counterDeltas, exposeAgain, firstExposure, inWindow, rowKey, sameRow, type ExposureRow } from './experiment.exposures';
import { ExperimentRepository } from './experiment.repository';
import { experimentResults, type ExperimentResults } from './experiment.results';

/**
 * What `assignVariant` needs from modules built after this one (the composition root wires them):
 * the ingest (the exposure is recorded as an `Experiment Viewed` event, by this module's own
 * projection) and the identity rules and cipher (to find the person an identifier names).
 */
export interface ExperimentCollaborators {
  ingest: { ingest(workspaceId: string, events: RawEvent[]): Promise<IngestOutcome> };
  identities: Pick<IdentityService, 'rules' | 'cipher'>;
}

/** What `assignVariant` answers. */
export interface Assignment {
  experiment: ExperimentDef;
  enrolled: boolean;
  variant: VariantDef | null;
  profileId: string | null;
  firstExposedAt: Date | null;
  /** The person had been exposed before: their first variant, whatever the hash says now. */
  sticky: boolean;
}

/** Per-person reads of a re-derivation go in chunks of this many people. */
const EVIDENCE_CHUNK = 1000;

const notFound = (key: string, field: string) =>
  new AppError(ErrorClass.NOT_FOUND, Code.EXPERIMENT_NOT_FOUND, `No experiment ${JSON.stringify(key)} in this workspace.`, [{ field, message: 'no experiment has this key' }]);

/**
 * Experiments (A/B tests and grey releases): definitions; deterministic, weighted, sticky
 * assignment; the per-person exposure read model kept current in each ingest batch's transaction
 * (merges combine people, unmerges and rebuilds re-derive them from their events); and results read
 * from per-variant counters carried by deltas.
 */
export class ExperimentService {
  private readonly repo = new ExperimentRepository();
  private readonly identityRepo = new IdentityRepository();
  private readonly audit: AuditService;

  constructor(
    private readonly ctx: ModuleDeps,
    /** Called when `assignVariant` runs (the ingest and identities are built after the projections). */
    private readonly collaborators: () => ExperimentCollaborators,
  ) {
    this.audit = new AuditService(ctx.ds);
  }

  /** The read model: per (experiment, person) rows and per-variant counters, in the batch's transaction. */
  readonly projection: Projection = {
    name: 'experiments',
    after: [],
    // An exposure that names no experiment or variant is refused (typed, that event only): it could never be counted.
    validate: (e) => {
      if (e.name !== EXPERIMENT_VIEWED) return null;
      const x = exposureOf(e.properties);
      return 'reason' in x ? x : null;
    },
    apply: (b) => this.afterBatch(b),
    refresh: (r) => this.rederivePeople(r.em, r.workspaceId, r.profileIds, r.now),
    rebuild: (em, ws, ids, now) => this.rederivePeople(em, ws, ids, now),
    sweep: { skip: 'nothing here changes with time alone: a conversion window closes by itself (an event after it does not count when it arrives)' },
    due: { skip: 'no scheduled moments: windows are checked against each event\'s time as it arrives' },
    prefetch: { skip: 'no Profile field of this module' },
  };

  // ---- definitions -------------------------------------------------------------------------

  list(ws: string): Promise<ExperimentDef[]> {
    return this.repo.list(this.ctx.ds.manager, ws);
  }

  /** The definition, or NOT_FOUND `EXPERIMENT_NOT_FOUND` naming the argument (`experiment`, or `key`). */
  async get(ws: string, key: string, field = 'experiment'): Promise<ExperimentDef> {
    const k = keyOf(key);
    const d = k === null ? null : await this.repo.get(this.ctx.ds.manager, ws, k);
    if (!d) throw notFound(key, field);
    return d;
  }

  async create(actor: AuditActor, input: ExperimentInputLike): Promise<ExperimentDef> {
    const ws = actor.workspaceId;
    const def = definitionFromInput(input, new Date());
    await this.ctx.ds.transaction(async (em) => {
      // The ingest lock: a batch never sees a definition half-way.
      await lockWorkspaceWrites(em, ws);
      const inserted = await this.repo.insert(em, ws, [def]);
      if (!inserted.size) {
        throw AppError.conflict(Code.EXPERIMENT_EXISTS, `Experiment ${JSON.stringify(def.key)} already exists (it may have been created from its events): change it with updateExperiment.`);
      }
      await this.audit.record(em, actor, { action: 'experiment.create', targetType: 'experiment', targetId: def.key, details: { name: def.name, variants: def.variants.length, rolloutPercent: def.rolloutPercent } });
    });
    return this.get(ws, def.key);
  }

  /**
   * Changes a definition. A new click event, conversion event or window re-derives every exposed
   * person's click and conversion from their events (one read per person, in this transaction) and
   * moves the counters by the difference.
   */
  async update(actor: AuditActor, key: string, input: Omit<ExperimentInputLike, 'key'>): Promise<ExperimentDef> {
    const ws = actor.workspaceId;
    const current = await this.get(ws, key, 'key');
    const next = applyUpdate(current, input, new Date());
    await this.ctx.ds.transaction(async (em) => {
      await lockWorkspaceWrites(em, ws);
      await this.repo.save(em, ws, next);
      if (next.clickEvent !== current.clickEvent || next.conversionEvent !== current.conversionEvent || next.conversionWindowDays !== current.conversionWindowDays) {
        const before = await this.repo.rowsOfExperiment(em, ws, next.key);
        const after = new Map(before.map((r) => [rowKey(r.experimentKey, r.profileId), { ...r }]));
        await this.rederive(em, ws, new Map([[next.key, next]]), [...after.values()]);
        await this.write(em, ws, before, after);
      }
      await this.audit.record(em, actor, { action: 'experiment.update', targetType: 'experiment', targetId: next.key, details: { changed: Object.keys(input) } });
    });
    return this.get(ws, next.key);
  }

  async results(ws: string, key: string): Promise<{ experiment: ExperimentDef; results: ExperimentResults }> {
    const experiment = await this.get(ws, key);
    return { experiment, results: experimentResults(experiment, await this.repo.counts(this.ctx.ds.manager, ws, experiment.key)) };
  }

  // ---- assignment --------------------------------------------------------------------------

  /**
   * The variant of the person an identifier names. Exposed before (also through an identifier
   * merged into them since): their first variant (sticky). Otherwise the pure assignment of
   * (experiment key, their canonical identifier); outside a grey release's rollout: not enrolled,
   * nothing recorded. Enrolled: an `Experiment Viewed` event is ingested for the identifier
   * (creating the person like any event; its messageId is derived from the experiment and the
   * identifier, so a retry records nothing twice) and the answer is the exposure it recorded.
   */
  async assignVariant(ws: string, experimentKey: string, identifier: { type: string; namespace?: string | null; value: string }, channel = 'other'): Promise<Assignment> {
    const experiment = await this.get(ws, experimentKey);
    if (!isChannel(channel)) throw AppError.badInput(Code.INVALID_CHANNEL, 'channel', `unknown channel ${JSON.stringify(channel)}`);
    const { ingest, identities } = this.collaborators();
    const rules = await identities.rules(ws);
    const prepared = prepareIdentifier(identifier, rules, identities.cipher);
    if (!prepared.ok) {
      if (prepared.dropped) throw AppError.badInput('BLOCKED_VALUE', 'identifier.value', 'this value is blocked and never identifies anyone');
      throw AppError.badInput(prepared.reason, `identifier.${prepared.field}`, prepared.message);
    }
    const em = this.ctx.ds.manager;
    const [holder] = (await this.identityRepo.loadGraph(em, ws, [prepared.id.key])).profiles;
    if (holder) {
      const row = await this.repo.rowOf(em, ws, experiment.key, holder.id);
      if (row) return this.answer(experiment, row, true);
    }
    const canonical = holder ? canonicalIdentifierKey(holder.ids, (t) => rules.priority(t as IdentifierType)) : prepared.id.key;
    const variant = assignmentOf(experiment, canonical);
    if (!variant) return { experiment, enrolled: false, variant: null, profileId: holder?.id ?? null, firstExposedAt: null, sticky: false };

    const messageId = `exp-${createHash('sha256').update(experiment.key).update('\u0000').update(prepared.id.key).digest('hex').slice(0, 40)}`;
    const outcome = await ingest.ingest(ws, [
      {
        messageId,
        type: 'track',
        name: EXPERIMENT_VIEWED,
        channel,
        identifiers: [identifier],
        properties: { experiment_id: experiment.key, experiment_name: experiment.name, variation_id: variant.key, variation_name: variant.name },
        context: { source: 'assignVariant' },
      },
    ]);
    const r = outcome.results[0];
    if (r.status === 'REJECTED' || !r.profileId) {
      throw new AppError(ErrorClass.BAD_USER_INPUT, Code.EXPOSURE_REJECTED, `The exposure could not be recorded: ${r.error?.message ?? 'the event was refused'}.`, [
        { field: 'identifier', message: r.error?.message ?? 'refused' },
      ]);
    }
    const row = await this.repo.rowOf(em, ws, experiment.key, r.profileId);
    if (row) return this.answer(experiment, row, row.variantKey !== variant.key);
    // Recorded before under a person since split off by an unmerge: the assignment stands.
    return { experiment, enrolled: true, variant, profileId: r.profileId, firstExposedAt: null, sticky: false };
  }

  private answer(experiment: ExperimentDef, row: ExposureRow, sticky: boolean): Assignment {
    const variant = experiment.variants.find((v) => v.key === row.variantKey) ?? { key: row.variantKey, name: row.variantKey, weight: 0, control: false };
    return { experiment, enrolled: true, variant, profileId: row.profileId, firstExposedAt: row.firstExposedAt, sticky };
  }

  // ---- ingest --------------------------------------------------------------------------------

  /**
   * In the batch's transaction, from the batch alone plus indexed per-person reads:
   * 1. people merged away: their rows combine into their survivor's (earliest exposure wins;
   *    different variants contaminate) and the survivor's rows are re-derived (the merged person's
   *    events are the survivor's now);
   * 2. `Experiment Viewed` events: a first exposure creates the row (defining the experiment from
   *    the event when nobody has), a later one to another variant contaminates, an earlier one moves
   *    the first exposure; a new or moved first exposure re-derives the row's click and conversion
   *    from the person's events at or after it (this batch's included);
   * 3. click and conversion events of people already exposed count on their rows directly;
   * 4. the rows that changed are written and the counters move by the difference.
   */
  private async afterBatch(b: BatchContext): Promise<void> {
    const { em, workspaceId: ws } = b;
    const exposures: { profileId: string; ts: Date; x: Exposure }[] = [];
    for (const e of b.events) {
      if (e.name !== EXPERIMENT_VIEWED) continue;
      const x = exposureOf(e.properties);
      if (!('reason' in x)) exposures.push({ profileId: e.profileId, ts: e.ts, x });
    }
    const defs = new Map((await this.repo.list(em, ws)).map((d) => [d.key, d]));
    if (!defs.size && !exposures.length) return;
    await this.defineFromExposures(em, ws, defs, exposures.map((e) => e.x), b.now);
    const metricNames = new Set([...defs.values()].flatMap((d) => (d.clickEvent ? [d.clickEvent, d.conversionEvent] : [d.conversionEvent])));
    const metricEvents = b.events.filter((e) => e.name !== null && metricNames.has(e.name));
    if (!exposures.length && !b.merged.length && !metricEvents.length) return;

    const people = new Set([...exposures.map((e) => e.profileId), ...metricEvents.map((e) => e.profileId), ...b.merged.flatMap((m) => [m.mergedId, m.survivorId])]);
    const before = await this.repo.rowsOfProfiles(em, ws, [...people]);
    if (!before.length && !exposures.length) return;
    const rows = new Map(before.map((r) => [rowKey(r.experimentKey, r.profileId), { ...r }]));
    const rederive = new Set<string>();

    // 1. Merges.
    for (const m of b.merged) {
      for (const r of [...rows.values()].filter((x) => x.profileId === m.mergedId)) {
        const to = rowKey(r.experimentKey, m.survivorId);
        rows.set(to, combine(rows.get(to), r, m.survivorId));
        rows.delete(rowKey(r.experimentKey, r.profileId));
      }
    }
    const survivors = new Set(b.merged.map((m) => m.survivorId));
    for (const [k, r] of rows) if (survivors.has(r.profileId)) rederive.add(k);

    // 2. Exposures.
    for (const { profileId, ts, x } of exposures) {
      const k = rowKey(x.experiment, profileId);
      const r = rows.get(k);
      if (!r) {
        rows.set(k, firstExposure(x.experiment, profileId, x.variant, ts));
        rederive.add(k);
      } else if (exposeAgain(r, x.variant, ts)) rederive.add(k);
    }

    // 3. Clicks and conversions of rows not re-derived anyway.
    if (metricEvents.length) {
      const byPerson = new Map<string, ExposureRow[]>();
      for (const [k, r] of rows) if (!rederive.has(k)) byPerson.set(r.profileId, [...(byPerson.get(r.profileId) ?? []), r]);
      for (const e of metricEvents) {
        for (const r of byPerson.get(e.profileId) ?? []) {
          const d = defs.get(r.experimentKey);
          if (!d) continue;
          if (d.clickEvent === e.name && e.ts >= r.firstExposedAt) r.clicked = true;
          if (d.conversionEvent === e.name && inWindow(r, e.ts, d.conversionWindowDays)) {
            r.converted = true;
            r.revenueCents += conversionCents(e.revenue, e.properties);
          }
        }
      }
    }

    // 4. Re-derive, write, move the counters.
    await this.rederive(em, ws, defs, [...rederive].map((k) => rows.get(k)!));
    await this.write(em, ws, before, rows);
  }

  /**
   * Defines experiments from exposures to keys nobody defined (the first variant seen is the
   * control, equal weights, full rollout, the default conversion) and appends new variants to
   * definitions that were auto-created and not changed by an admin since. Updates `defs`.
   */
  private async defineFromExposures(em: EntityManager, ws: string, defs: Map<string, ExperimentDef>, exposures: Exposure[], now: Date): Promise<void> {
    const created: ExperimentDef[] = [];
    const grown = new Map<string, ExperimentDef>();
    for (const x of exposures) {
      const d = defs.get(x.experiment);
      if (!d) {
        const n = autoDefinition(x, now);
        defs.set(n.key, n);
        created.push(n);
      } else if (d.autoCreated && !d.variants.some((v) => v.key === x.variant)) {
        d.variants = [...d.variants, { key: x.variant, name: x.variantName ?? x.variant, weight: 1, control: false }];
        if (!created.includes(d)) grown.set(d.key, d);
      }
    }
    await this.repo.insert(em, ws, created);
    await this.repo.saveVariants(em, ws, [...grown.values()]);
  }

  /** Sets each row's click, conversion and revenue from the person's stored events at or after their first exposure. */
  private async rederive(em: EntityManager, ws: string, defs: Map<string, ExperimentDef>, rows: ExposureRow[]): Promise<void> {
    const known = rows.filter((r) => defs.has(r.experimentKey));
    for (let i = 0; i < known.length; i += EVIDENCE_CHUNK) {
      const chunk = known.slice(i, i + EVIDENCE_CHUNK);
      const evidence = await this.repo.evidence(
        em,
        ws,
        chunk.map((r) => {
          const d = defs.get(r.experimentKey)!;
          return { profileId: r.profileId, firstExposedAt: r.firstExposedAt, clickEvent: d.clickEvent, conversionEvent: d.conversionEvent, windowDays: d.conversionWindowDays };
        }),
      );
      chunk.forEach((r, j) => {
        const ev = evidence[j];
        r.clicked = ev.clicked;
        r.converted = ev.conversions.length > 0;
        r.revenueCents = ev.conversions.reduce((s, c) => s + conversionCents(null, c), 0n);
      });
    }
  }

  /** Writes the rows that changed (deleting those gone) and moves the counters by the difference. */
  private async write(em: EntityManager, ws: string, before: ExposureRow[], after: Map<string, ExposureRow>): Promise<void> {
    const old = new Map(before.map((r) => [rowKey(r.experimentKey, r.profileId), r]));
    const changed = [...after.entries()].filter(([k, r]) => !old.has(k) || !sameRow(old.get(k)!, r));
    const gone = before.filter((r) => !after.has(rowKey(r.experimentKey, r.profileId)));
    const touchedBefore = [...gone, ...changed.flatMap(([k]) => (old.has(k) ? [old.get(k)!] : []))];
    await this.repo.deleteRows(em, ws, gone);
    await this.repo.upsertRows(em, ws, changed.map(([, r]) => r));
    await this.repo.addCounts(em, ws, counterDeltas(touchedBefore, changed.map(([, r]) => r)));
  }

  /**
   * Re-derives these live people's rows from their stored events alone (after an unmerge, or in a
   * rebuild): exposures in time order give each row's first variant, time and contamination, then
   * clicks and conversions as on ingest. Rows and counters move by the difference.
   */
  private async rederivePeople(em: EntityManager, ws: string, profileIds: string[], now: Date): Promise<void> {
    if (!profileIds.length) return;
    const before = await this.repo.rowsOfProfiles(em, ws, profileIds);
    const events = await this.repo.exposureEvents(em, ws, profileIds);
    if (!before.length && !events.length) return;
    const defs = new Map((await this.repo.list(em, ws)).map((d) => [d.key, d]));
    const exposures = events.flatMap((e) => {
      const x = exposureOf(e.properties);
      return 'reason' in x ? [] : [{ ...e, x }];
    });
    await this.defineFromExposures(em, ws, defs, exposures.map((e) => e.x), now);
    const rows = new Map<string, ExposureRow>();
    for (const { profileId, ts, x } of exposures) {
      const k = rowKey(x.experiment, profileId);
      const r = rows.get(k);
      if (!r) rows.set(k, firstExposure(x.experiment, profileId, x.variant, ts));
      else exposeAgain(r, x.variant, ts);
    }
    await this.rederive(em, ws, defs, [...rows.values()]);
    await this.write(em, ws, before, rows);
  }
}
