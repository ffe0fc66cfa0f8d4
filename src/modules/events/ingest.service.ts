import type { DataSource, EntityManager } from 'typeorm';
import { AppError, type Rejection } from '../../platform/errors';
import type { Logger } from '../../platform/logging';
import type { IngestMetrics } from '../../platform/metrics';
import { currentDbBudget, DueWork, lockWorkspaceWrites, sharedDbBudget, withDbBudget, type DbBudget, type StatisticsRefresher } from '../../platform/db';
import { Topics, publishProfilesChanged, type SiyuPubSub } from '../../platform/pubsub';
import { IdentityGraph, IdentityRepository, isChannel, type IdentityRules, identifierRowFrom, type IdentityService, type IdentifierRow, type PreparedIdentifier } from '../identities';
import { ProfileRepository, applyEvent, combine, emptyAggregate, type ProfileAggregate } from '../profiles';
import { EventRepository, type EventRow, type RelationRow } from './event.repository';
import { MAX_EVENTS_PER_BATCH, validateEvent, type RawEvent, type ValidEvent } from './event-validation';
import type { BatchEvent, ProjectionPhases } from './projection';

export type IngestStatus = 'ACCEPTED' | 'DUPLICATE' | 'REJECTED';

export interface EventResult {
  index: number;
  messageId: string | null;
  status: IngestStatus;
  profileId: string | null;
  droppedIdentifiers: number;
  error: Rejection | null;
}

interface WriteResult {
  owners: Map<number, string>;
  rejected: Map<number, Rejection>;
  /** Effects of the commit (publishing), in order; the one route for everything after commit. */
  afterCommit: (() => void)[];
}

interface WriteJob {
  events: ValidEvent[];
  /** The channel of each event the call rejected before writing (null when not a known channel), for `ingest_counts`. */
  early: (string | null)[];
  rules: IdentityRules;
  /** Retried on its own after its group's transaction failed. */
  alone?: boolean;
  /** The database time budget of the request that sent these events (none outside a request). */
  budget: DbBudget | undefined;
  resolve(r: WriteResult): void;
  reject(err: unknown): void;
}

interface WriteQueue {
  pending: WriteJob[];
  running: boolean;
}

/** The state one batch's steps share inside its transaction. */
interface BatchState {
  em: EntityManager;
  workspaceId: string;
  rules: IdentityRules;
  /** Events refused inside the transaction (by index): projections' screens. */
  rejected: Map<number, Rejection>;
  /** Events to write: not stored before, not rejected. */
  events: ValidEvent[];
  now: Date;
}

/** What identity resolution decided for a batch. */
interface Resolved {
  graph: IdentityGraph;
  prepared: Map<string, PreparedIdentifier>;
  /** Event index → the profile it resolved to when it was resolved (before later merges). */
  origin: Map<number, string>;
  relationEnds: { event: ValidEvent; kind: RelationRow['kind']; from: string | null; staffId: string | null }[];
  heldSeen: Map<string, { first: Date; last: Date }>;
  existingIds: string[];
  /** Existing profiles merged away by the batch. */
  mergedExisting: string[];
  /** Live profiles the batch touched, after its merges. */
  live: string[];
}

/** Makes sure a workspace's tag defaults exist before its first batch (the tags module). */
export interface IngestPreparation {
  ensureDefaults(workspaceId: string, em: EntityManager): Promise<void>;
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
  private readonly due = new DueWork();
  /** Per workspace: calls waiting for the next group-commit transaction. */
  private readonly queues = new Map<string, WriteQueue>();
  /** Write transactions run and the calls they served (group commit at work: calls ≥ transactions). */
  readonly stats = { transactions: 0, calls: 0 };
  /** Told what each workspace wrote, to keep the planner's statistics current (PostgreSQL; set by the app). */
  statistics: StatisticsRefresher | null = null;
  /** Counts every event's outcome for `/metrics` (set by the app; tools run without it). */
  metrics: IngestMetrics | null = null;

