import type { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../../platform/errors';
import { lockWorkspaceWrites } from '../../platform/db';
import type { BatchContext, Projection } from '../events';
import { AuditService, type AuditActor } from '../compliance';
import { MembershipRepository, type LedgerRow, type LevelChangeRow, type RulesVersion } from './membership.repository';
import { MembershipErrorCode } from './membership.errors';
import {
  applyEntries,
  DEFAULT_LEVEL_RULES,
  EMPTY_STATE,
  isRejection,
  pointsDelta,
  validateRules,
  type LevelChange,
  type LevelRule,
  type LevelRules,
  type LevelRulesInputShape,
  type MemberState,
} from './membership.rules';

const REPLAY_PAGE = 1000;
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
  level: LevelRule | null;
  since: Date | null;
}

/**
 * Membership (积分-等级): the points ledger of `Points Earned` / `Points Redeemed` events, each
 * person's carried balance and level kept in the batch's transaction, the level history, and the
 * workspace's level rules.
 */
export class MembershipService {
  private readonly repo = new MembershipRepository();
  private readonly audit: AuditService;

  constructor(
    private readonly ds: DataSource,
    /**
     * After a rules change moved some people's levels, in its transaction: re-evaluates what reads
     * them (rule tags and segments using `points` / `level`); returns what to publish after commit.
     */
    private readonly levelsChanged: (em: EntityManager, ws: string, ids: string[]) => Promise<() => void> = async () => () => {},
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
    refresh: (r) => this.resync(r.em, r.workspaceId, r.profileIds),
    rebuild: (em, ws, ids) => this.resync(em, ws, ids),
    sweep: { skip: 'points and levels change only with events and rule changes, never with time alone' },
    due: { skip: 'nothing about membership is scheduled: levels follow the balance, not the clock' },
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
      const version = await this.repo.saveRules(em, ws, next, actor.apiKeyId);
      await this.audit.record(em, actor, { action: 'membership_rules.update', targetType: 'workspace', targetId: ws, details: { version, levels: next.levels.length } });
      let after: string | null = null;
      for (;;) {
        const ids = await this.repo.membersAfter(em, ws, after, REPLAY_PAGE);
        if (!ids.length) break;
        await this.replay(em, ws, next, ids);
        publish.push(await this.levelsChanged(em, ws, ids));
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
    if (!added.length && !survivors.size) return;
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
    await this.replay(em, ws, rules, [...replays]);
  }

  /** Sets the ledger rows of these people's points events to them (the events are the truth), then replays them. */
  private async resync(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    const events = await this.repo.pointsEvents(em, ws, ids);
    await this.repo.insertLedger(em, ws, ledgerRows(events.map((e) => ({ ...e, messageId: e.message_id, profileId: e.profile_id }))), true);
    await this.replay(em, ws, (await this.rules(ws, em)).rules, ids);
  }

  /** Re-derives these people's balance, level and level history from their whole ledger. */
  private async replay(em: EntityManager, ws: string, rules: LevelRules, ids: string[]): Promise<void> {
    if (!ids.length) return;
    const ledger = await this.repo.ledgerOf(em, ws, ids);
    await this.repo.deleteStates(em, ws, ids);
    await this.write(em, ws, rules, [...groupByPerson(ledger)].map(([profileId, rows]) => ({ profileId, from: EMPTY_STATE, rows })));
  }

  /** Applies each person's entries to their state and writes the new states and level changes. */
  private async write(em: EntityManager, ws: string, rules: LevelRules, people: { profileId: string; from: MemberState; rows: LedgerRow[] }[]): Promise<void> {
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

  // ---- reads -------------------------------------------------------------------------------

  /** Membership of each profile, in key order (people without any points event: 0 points, no level). */
  async membershipOf(ws: string, ids: readonly string[]): Promise<Membership[]> {
    const em = this.ds.manager;
    const [states, { rules }] = await Promise.all([this.repo.states(em, ws, ids), this.rules(ws, em)]);
    const byKey = new Map(rules.levels.map((l) => [l.key, l]));
    return ids.map((id) => {
      const s = states.get(id);
      if (!s) return { profileId: id, points: 0, level: null, since: null };
      return { profileId: id, points: s.points, level: s.level ? (byKey.get(s.level) ?? { key: s.level, name: s.level, threshold: 0 }) : null, since: s.since };
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
