import type { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../../platform/errors';
import type { Logger } from '../../platform/logging';
import type { StatisticsRefresher } from '../../platform/db';
import { Topics, publishProfilesChanged, type SiyuPubSub } from '../../platform/pubsub';
import { IdentityGraph, IdentityRepository, type IdentityRules, identifierRowFrom, type IdentityService, type IdentifierRow, type PreparedIdentifier } from '../identities';
import { ProfileRepository, applyEvent, combine, emptyAggregate, type ProfileAggregate } from '../profiles';
import type { MembershipChange, TagService } from '../tags';
import type { BatchEvent, IngestHook } from '../../platform/hooks';
import { EventRepository, type EventRow, type RelationRow } from './event.repository';
import { MAX_EVENTS_PER_BATCH, validateEvent, type RawEvent, type ValidEvent } from './event-validation';

export type IngestStatus = 'ACCEPTED' | 'DUPLICATE' | 'REJECTED';

export interface EventResult {
  index: number;
  messageId: string | null;
  status: IngestStatus;
  profileId: string | null;
  droppedIdentifiers: number;
  error: { reason: string; field: string; message: string } | null;
}

interface WriteResult {
  owners: Map<number, string>;
  rejected: Map<number, { reason: string; field: string; message: string }>;
  changes: MembershipChange[];
  afterCommit: (() => void)[];
  changedProfiles: string[];
}

interface WriteJob {
  events: ValidEvent[];
  rules: IdentityRules;
  /** Retried on its own after its group's transaction failed. */
  alone?: boolean;
  resolve(r: WriteResult): void;
  reject(err: unknown): void;
}

interface WriteQueue {
  pending: WriteJob[];
  running: boolean;
}

export interface IngestOutcome {
  accepted: number;
  duplicates: number;
  rejected: number;
  droppedIdentifiers: number;
  results: EventResult[];
}

/**
 * The write path: validate → dedupe → resolve identities → store events → update read models, in
 * one transaction with a handful of set-based statements per batch. Acknowledged only after commit.
 */
export class IngestService {
  private readonly identities = new IdentityRepository();
  private readonly profiles = new ProfileRepository();
  private readonly events = new EventRepository();
  /** Read models kept current in the batch's transaction (registered by their modules). */
  private readonly hooks: IngestHook[] = [];
  /** Per workspace: calls waiting for the next group-commit transaction. */
  private readonly queues = new Map<string, WriteQueue>();
  /** Write transactions run and the calls they served (group commit at work: calls ≥ transactions). */
  readonly stats = { transactions: 0, calls: 0 };
  /** Told what each workspace wrote, to keep the planner's statistics current (PostgreSQL; set by the app). */
  statistics: StatisticsRefresher | null = null;

  constructor(
    private readonly ds: DataSource,
    private readonly identity: IdentityService,
    private readonly tags: TagService,
    private readonly pubSub: SiyuPubSub,
    private readonly log: Logger,
  ) {}

  addHook(hook: IngestHook): void {
    this.hooks.push(hook);
  }

  async ingest(workspaceId: string, raw: RawEvent[]): Promise<IngestOutcome> {
    if (raw.length > MAX_EVENTS_PER_BATCH) {
      throw AppError.badInput('BATCH_TOO_LARGE', 'events', `at most ${MAX_EVENTS_PER_BATCH} events per call; got ${raw.length}`);
    }
    const rules = await this.identity.rules(workspaceId);
    await this.tags.ensureDefaults(workspaceId);
    const cipher = this.identity.cipher;
    const results: EventResult[] = [];
    const valid: ValidEvent[] = [];
    const seen = new Set<string>();
    const now = Date.now();
    raw.forEach((r, index) => {
      let v = validateEvent(r, index, rules, cipher, now);
      // Modules' own payload checks (e.g. consent events), one rejection per event like any other.
      if (v.ok) {
        const event = v.event;
        const bad = this.hooks.map((h) => h.validate?.(event)).find((x) => x);
        if (bad) v = { ok: false, ...bad };
      }
      const messageId = typeof r?.messageId === 'string' ? r.messageId.trim() : null;
      if (!v.ok) {
        results.push({ index, messageId, status: 'REJECTED', profileId: null, droppedIdentifiers: 0, error: { reason: v.reason, field: v.field, message: v.message } });
      } else if (seen.has(v.event.messageId)) {
        results.push({ index, messageId, status: 'DUPLICATE', profileId: null, droppedIdentifiers: v.event.dropped, error: null });
      } else {
        seen.add(v.event.messageId);
        valid.push(v.event);
        results.push({ index, messageId, status: 'ACCEPTED', profileId: null, droppedIdentifiers: v.event.dropped, error: null });
      }
    });

    let changes: MembershipChange[] = [];
    let afterCommit: (() => void)[] = [];
    let changedProfiles: string[] = [];
    if (valid.length) {
      const written = await this.writeGrouped(workspaceId, valid, rules);
      changes = written.changes;
      afterCommit = written.afterCommit;
      changedProfiles = written.changedProfiles;
      for (const e of valid) {
        const owner = written.owners.get(e.index);
        const rejection = written.rejected.get(e.index);
        if (rejection) Object.assign(results[e.index], { status: 'REJECTED', droppedIdentifiers: 0, error: rejection });
        else if (owner) results[e.index].profileId = owner;
        else results[e.index].status = 'DUPLICATE';
      }
    }
    const count = (s: IngestStatus) => results.filter((r) => r.status === s).length;
    const outcome = {
      accepted: count('ACCEPTED'),
      duplicates: count('DUPLICATE'),
      rejected: count('REJECTED'),
      droppedIdentifiers: results.reduce((n, r) => n + r.droppedIdentifiers, 0),
      results,
    };
    if (outcome.accepted) {
      this.pubSub.publish(Topics.eventsIngested(workspaceId), { workspaceId, accepted: outcome.accepted });
      this.statistics?.noteWritten(workspaceId, outcome.accepted);
    }
    publishProfilesChanged(this.pubSub, workspaceId, changedProfiles);
    this.tags.publish(workspaceId, changes);
    for (const f of afterCommit) f();
    return outcome;
  }

  /**
   * Group commit: the calls of one workspace that arrive while its previous write transaction runs
   * are written together in the next one (up to MAX_EVENTS_PER_BATCH events), since a workspace's
   * writes are serialised by its advisory lock anyway. Each call still answers after the commit
   * that holds its events. When a group's transaction fails, each of its calls is retried in a
   * transaction of its own, so only the call that caused it fails (and stores nothing).
   */
  private writeGrouped(workspaceId: string, events: ValidEvent[], rules: IdentityRules): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => {
      let q = this.queues.get(workspaceId);
      if (!q) this.queues.set(workspaceId, (q = { pending: [], running: false }));
      q.pending.push({ events, rules, resolve, reject });
      if (!q.running) void this.drain(workspaceId, q);
    });
  }

  private async drain(workspaceId: string, q: WriteQueue): Promise<void> {
    q.running = true;
    try {
      while (q.pending.length) {
        const group: WriteJob[] = [];
        let n = 0;
        while (q.pending.length && (!group.length || (!group[0].alone && !q.pending[0].alone && n + q.pending[0].events.length <= MAX_EVENTS_PER_BATCH))) {
          const job = q.pending.shift()!;
          group.push(job);
          n += job.events.length;
        }
        // One batch with fresh indices; `origin` maps them back. A messageId sent by two calls of
        // the group is written once: the later call sees it as a duplicate.
        const combined: ValidEvent[] = [];
        const origin: { job: number; index: number }[] = [];
        const seen = new Set<string>();
        group.forEach((job, j) => {
          for (const e of job.events) {
            if (seen.has(e.messageId)) continue;
            seen.add(e.messageId);
            origin.push({ job: j, index: e.index });
            combined.push({ ...e, index: combined.length });
          }
        });
        try {
          this.stats.transactions++;
          this.stats.calls += group.length;
          const written = await this.ds.transaction((em) => this.write(em, workspaceId, combined, group.at(-1)!.rules));
          const parts: WriteResult[] = group.map((_, j) => ({
            owners: new Map(),
            rejected: new Map(),
            // What happens after commit is published once, by the first call of the group.
            changes: j === 0 ? written.changes : [],
            afterCommit: j === 0 ? written.afterCommit : [],
            changedProfiles: j === 0 ? written.changedProfiles : [],
          }));
          origin.forEach((o, i) => {
            const owner = written.owners.get(i);
            const rejection = written.rejected.get(i);
            if (owner) parts[o.job].owners.set(o.index, owner);
            if (rejection) parts[o.job].rejected.set(o.index, rejection);
          });
          group.forEach((job, j) => job.resolve(parts[j]));
        } catch (err) {
          if (group.length === 1) group[0].reject(err);
          // One call's events must not fail the others: retry each call in a transaction of its own.
          else q.pending.unshift(...group.map((job) => ({ ...job, alone: true })));
        }
      }
    } finally {
      q.running = false;
      if (!q.pending.length) this.queues.delete(workspaceId);
    }
  }

  /**
   * Returns the final profile of every event written (duplicates of stored events are absent), the
   * events rejected inside the transaction (unknown tags), the tag/segment membership changes, and
   * the profiles changed (live ones touched plus ids merged away) for live subscribers.
   */
  private async write(
    em: EntityManager,
    workspaceId: string,
    batch: ValidEvent[],
    rules: IdentityRules,
  ): Promise<{
    owners: Map<number, string>;
    rejected: Map<number, { reason: string; field: string; message: string }>;
    changes: MembershipChange[];
    afterCommit: (() => void)[];
    changedProfiles: string[];
  }> {
    await this.identities.lockWorkspace(em, workspaceId);
    const stored = await this.events.existingMessageIds(em, workspaceId, batch.map((e) => e.messageId));
    const rejected = new Map<number, { reason: string; field: string; message: string }>();
    const tagKeys = [...new Set(batch.flatMap((e) => e.tags))];
    const manual = tagKeys.length ? await this.tags.manualTagKeys(em, workspaceId, tagKeys) : new Set<string>();
    for (const e of batch) {
      const i = e.tags.findIndex((k) => !manual.has(k));
      if (i >= 0 && !stored.has(e.messageId)) {
        rejected.set(e.index, { reason: 'UNKNOWN_TAG', field: `traits.tags.${i}`, message: `${JSON.stringify(e.tags[i])} is not a manual tag of this workspace` });
      }
    }
    // Modules screen what is about to be resolved (suppressed identifiers of erased people).
    for (const hook of this.hooks.filter((h) => h.screen)) {
      const pending = batch.filter((e) => !stored.has(e.messageId) && !rejected.has(e.index));
      const keys = (e: ValidEvent) => ({ index: e.index, identifierKeys: e.identifiers.map((i) => i.key), relatedKeys: e.relations.flatMap((r) => (r.other ? [r.other.key] : [])) });
      const s = await hook.screen!({ em, workspaceId, events: pending.map(keys) });
      for (const [i, r] of s.rejected) rejected.set(i, r);
      for (const e of pending) e.relations = e.relations.filter((r) => !r.other || !s.blockedRelatedKeys.has(r.other.key));
    }
    const events = batch.filter((e) => !stored.has(e.messageId) && !rejected.has(e.index));
    if (!events.length) return { owners: new Map(), rejected, changes: [], afterCommit: [], changedProfiles: [] };

    // Load the part of the identity graph this batch can touch, then resolve event by event.
    const prepared = new Map<string, PreparedIdentifier>();
    for (const e of events) {
      for (const i of e.identifiers) prepared.set(i.key, i);
      for (const r of e.relations) if (r.other) prepared.set(r.other.key, r.other);
    }
    const loaded = await this.identities.loadGraph(em, workspaceId, [...prepared.keys()]);
    const graph = new IdentityGraph(rules);
    for (const p of loaded.profiles) graph.addProfile(p.id, p.seq, p.ids);
    for (const [a, b] of loaded.exclusions) graph.addExclusion(a, b);

    const byIndex = new Map(events.map((e) => [e.index, e]));
    const origin = new Map<number, string>();
    const relationEnds: { event: ValidEvent; kind: RelationRow['kind']; from: string | null; staffId: string | null }[] = [];
    const heldSeen = new Map<string, { first: Date; last: Date }>();
    for (const e of events) {
      for (const r of e.relations) {
        // The other person (inviter, sharer, …) is resolved like an event of theirs with that one identifier.
        const from = r.other ? graph.resolveEvent(e.index, [r.other]) : null;
        relationEnds.push({ event: e, kind: r.kind, from, staffId: r.staffId ?? null });
      }
      origin.set(e.index, graph.resolveEvent(e.index, e.identifiers));
      for (const i of e.identifiers) {
        const seen = heldSeen.get(i.key);
        if (!seen) heldSeen.set(i.key, { first: e.ts, last: e.ts });
        else if (e.ts < seen.first) seen.first = e.ts;
        else if (e.ts > seen.last) seen.last = e.ts;
      }
    }

    // Read models: existing aggregates, merged in memory, then this batch's events applied.
    const existingIds = loaded.profiles.map((p) => p.id);
    const aggregates = await this.profiles.loadAggregates(em, workspaceId, existingIds);
    for (const n of graph.created) aggregates.set(n.id, emptyAggregate(n.id));
    for (const m of graph.merges) {
      const survivor = aggregates.get(m.survivorId)!;
      const merged = aggregates.get(m.mergedId)!;
      combine(survivor, merged);
      aggregates.set(m.mergedId, { ...emptyAggregate(m.mergedId) });
    }
    for (const e of events) applyEvent(aggregates.get(graph.find(origin.get(e.index)!))!, e);

    // Write: new profiles, merges of existing ones, identifiers, events, relations, aggregates, history.
    const created = graph.created.map((n) => aggregates.get(n.id)!);
    await this.profiles.insertProfiles(em, workspaceId, created, graph.created.map((n) => (n.mergedInto ? graph.find(n.id) : null)));
    const mergedExisting = existingIds.filter((id) => graph.find(id) !== id);
    await this.identities.applyMerges(em, workspaceId, mergedExisting, mergedExisting.map((id) => graph.find(id)));
    await this.tags.moveTagsOnMerge(em, workspaceId, mergedExisting, mergedExisting.map((id) => graph.find(id)));

    const idRows: IdentifierRow[] = [];
    for (const [key, seen] of heldSeen) {
      const holder = graph.holderOf(key);
      if (holder) idRows.push({ ...identifierRowFrom(prepared.get(key)!, holder, seen.first), lastSeenAt: seen.last });
    }
    for (const [key, a] of graph.attached) {
      if (!heldSeen.has(key)) idRows.push(identifierRowFrom(prepared.get(key)!, graph.find(a.profileId), byIndex.get(a.eventIndex)!.ts));
    }
    await this.identities.upsertIdentifiers(em, workspaceId, idRows);

    const rows: EventRow[] = events.map((e) => ({ event: e, originProfileId: origin.get(e.index)!, profileId: graph.find(origin.get(e.index)!) }));
    await this.events.insertEvents(em, workspaceId, rows, new Date());
    await this.events.insertRelations(
      em,
      workspaceId,
      relationEnds
        .map((r) => ({
          kind: r.kind,
          fromProfileId: r.from ? graph.find(r.from) : null,
          toProfileId: graph.find(origin.get(r.event.index)!),
          staffId: r.staffId,
          eventMessageId: r.event.messageId,
          occurredAt: r.event.ts,
        }))
        .filter((r) => r.fromProfileId !== r.toProfileId),
    );

    const live = new Set([...existingIds, ...graph.created.map((n) => n.id)].map((id) => graph.find(id)));
    await this.profiles.updateAggregates(
      em,
      workspaceId,
      [...live].filter((id) => !graph.profile(id)?.isNew).map((id) => aggregates.get(id)!),
    );
    const msg = (i: number) => byIndex.get(i)!.messageId;
    await this.identities.insertMerges(em, workspaceId, graph.merges.map((m) => ({ ...m, eventMessageId: msg(m.eventIndex) })));
    await this.identities.insertConflicts(em, workspaceId, graph.conflicts.map((c) => ({ ...c, eventMessageId: msg(c.eventIndex) })));

    const now = new Date();
    const touched = [...live].map((id) => aggregates.get(id)!);
    // Other read models (stages, journeys, health) in this same transaction, before tags and
    // segments so that their system tags are current when rules are evaluated.
    const afterCommit: (() => void)[] = [];
    if (this.hooks.length) {
      const batchEvents: BatchEvent[] = rows.map((r) => ({
        messageId: r.event.messageId,
        type: r.event.type,
        name: r.event.name,
        channel: r.event.channel,
        ts: r.event.ts,
        profileId: r.profileId,
        properties: r.event.properties,
        revenue: r.event.revenue,
        traits: r.event.traits,
        context: r.event.context,
      }));
      const merged = mergedExisting.map((m) => ({ mergedId: m, survivorId: graph.find(m) }));
      for (const hook of this.hooks) {
        const after = await hook.afterBatch({ em, workspaceId, events: batchEvents, profiles: touched, merged, now });
        if (after) afterCommit.push(after);
      }
    }

    // Tags and segments of the touched profiles, in this same transaction.
    const cause = new Map<string, string>();
    for (const r of rows) cause.set(r.profileId, `event:${r.event.messageId}`);
    const changes = await this.tags.addTagsInTransaction(
      em,
      workspaceId,
      rows.flatMap((r) => r.event.tags.map((key) => ({ profileId: r.profileId, key, source: 'ingest', cause: `event:${r.event.messageId}` }))),
    );
    changes.push(...(await this.tags.evaluateTouched(em, workspaceId, touched, (id) => cause.get(id) ?? 'ingest', now)));

    return {
      owners: new Map(rows.map((r) => [r.event.index, r.profileId])),
      rejected,
      changes,
      afterCommit,
      changedProfiles: [...live, ...mergedExisting],
    };
  }
}

export type { ProfileAggregate };