  constructor(
    private readonly ds: DataSource,
    private readonly identity: IdentityService,
    /** The read models, ordered: screens, validators and `apply` of every projection. */
    private readonly phases: ProjectionPhases,
    private readonly preparation: IngestPreparation,
    private readonly pubSub: SiyuPubSub,
    private readonly log: Logger,
  ) {}

  async ingest(workspaceId: string, raw: RawEvent[]): Promise<IngestOutcome> {
    if (raw.length > MAX_EVENTS_PER_BATCH) {
      throw AppError.badInput('BATCH_TOO_LARGE', 'events', `at most ${MAX_EVENTS_PER_BATCH} events per call; got ${raw.length}`);
    }
    const rules = await this.identity.rules(workspaceId);
    await this.preparation.ensureDefaults(workspaceId, this.ds.manager);
    const cipher = this.identity.cipher;
    const results: EventResult[] = [];
    /** Result index → the event's messageId, for every result that may end as DUPLICATE. */
    const messageIds = new Map<number, string>();
    const valid: ValidEvent[] = [];
    const seen = new Set<string>();
    const now = Date.now();
    const early: (string | null)[] = [];
    raw.forEach((r, index) => {
      let v = validateEvent(r, index, rules, cipher, now);
      // Modules' own payload checks (e.g. consent events), one rejection per event like any other.
      if (v.ok) {
        const event = v.event;
        const bad = this.phases.validators().map((validate) => validate(event)).find((x) => x);
        if (bad) v = { ok: false, ...bad };
      }
      const messageId = typeof r?.messageId === 'string' ? r.messageId.trim() : null;
      if (!v.ok) {
        early.push(isChannel(r?.channel) ? r.channel : null);
        results.push({ index, messageId, status: 'REJECTED', profileId: null, droppedIdentifiers: 0, error: { reason: v.reason, field: v.field, message: v.message } });
      } else if (seen.has(v.event.messageId)) {
        messageIds.set(index, v.event.messageId);
        results.push({ index, messageId, status: 'DUPLICATE', profileId: null, droppedIdentifiers: v.event.dropped, error: null });
      } else {
        seen.add(v.event.messageId);
        valid.push(v.event);
        results.push({ index, messageId, status: 'ACCEPTED', profileId: null, droppedIdentifiers: v.event.dropped, error: null });
      }
    });

    let afterCommit: (() => void)[] = [];
    if (!valid.length && early.length) {
      // A call of rejected events only writes nothing but its counts (INGEST_ERROR_RATE): an additive
      // upsert, outside the workspace's write queue and lock, so a flood of bad calls does not hold
      // up good ones.
      await this.events.addIngestCounts(this.ds.manager, workspaceId, new Date(), receivedCounts(early, [], []));
    }
    if (valid.length) {
      const written = await this.writeGrouped(workspaceId, valid, early, rules);
      afterCommit = written.afterCommit;
      for (const e of valid) {
        const owner = written.owners.get(e.index);
        const rejection = written.rejected.get(e.index);
        if (rejection) Object.assign(results[e.index], { status: 'REJECTED', droppedIdentifiers: 0, error: rejection });
        else if (owner) results[e.index].profileId = owner;
        else {
          results[e.index].status = 'DUPLICATE';
          messageIds.set(e.index, e.messageId);
        }
      }
    }
    await this.duplicateOwners(workspaceId, results, messageIds);
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
    for (const f of afterCommit) f();
    this.count(results);
    return outcome;
  }

  private count(results: EventResult[]): void {
    if (!this.metrics) return;
    const counts = new Map<string, { status: string; reason: string; n: number }>();
    for (const r of results) {
      const status = r.status.toLowerCase();
      const reason = r.error?.reason ?? '';
      const key = `${status}|${reason}`;
      const c = counts.get(key);
      if (c) c.n++;
      else counts.set(key, { status, reason, n: 1 });
    }
    for (const c of counts.values()) this.metrics.ingestEvents.inc({ status: c.status, reason: c.reason }, c.n);
  }

