import type { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../../platform/errors';
import { DueWork, lockWorkspaceWrites } from '../../platform/db';
import type { BatchContext, Projection, ProjectionOutput, RefreshContext } from '../events';
import { revenueOf } from '../kpis';
import { AuditService, type AuditActor } from '../compliance';
import { MembershipRepository, type LedgerRow, type LevelChangeRow, type RulesVersion } from './membership.repository';
import { MembershipErrorCode } from './membership.errors';
import {
  applyEntries,
  DEFAULT_LEVEL_RULES,
  EMPTY_STATE,
  isRejection,
  ORDER_COMPLETED,
  pointsDelta,
  validateRules,
  walkSpend,
  type LevelChange,
  type LevelRule,
  type LevelRules,
  type LevelRulesInputShape,
  type MemberState,
  type OrderEntry,
} from './membership.rules';

const REPLAY_PAGE = 1000;
const PROJECTION = 'membership';
export const MAX_PAGE = 200;

/** The level rules in force: version 0 is the default ladder (no admin has set rules). */
export interface CurrentRules {
  version: number;
  rules: LevelRules;
  changedAt: Date | null;
  changedBy: string | null;
}

/** A person's membership as `Profile.membership` reads it. */
export interface Membership {
  profileId: string;
  points: number;
  /** In-window spend under a SPEND ladder (as of the person's last re-derivation); null under a POINTS ladder. */
  spend: number | null;
  level: LevelRule | null;
  since: Date | null;
}

/** A person to re-derive under a SPEND ladder: `from` the earliest order just added (null: none); `whole` from their first order. */
interface SpendItem {
  profileId: string;
  from: Date | null;
  whole?: boolean;
}

/**
 * Membership (积分-等级): the points ledger of `Points Earned` / `Points Redeemed` events, each
 * person's carried balance and level kept in the batch's transaction, the level history, and the
 * workspace's level rules.
 */
export class MembershipService {
  private readonly repo = new MembershipRepository();
  private readonly due = new DueWork();
  private readonly audit: AuditService;

  constructor(
    private readonly ds: DataSource,
    /**
     * After a rules change (or, under a SPEND ladder, time alone) moved some people's levels, in its
     * transaction: re-evaluates what reads them (rule tags and segments using `points` / `level`);
     * returns what to publish after commit. `cause` labels the membership changes.
     */
    private readonly levelsChanged: (em: EntityManager, ws: string, ids: string[], cause: string) => Promise<() => void> = async () => () => {},
  ) {
    this.audit = new AuditService(ds);
  }

  /** The read model: the ledger, balances and levels of the people a batch touched. */
  readonly projection: Projection = {
    name: 'membership',
    after: [],
    validate: (e) => {
      const d = pointsDelta(e);
      return isRejection(d) ? d : null;
    },
    apply: (b) => this.afterBatch(b),
    // Events moved between these people (an unmerge): the ledger rows follow their events, then each is replayed.
    refresh: (r) => this.resync(r.em, r.workspaceId, r.profileIds, r.now),
    rebuild: (em, ws, ids, now) => this.resync(em, ws, ids, now),
    sweep: { skip: 'points never change with time; a SPEND level falls at a moment known in advance, scheduled per person through due work (`due`)' },
    // SPEND ladder: one of these people's orders left the window (or a future-dated one came in): re-derive them from their carried instant.
    due: (r) => this.afterDue(r),
    prefetch: { skip: 'membership is read through its own loaders (balance and level in one query per operation)' },
  };

  // ---- rules -------------------------------------------------------------------------------

  async rules(ws: string, em: EntityManager = this.ds.manager): Promise<CurrentRules> {
    const r = await this.repo.currentRules(em, ws);
    return r ?? { version: 0, rules: DEFAULT_LEVEL_RULES, changedAt: null, changedBy: null };
  }

  async rulesHistory(ws: string, first: number): Promise<RulesVersion[]> {
    return this.repo.rulesHistory(this.ds.manager, ws, checkFirst(first));
  }

  /**
   * Saves new level rules as the next version after validating them (all errors at once, nothing
   * changed). Every person with a balance is replayed under them: their level history becomes the
   * one the new ladder gives over their whole ledger.
   */
  async updateRules(actor: AuditActor, input: LevelRulesInputShape): Promise<CurrentRules> {
    const ws = actor.workspaceId;
    const next = validateRules(input);
    const publish: (() => void)[] = [];
    await this.ds.transaction(async (em) => {
      await lockWorkspaceWrites(em, ws);
      const prev = (await this.rules(ws, em)).rules;
      const version = await this.repo.saveRules(em, ws, next, actor.apiKeyId);
      await this.audit.record(em, actor, {
        action: 'membership_rules.update',
        targetType: 'workspace',
        targetId: ws,
        details: { version, levels: next.levels.length, basis: next.basis, windowDays: next.windowDays },
      });
      const now = new Date();
      let after: string | null = null;
      for (;;) {
        // A SPEND ladder also reaches people with orders and no points event.
        const ids = await this.repo.membersAfter(em, ws, after, REPLAY_PAGE, next.basis === 'SPEND');
        if (!ids.length) break;
        await this.replay(em, ws, next, ids, now);
        // Leaving a SPEND ladder: nothing about these people is scheduled any more.
        if (prev.basis === 'SPEND' && next.basis !== 'SPEND') await this.due.schedule(em, ws, PROJECTION, ids.map((profileId) => ({ profileId, at: null })));
        publish.push(await this.levelsChanged(em, ws, ids, 'membership:rules'));
        after = ids.at(-1)!;
      }
    });
    for (const p of publish) p();
    return this.rules(ws);
  }

  // ---- kept current ------------------------------------------------------------------------

  private async afterBatch(b: BatchContext): Promise<void> {
    const { em, workspaceId: ws } = b;
    // Merged-away people's ledger goes to their survivor, who is replayed over both.
    await this.repo.moveMerged(em, ws, b.merged);
    const added = await this.repo.insertLedger(em, ws, ledgerRows(b.events));
    const survivors = new Set(b.merged.map((m) => m.survivorId));
    // The batch's buyers, with the time of their earliest order in it.
    const bought = new Map<string, Date>();
    for (const e of b.events) {
      if (e.type !== 'track' || e.name !== ORDER_COMPLETED || e.revenue === null) continue;
      const f = bought.get(e.profileId);
      if (!f || e.ts < f) bought.set(e.profileId, e.ts);
    }
    if (!added.length && !survivors.size && !bought.size) return;
    const { rules } = await this.rules(ws, em);
    const byPerson = groupByPerson(added);
    const states = await this.repo.states(em, ws, [...byPerson.keys()]);
    // Entries later than the carried ones apply to the carried balance (the batch's sum, never the
    // ledger); a person with an entry dated before their latest one, or a merge survivor, is replayed.
    const replays = new Set(survivors);
    const carried: { profileId: string; from: MemberState; rows: LedgerRow[] }[] = [];
    for (const [profileId, rows] of byPerson) {
      if (replays.has(profileId)) continue;
      const from = states.get(profileId) ?? EMPTY_STATE;
      if (from.lastEntryAt && rows.some((r) => r.ts < from.lastEntryAt!)) replays.add(profileId);
      else carried.push({ profileId, from, rows });
    }
    await this.write(em, ws, rules, carried);
    if (rules.basis !== 'SPEND') {
      await this.replay(em, ws, rules, [...replays], b.now);
      return;
    }
    // SPEND ladder: merge survivors are re-derived whole; a late points entry re-sums the balance
    // alone (the level does not read it); the other buyers of the batch are re-derived from their
    // earliest new order or their carried instant, whichever is earlier (see `deriveSpend`).
    await this.replay(em, ws, rules, [...survivors], b.now);
    await this.replayPoints(em, ws, [...replays].filter((p) => !survivors.has(p)));
    await this.deriveSpend(em, ws, rules, [...bought].filter(([p]) => !survivors.has(p)).map(([profileId, from]) => ({ profileId, from })), b.now);
  }

  /** Due work (SPEND ladder): re-derives the people whose moment came, and re-evaluates what reads the levels that moved. */
  private async afterDue(r: RefreshContext): Promise<ProjectionOutput | void> {
    if (!r.profileIds.length) return;
    const { rules } = await this.rules(r.workspaceId, r.em);
    // Left over from a SPEND ladder since replaced (a rules change clears them; this is a guard).
    if (rules.basis !== 'SPEND') return;
    const moved = await this.deriveSpend(r.em, r.workspaceId, rules, r.profileIds.map((profileId) => ({ profileId, from: null })), r.now);
    if (moved.length) return { afterCommit: await this.levelsChanged(r.em, r.workspaceId, moved, 'membership:due') };
  }

  /** Sets the ledger rows of these people's points events to them (the events are the truth), then replays them. */
  private async resync(em: EntityManager, ws: string, ids: string[], now: Date): Promise<void> {
    const events = await this.repo.pointsEvents(em, ws, ids);
    await this.repo.insertLedger(em, ws, ledgerRows(events.map((e) => ({ ...e, messageId: e.message_id, profileId: e.profile_id }))), true);
    await this.replay(em, ws, (await this.rules(ws, em)).rules, ids, now);
  }

  /**
   * Re-derives these people's balance, level and level history from the start: from their whole
   * ledger, and under a SPEND ladder from all their orders.
   */
  private async replay(em: EntityManager, ws: string, rules: LevelRules, ids: string[], now: Date): Promise<void> {
    if (!ids.length) return;
    const ledger = await this.repo.ledgerOf(em, ws, ids);
    await this.repo.deleteStates(em, ws, ids);
    await this.write(em, ws, rules, [...groupByPerson(ledger)].map(([profileId, rows]) => ({ profileId, from: EMPTY_STATE, rows })));
    if (rules.basis === 'SPEND') await this.deriveSpend(em, ws, rules, ids.map((profileId) => ({ profileId, from: null, whole: true })), now);
  }

  /** Under a SPEND ladder: these people's balance from their whole ledger, their level untouched. */
  private async replayPoints(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    const ledger = await this.repo.ledgerOf(em, ws, ids);
    await this.repo.upsertPoints(em, ws, [...groupByPerson(ledger)].map(([profileId, rows]) => ({ profileId, s: applyEntries({ ...DEFAULT_LEVEL_RULES, levels: [] }, EMPTY_STATE, rows).state })));
  }

  /**
   * Applies each person's entries to their state and writes the new states (and, under a POINTS
   * ladder, the level changes; under a SPEND ladder the balance alone).
   */
  private async write(em: EntityManager, ws: string, rules: LevelRules, people: { profileId: string; from: MemberState; rows: LedgerRow[] }[]): Promise<void> {
    if (rules.basis === 'SPEND') {
      const none = { ...rules, levels: [] };
      await this.repo.upsertPoints(em, ws, people.map((p) => ({ profileId: p.profileId, s: applyEntries(none, p.from, p.rows).state })));
      return;
    }
    const next: { profileId: string; s: MemberState }[] = [];
    const changes: { profileId: string; c: LevelChange }[] = [];
    for (const p of people) {
      const r = applyEntries(rules, p.from, p.rows);
      next.push({ profileId: p.profileId, s: r.state });
      for (const c of r.changes) changes.push({ profileId: p.profileId, c });
    }
    await this.repo.upsertStates(em, ws, next);
    await this.repo.insertChanges(em, ws, changes);
  }

  /**
   * SPEND ladder: re-derives these people's level, level history and in-window spend up to `now`,
   * and schedules each one's next moment (`due_work`): the earliest instant after `now` at which one
   * of their orders leaves the window (or a future-dated one enters).
   *
   * Cost follows the people, not their history: a person is re-walked from instant `from` = the
   * earlier of their earliest order just added and the instant their carried state was derived at
   * (orders that left the window since then were not applied yet). History before `from` is final;
   * their level changes at or after it are deleted and written again. The walk reads only their
   * orders from `from` − window on (`events_orders_idx`): those still in the window just before
   * `from`, and the later ones. The level just before `from` is the last level change left. Without
   * a carried state (`whole`: a replay), the walk starts at their first order.
   *
   * Returns the people whose current level moved.
   */
  private async deriveSpend(em: EntityManager, ws: string, rules: LevelRules, items: SpendItem[], now: Date): Promise<string[]> {
    if (!items.length) return [];
    const states = await this.repo.spendStates(em, ws, items.map((i) => i.profileId));
    const pairs = items.map((i) => {
      const asOf = states.get(i.profileId)?.asOf ?? null;
      return { profileId: i.profileId, from: i.whole || !asOf ? null : i.from && i.from < asOf ? i.from : asOf };
    });
    await this.repo.cutChanges(em, ws, pairs);
    const before = new Map((await this.repo.recentChanges(em, ws, pairs.filter((p) => p.from).map((p) => p.profileId), 1)).map((c) => [c.profileId, c]));
    const orders = new Map<string, OrderEntry[]>();
    for (const o of await this.repo.ordersFrom(em, ws, pairs, rules.windowDays!)) {
      const e = { messageId: o.message_id, ts: new Date(o.ts), value: revenueOf(o.properties) };
      const list = orders.get(o.profile_id);
      if (list) list.push(e);
      else orders.set(o.profile_id, [e]);
    }
    const next: { profileId: string; level: string | null; since: Date | null; spend: number; asOf: Date }[] = [];
    const changes: { profileId: string; c: LevelChange }[] = [];
    const due: { profileId: string; at: Date | null }[] = [];
    const moved: string[] = [];
    for (const p of pairs) {
      const held = states.get(p.profileId);
      const os = orders.get(p.profileId) ?? [];
      due.push({ profileId: p.profileId, at: null });
      // No order and no row (e.g. a replayed person whose orders were all moved away): nothing to keep.
      if (!os.length && !held) continue;
      const last = before.get(p.profileId);
      const w = walkSpend(rules, os, p.from, last?.to ?? null, now);
      next.push({ profileId: p.profileId, level: w.level, since: w.changes.at(-1)?.at ?? last?.at ?? null, spend: w.spend, asOf: now });
      for (const c of w.changes) changes.push({ profileId: p.profileId, c });
      due[due.length - 1].at = w.nextDue;
      if (w.level !== (held?.level ?? null)) moved.push(p.profileId);
    }
    await this.repo.upsertSpend(em, ws, next);
    await this.repo.insertChanges(em, ws, changes);
    await this.due.schedule(em, ws, PROJECTION, due);
    return moved;
  }

  // ---- reads -------------------------------------------------------------------------------

  /** Membership of each profile, in key order (people without any points event: 0 points, no level). */
  async membershipOf(ws: string, ids: readonly string[]): Promise<Membership[]> {
    const em = this.ds.manager;
    const [states, { rules }] = await Promise.all([this.repo.states(em, ws, ids), this.rules(ws, em)]);
    const byKey = new Map(rules.levels.map((l) => [l.key, l]));
    return ids.map((id) => {
      const s = states.get(id);
      const spend = rules.basis === 'SPEND' ? (s?.spend ?? 0) : null;
      if (!s) return { profileId: id, points: 0, spend, level: null, since: null };
      return { profileId: id, points: s.points, spend, level: s.level ? (byKey.get(s.level) ?? { key: s.level, name: s.level, threshold: 0 }) : null, since: s.since };
    });
  }

  async ledgerOf(ws: string, ids: readonly string[], first: number): Promise<LedgerRow[][]> {
    const rows = await this.repo.recentLedger(this.ds.manager, ws, ids, checkFirst(first));
    return ids.map((id) => rows.filter((r) => r.profileId === id));
  }

  async historyOf(ws: string, ids: readonly string[], first: number): Promise<LevelChangeRow[][]> {
    const rows = await this.repo.recentChanges(this.ds.manager, ws, ids, checkFirst(first));
    return ids.map((id) => rows.filter((r) => r.profileId === id));
  }
}

/** The ledger rows of the points events among these (other events and invalid points give none). */
function ledgerRows(events: { messageId: string; profileId: string; ts: Date; type: string; name: string | null; properties: Record<string, unknown> | null }[]): LedgerRow[] {
  return events.flatMap((e) => {
    const d = pointsDelta(e);
    return d && !isRejection(d) ? [{ messageId: e.messageId, profileId: e.profileId, delta: d.delta, reason: d.reason, ts: e.ts }] : [];
  });
}

function groupByPerson(rows: LedgerRow[]): Map<string, LedgerRow[]> {
  const out = new Map<string, LedgerRow[]>();
  for (const r of rows) {
    const list = out.get(r.profileId);
    if (list) list.push(r);
    else out.set(r.profileId, [r]);
  }
  return out;
}

function checkFirst(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw AppError.badInput(MembershipErrorCode.INVALID_PAGE, 'first', `first must be a whole number from 1 to ${MAX_PAGE}`);
  return first;
}