  /**
   * A DUPLICATE result names the person the stored event belongs to now (the survivor of any
   * merge since), whether it repeated a stored event or an earlier one of the same call; one
   * query, after commit, only when there are duplicates.
   */
  private async duplicateOwners(workspaceId: string, results: EventResult[], messageIds: Map<number, string>): Promise<void> {
    const duplicates = results.filter((r) => r.status === 'DUPLICATE' && messageIds.has(r.index));
    if (!duplicates.length) return;
    const owners = await this.events.currentOwners(this.ds.manager, workspaceId, [...new Set(duplicates.map((r) => messageIds.get(r.index)!))]);
    for (const r of duplicates) r.profileId = owners.get(messageIds.get(r.index)!) ?? null;
  }

  /**
   * Group commit: the calls of one workspace that arrive while its previous write transaction runs
   * are written together in the next one (up to MAX_EVENTS_PER_BATCH events), since a workspace's
   * writes are serialised by its advisory lock anyway. Each call still answers after the commit
   * that holds its events. When a group's transaction fails, each of its calls is retried in a
   * transaction of its own, so only the call that caused it fails (and stores nothing).
   */
  private writeGrouped(workspaceId: string, events: ValidEvent[], early: (string | null)[], rules: IdentityRules): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => {
      let q = this.queues.get(workspaceId);
      if (!q) this.queues.set(workspaceId, (q = { pending: [], running: false }));
      q.pending.push({ events, early, rules, budget: currentDbBudget(), resolve, reject });
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
          // The group runs for all its callers: one caller's budget (or its client leaving) does not stop the others'.
          const budget = sharedDbBudget(group.map((job) => job.budget));
          const written = await withDbBudget(budget, () => this.ds.transaction((em) => this.write(em, workspaceId, combined, group.flatMap((job) => job.early), group.at(-1)!.rules)));
          const parts: WriteResult[] = group.map((_, j) => ({
            owners: new Map(),
            rejected: new Map(),
            // What happens after commit is published once, by the first call of the group.
            afterCommit: j === 0 ? written.afterCommit : [],
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
   * One batch in its transaction, as named steps over one state: screen → resolve identities →
   * store events → profiles → projections (in their declared order). Returns the final profile of
   * every event written (duplicates of stored events are absent), the events rejected inside the
   * transaction, and the effects to run after commit.
   */
  private async write(em: EntityManager, workspaceId: string, batch: ValidEvent[], early: (string | null)[], rules: IdentityRules): Promise<WriteResult> {
    await lockWorkspaceWrites(em, workspaceId);
    const state: BatchState = { em, workspaceId, rules, rejected: new Map(), events: [], now: new Date() };
    await this.screen(state, batch);
    await this.countReceived(state, batch, early);
    if (!state.events.length) return { owners: new Map(), rejected: state.rejected, afterCommit: [] };
    const resolved = await this.resolveIdentities(state);
    const aggregates = await this.aggregateProfiles(state, resolved);
    const rows = await this.storeEvents(state, resolved, aggregates);
    const touched = await this.updateProfiles(state, resolved, aggregates);
    const afterCommit = await this.phases.apply({
      em,
      workspaceId,
      events: rows.map(toBatchEvent),
      profiles: touched,
      merged: resolved.mergedExisting.map((m) => ({ mergedId: m, survivorId: resolved.graph.find(m) })),
      now: state.now,
    });
    const changed = [...touched.map((p) => p.id), ...resolved.mergedExisting];
    return {
      owners: new Map(rows.map((r) => [r.event.index, r.profileId])),
      rejected: state.rejected,
      afterCommit: [() => publishProfilesChanged(this.pubSub, workspaceId, changed), ...afterCommit],
    };
  }

  /** Step 1: drop events already stored; projections' screens reject events (erased people, unknown tags). */
  private async screen(state: BatchState, batch: ValidEvent[]): Promise<void> {
    const { em, workspaceId, rejected } = state;
    const stored = await this.events.existingMessageIds(em, workspaceId, batch.map((e) => e.messageId));
    const fresh = batch.filter((e) => !stored.has(e.messageId));
    for (const screen of this.phases.screens()) {
      const pending = fresh.filter((e) => !rejected.has(e.index));
      const keys = (e: ValidEvent) => ({ index: e.index, identifierKeys: e.identifiers.map((i) => i.key), relatedKeys: e.relations.flatMap((r) => (r.other ? [r.other.key] : [])), tags: e.tags });
      const s = await screen({ em, workspaceId, events: pending.map(keys) });
      for (const [i, r] of s.rejected) rejected.set(i, r);
      const blocked = s.blockedRelatedKeys;
      if (blocked?.size) for (const e of pending) e.relations = e.relations.filter((r) => !r.other || !blocked.has(r.other.key));
    }
    state.events = fresh.filter((e) => !rejected.has(e.index));
  }

  /**
   * Received and rejected events of the write, by the time it runs (events rejected before it —
   * `early`, by channel when it was a known one — and by the screens; stored duplicates are neither).
   */
  private async countReceived(state: BatchState, batch: ValidEvent[], early: (string | null)[]): Promise<void> {
    const rejected = batch.filter((e) => state.rejected.has(e.index)).map((e) => e.channel);
    await this.events.addIngestCounts(state.em, state.workspaceId, state.now, receivedCounts(early, rejected, state.events.map((e) => e.channel)));
  }

  /** Step 2: load the part of the identity graph the batch can touch and resolve event by event. */
  private async resolveIdentities(state: BatchState): Promise<Resolved> {
    const { em, workspaceId, events } = state;
    const prepared = new Map<string, PreparedIdentifier>();
    for (const e of events) {
      for (const i of e.identifiers) prepared.set(i.key, i);
      for (const r of e.relations) if (r.other) prepared.set(r.other.key, r.other);
    }
    const loaded = await this.identities.loadGraph(em, workspaceId, [...prepared.keys()]);
    const graph = new IdentityGraph(state.rules);
    for (const p of loaded.profiles) graph.addProfile(p.id, p.seq, p.ids);
    for (const [a, b] of loaded.exclusions) graph.addExclusion(a, b);

    const origin = new Map<number, string>();
    const relationEnds: Resolved['relationEnds'] = [];
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
    const existingIds = loaded.profiles.map((p) => p.id);
    const mergedExisting = existingIds.filter((id) => graph.find(id) !== id);
    const live = [...new Set([...existingIds, ...graph.created.map((n) => n.id)].map((id) => graph.find(id)))];
    return { graph, prepared, origin, relationEnds, heldSeen, existingIds, mergedExisting, live };
  }

  /**
   * Step 3: profile aggregates in memory — existing ones loaded, merged as the graph merged them,
   * this batch's events applied. Nothing is written yet.
   */
  private async aggregateProfiles(state: BatchState, r: Resolved): Promise<Map<string, ProfileAggregate>> {
    const { graph } = r;
    const aggregates = await this.profiles.loadAggregates(state.em, state.workspaceId, r.existingIds);
    for (const n of graph.created) aggregates.set(n.id, emptyAggregate(n.id));
    for (const m of graph.merges) {
      combine(aggregates.get(m.survivorId)!, aggregates.get(m.mergedId)!);
      aggregates.set(m.mergedId, emptyAggregate(m.mergedId));
    }
    for (const e of state.events) applyEvent(aggregates.get(graph.find(r.origin.get(e.index)!))!, e);
    return aggregates;
  }

  /** Step 4: new profiles, merges, identifiers, events, relations, merge and conflict history. */
  private async storeEvents(state: BatchState, r: Resolved, aggregates: Map<string, ProfileAggregate>): Promise<EventRow[]> {
    const { em, workspaceId, events } = state;
    const { graph } = r;
    const byIndex = new Map(events.map((e) => [e.index, e]));
    await this.profiles.insertProfiles(em, workspaceId, graph.created.map((n) => aggregates.get(n.id)!), graph.created.map((n) => (n.mergedInto ? graph.find(n.id) : null)));
    await this.identities.applyMerges(em, workspaceId, r.mergedExisting, r.mergedExisting.map((id) => graph.find(id)));
    // A merged-away person has no due work of their own any more (the survivor's is rescheduled by the projections).
    await this.due.forget(em, workspaceId, r.mergedExisting);

    const idRows: IdentifierRow[] = [];
    for (const [key, seen] of r.heldSeen) {
      const holder = graph.holderOf(key);
      if (holder) idRows.push({ ...identifierRowFrom(r.prepared.get(key)!, holder, seen.first), lastSeenAt: seen.last });
    }
    for (const [key, a] of graph.attached) {
      if (!r.heldSeen.has(key)) idRows.push(identifierRowFrom(r.prepared.get(key)!, graph.find(a.profileId), byIndex.get(a.eventIndex)!.ts));
    }
    await this.identities.upsertIdentifiers(em, workspaceId, idRows);

    const rows: EventRow[] = events.map((e) => ({ event: e, originProfileId: r.origin.get(e.index)!, profileId: graph.find(r.origin.get(e.index)!) }));
    await this.events.insertEvents(em, workspaceId, rows, new Date());
    await this.events.insertRelations(
      em,
      workspaceId,
      r.relationEnds
        .map((x) => ({
          kind: x.kind,
          fromProfileId: x.from ? graph.find(x.from) : null,
          toProfileId: graph.find(r.origin.get(x.event.index)!),
          staffId: x.staffId,
          eventMessageId: x.event.messageId,
          occurredAt: x.event.ts,
        }))
        .filter((x) => x.fromProfileId !== x.toProfileId),
    );
    const msg = (i: number) => byIndex.get(i)!.messageId;
    await this.identities.insertMerges(em, workspaceId, graph.merges.map((m) => ({ ...m, eventMessageId: msg(m.eventIndex) })));
    await this.identities.insertConflicts(em, workspaceId, graph.conflicts.map((c) => ({ ...c, eventMessageId: msg(c.eventIndex) })));
    return rows;
  }

  /** Step 5: the aggregates of existing live profiles the batch touched are written. Returns every live profile it touched. */
  private async updateProfiles(state: BatchState, r: Resolved, aggregates: Map<string, ProfileAggregate>): Promise<ProfileAggregate[]> {
    const { graph } = r;
    await this.profiles.updateAggregates(
      state.em,
      state.workspaceId,
      r.live.filter((id) => !graph.profile(id)?.isNew).map((id) => aggregates.get(id)!),
    );
    return r.live.map((id) => aggregates.get(id)!);
  }
}

function toBatchEvent(r: EventRow): BatchEvent {
  const e = r.event;
  return {
    messageId: e.messageId,
    type: e.type,
    name: e.name,
    channel: e.channel,
    ts: e.ts,
    profileId: r.profileId,
    properties: e.properties,
    revenue: e.revenue,
    traits: e.traits,
    context: e.context,
    tags: e.tags,
  };
}

export type { ProfileAggregate };

/**
 * Received and rejected events by `ingest_counts` dimension ('' everyone, `c:<channel>` per known
 * channel): the rejected ones (`early` before the write, `rejected` by its screens) and the accepted.
 */
function receivedCounts(early: (string | null)[], rejected: (string | null)[], accepted: (string | null)[]): Map<string, { received: number; rejected: number }> {
  const counts = new Map<string, { received: number; rejected: number }>();
  const add = (channel: string | null, isRejected: boolean) => {
    for (const m of channel === null ? [''] : ['', `c:${channel}`]) {
      const c = counts.get(m) ?? { received: 0, rejected: 0 };
      c.received++;
      if (isRejected) c.rejected++;
      counts.set(m, c);
    }
  };
  for (const channel of [...early, ...rejected]) add(channel, true);
  for (const channel of accepted) add(channel, false);
  return counts;
}
