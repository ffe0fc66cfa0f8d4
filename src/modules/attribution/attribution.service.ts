import type { EntityManager } from 'typeorm';
import { lockWorkspaceWrites } from '../../platform/db/workspace-lock';
import { AppError } from '../../platform/errors';
import type { ModuleDeps } from '../../platform/module';
import { Topics } from '../../platform/pubsub';
import { LocalDays, localDate } from '../../shared/zone';
import { AuditService, type AuditActor } from '../compliance';
import type { BatchContext, Projection, RefreshContext } from '../events';
import { AttributionErrorCode } from './attribution.errors';
import {
  DIMENSIONS,
  MAX_PATH_TOUCHES,
  RULE_MODELS,
  pathSet,
  pathsOf,
  ruleCredit,
  setKey,
  shapleyCredit,
  valuesOf,
  type Dimension,
  type Model,
  type Path,
  type PersonEvent,
  type Touch,
} from './attribution.models';
import { AttributionRepository, type CreditDelta, type DayRange, type EventRow, type PathRow, type SetDelta } from './attribution.repository';
import { applyPatch, withDefaults, type AttributionSettings, type AttributionSettingsPatch, type ConversionDefinition } from './attribution.settings';

const DAY_MS = 86_400_000;
/** A path recompute reads at most this many of a person's events (the most recent). */
export const PERSON_EVENTS_CAP = 5000;
/** A report's range spans at most this many days. */
export const MAX_RANGE_DAYS = 400;
const TOUCH_TYPES = new Set(['track', 'page', 'screen']);
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Settings in force, with the version and the workspace's zone. */
export interface SettingsInForce {
  settings: AttributionSettings;
  version: number;
  changedAt: Date | null;
  changedBy: string | null;
  timeZone: string;
}

export interface AttributionRowValue {
  value: string;
  conversions: number;
  revenue: number;
  share: number;
  cost: number | null;
  cac: number | null;
  roi: number | null;
}

export interface AttributionReportValue {
  model: Model;
  dimension: Dimension;
  conversion: ConversionDefinition;
  from: string;
  to: string;
  timeZone: string;
  conversions: number;
  revenue: number;
  cost: number | null;
  rows: AttributionRowValue[];
}

export interface ReportArgs {
  model: Model;
  dimension: Dimension;
  conversion?: string | null;
  from?: string | null;
  to?: string | null;
}

/** Dimensions whose values can carry a marketing cost. */
export const COST_DIMENSIONS: readonly Dimension[] = ['CHANNEL', 'TOUCHPOINT', 'CAMPAIGN'];

/** Sums contributions of paths (added or taken back) before they are written. */
class Deltas {
  readonly credits = new Map<string, CreditDelta>();
  readonly sets = new Map<string, SetDelta>();

  add(p: { conversion: string; anchorAt: number; converting: boolean; revenue: number; touches: readonly Touch[]; day: string; halfLifeDays: number }, sign: 1 | -1): void {
    for (let d = 0; d < DIMENSIONS.length; d++) {
      const vals = valuesOf(p.touches, d);
      if (p.converting) {
        RULE_MODELS.forEach((m, mi) => {
          for (const [value, share] of ruleCredit(m, vals, p.anchorAt, p.halfLifeDays * DAY_MS)) {
            const k = `${p.conversion}\u0001${d}\u0001${mi}\u0001${p.day}\u0001${value}`;
            const c = this.credits.get(k) ?? { conversion: p.conversion, dimension: d, model: mi, day: p.day, value, conversions: 0, revenue: 0 };
            c.conversions += sign * share;
            c.revenue += sign * share * p.revenue;
            this.credits.set(k, c);
          }
        });
      }
      const set = pathSet(vals);
      if (!p.converting && !set.length) continue;
      const valueSet = setKey(set);
      const k = `${p.conversion}\u0001${d}\u0001${p.day}\u0001${valueSet}`;
      const s = this.sets.get(k) ?? { conversion: p.conversion, dimension: d, day: p.day, valueSet, paths: 0, conversions: 0, revenue: 0 };
      s.paths += sign;
      if (p.converting) s.conversions += sign;
      s.revenue += sign * p.revenue;
      this.sets.set(k, s);
    }
  }
}

const toTouches = (t: PathRow['touches']): Touch[] => t.map(([at, c, tp, cp]) => ({ at, values: [c, tp, cp] }));

/**
 * Attribution (归因): which channel, touchpoint or campaign earned each conversion, on identity-
 * resolved people. A projection closes each person's paths as their events arrive (converting paths
 * at the conversion, non-converting ones `lookbackDays` after a run's last touch, through due work),
 * keeps them per person, and carries per day what the reports read: each rule-based model's credit
 * per value, and the path counts per value set Shapley credit is computed from. Merges, unmerges and
 * `siyu recompute` re-derive the people concerned from their events; erasure drops the person's
 * paths and keeps the aggregates.
 */
export class AttributionService {
  private readonly repo = new AttributionRepository();
  private readonly audit: AuditService;

  constructor(private readonly ctx: ModuleDeps) {
    this.audit = new AuditService(ctx.ds);
  }

  readonly projection: Projection = {
    name: 'attribution',
    after: [],
    apply: (b) => this.afterBatch(b),
    refresh: (r) => this.rederive(r),
    rebuild: async (em, workspaceId, profileIds, now) => {
      await this.rederive({ em, workspaceId, profileIds, now, cause: 'rebuild', systemTags: [] });
    },
    sweep: { skip: 'paths close at their own moment, through due work (`due`)' },
    // A run's window passed: re-derive from the person's pending moment (closes it, or finds it went on).
    due: async (r) => {
      if (!r.profileIds.length) return;
      const s = await this.inForce(r.workspaceId, r.em);
      const pending = await this.repo.pending(r.em, r.workspaceId, r.profileIds);
      const items = r.profileIds.flatMap((p) => (pending.has(p) ? [{ profileId: p, from: pending.get(p)! }] : []));
      const changed = await this.recompute(r.em, r.workspaceId, s, items, r.now);
      return changed ? { afterCommit: () => this.published(r.workspaceId) } : undefined;
    },
    prefetch: { skip: 'no Profile field: attribution is read in aggregate' },
  };

  // ---- settings ------------------------------------------------------------------------------

  async inForce(ws: string, em: EntityManager = this.ctx.ds.manager): Promise<SettingsInForce> {
    const r = await this.repo.settings(em, ws);
    return { settings: withDefaults(r.settings), version: r.version, changedAt: r.changedAt, changedBy: r.changedBy, timeZone: r.timeZone };
  }

  async history(ws: string, first: number): Promise<{ version: number; settings: AttributionSettings; changedAt: Date; changedBy: string | null }[]> {
    if (!Number.isInteger(first) || first < 1 || first > 100) throw AppError.badInput(AttributionErrorCode.INVALID_ATTRIBUTION_QUERY, 'first', 'first must be between 1 and 100');
    const rows = await this.repo.history(this.ctx.ds.manager, ws, first);
    return rows.map((r) => ({ version: r.version, settings: withDefaults(r.settings), changedAt: r.changed_at, changedBy: r.changed_by }));
  }

  /** Validates and stores a new version (all or nothing); paths closed from now on use it (`siyu recompute --only attribution` re-derives the past). */
  async updateSettings(actor: AuditActor, patch: AttributionSettingsPatch): Promise<SettingsInForce> {
    const ws = actor.workspaceId;
    const next = applyPatch((await this.inForce(ws)).settings, patch);
    await this.ctx.ds.transaction(async (em) => {
      await lockWorkspaceWrites(em, ws);
      const version = await this.repo.saveSettings(em, ws, next, actor.apiKeyId);
      await this.audit.record(em, actor, { action: 'attribution_settings.update', targetType: 'workspace', targetId: ws, details: { version, changed: Object.keys(patch) } });
    });
    return this.inForce(ws);
  }

  /** Spreads `amount` evenly over the days of `[from, to]` (local dates), replacing the value's cost on those days. */
  async setMarketingCost(actor: AuditActor, input: { dimension: Dimension; value: string; from: string; to: string; amount: number }): Promise<{ days: number }> {
    const ws = actor.workspaceId;
    const value = input.value?.trim();
    const bad = (field: string, msg: string) => AppError.badInput(AttributionErrorCode.INVALID_MARKETING_COST, field, msg);
    if (!value || value.length > 200) throw bad('input.value', 'value must be 1–200 characters');
    if (!Number.isFinite(input.amount) || input.amount < 0 || input.amount > 1e12) throw bad('input.amount', 'amount must be a number in 0–1e12');
    const { from, to } = this.range(input.from, input.to, null, 'input.');
    const days = await this.ctx.ds.transaction(async (em) => {
      const n = await this.repo.setCost(em, ws, DIMENSIONS.indexOf(input.dimension), value, from, to, input.amount);
      await this.audit.record(em, actor, { action: 'marketing_cost.set', targetType: 'workspace', targetId: ws, details: { dimension: input.dimension, value, from, to, amount: input.amount } });
      return n;
    });
    this.published(ws);
    return { days };
  }

  // ---- reports -------------------------------------------------------------------------------

  /**
   * Credited conversions and revenue per value of a dimension over `[from, to]` (local dates of the
   * conversions; default the last 30 days), with share, cost, CAC and ROI where costs are set.
   * Reads the carried day rows only: cost follows the days and values asked for, not the history.
   */
  async report(ws: string, args: ReportArgs, now = new Date()): Promise<AttributionReportValue> {
    const s = await this.inForce(ws);
    const range = this.range(args.from ?? null, args.to ?? null, localDate(now.getTime(), s.timeZone), '');
    return (await this.reports(ws, args, [range], s))[0];
  }

  /**
   * `report` for each of several local-date buckets (one statement per table for all of them): what
   * `aggregate` reads for its attribution measures. Shapley's value function is each bucket's own.
   */
  async reports(ws: string, args: Pick<ReportArgs, 'model' | 'dimension' | 'conversion'>, buckets: DayRange[], known?: SettingsInForce): Promise<AttributionReportValue[]> {
    const s = known ?? (await this.inForce(ws));
    const conversion = args.conversion ? s.settings.conversions.find((c) => c.key === args.conversion) : s.settings.conversions[0];
    if (!conversion) {
      throw AppError.badInput(AttributionErrorCode.UNKNOWN_CONVERSION, 'conversion', `no conversion definition ${JSON.stringify(args.conversion)}; defined: ${s.settings.conversions.map((c) => c.key).join(', ')}`);
    }
    const em = this.ctx.ds.manager;
    const dim = DIMENSIONS.indexOf(args.dimension);
    const byBucket = <T extends { i: string }>(rows: T[]) => buckets.map((_, j) => rows.filter((r) => Number(r.i) === j + 1));
    const [credited, costs] = await Promise.all([
      args.model === 'SHAPLEY'
        ? this.repo.sets(em, ws, buckets, conversion.key, dim).then((rows) =>
            byBucket(rows).map((b) =>
              [...shapleyCredit(b.map((r) => ({ values: JSON.parse(r.value_set) as string[], paths: r.paths, conversions: r.conversions, revenue: r.revenue })))].map(([value, c]) => ({ value, ...c })),
            ),
          )
        : this.repo.credits(em, ws, buckets, conversion.key, dim, RULE_MODELS.indexOf(args.model)).then(byBucket),
      this.repo.costs(em, ws, buckets, dim).then(byBucket),
    ]);
    return buckets.map((b, j) => ({ model: args.model, dimension: args.dimension, conversion, from: b.from, to: b.to, timeZone: s.timeZone, ...reportRows(credited[j], costs[j]) }));
  }

  /** `[from, to]` as local dates: both given, or `to` defaulting to `today` and `from` to 29 days before `to`. */
  private range(fromArg: string | null, toArg: string | null, today: string | null, prefix: string): { from: string; to: string } {
    const bad = (field: string, msg: string) => AppError.badInput(AttributionErrorCode.INVALID_ATTRIBUTION_QUERY, `${prefix}${field}`, msg);
    const parse = (v: string, field: string) => {
      const ms = DATE.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN;
      if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== v) throw bad(field, `${field} must be a date YYYY-MM-DD`);
      return ms;
    };
    if (today === null && (!fromArg || !toArg)) throw bad(fromArg ? 'to' : 'from', 'from and to are required');
    const to = toArg ?? today!;
    const toMs = parse(to, 'to');
    const fromMs = fromArg ? parse(fromArg, 'from') : toMs - 29 * DAY_MS;
    if (fromMs > toMs) throw bad('from', 'from must not be after to');
    if ((toMs - fromMs) / DAY_MS + 1 > MAX_RANGE_DAYS) throw bad('from', `the range can span at most ${MAX_RANGE_DAYS} days`);
    return { from: new Date(fromMs).toISOString().slice(0, 10), to };
  }

  // ---- the projection ------------------------------------------------------------------------

  /**
   * In the batch's transaction. People merged away lose their paths and their survivors are
   * re-derived whole. A person with a conversion in the batch, or with a stored path its events
   * can change, is re-derived from `t0 − lookback` (t0: their earliest event of the batch). Anyone
   * else only has their pending moment moved to t0 if earlier, and due work at `t0 + lookback` if
   * earlier than what is scheduled: the earliest a run of theirs can close.
   */
  private async afterBatch(b: BatchContext) {
    if (!b.events.length && !b.merged.length) return;
    const { em, workspaceId: ws } = b;
    const s = await this.inForce(ws, em);
    const L = s.settings.lookbackDays * DAY_MS;
    const conversionEvents = new Set(s.settings.conversions.map((c) => c.event));
    const survivors = new Set(b.merged.map((m) => m.survivorId));
    // A survivor's paths can change only from the earliest event it gained (the merged people's first
    // events, its own events in this batch) less the lookback: re-derived from there, not whole.
    const firstSeen = b.merged.length ? await this.repo.firstSeen(em, ws, b.merged.map((m) => m.mergedId)) : new Map<string, number | null>();
    const since = new Map<string, number>();
    const earliest = (p: string, t: number) => since.set(p, Math.min(since.get(p) ?? Infinity, t));
    for (const m of b.merged) {
      const f = firstSeen.get(m.mergedId);
      if (f !== undefined) earliest(m.survivorId, f ?? -Infinity);
    }
    for (const e of b.events) if (survivors.has(e.profileId)) earliest(e.profileId, e.ts.getTime());
    const full = [
      ...b.merged.map((m) => ({ profileId: m.mergedId, from: null })),
      ...[...since].map(([p, t]) => ({ profileId: p, from: Number.isFinite(t) ? new Date(t - L) : null })),
    ];
    const per = new Map<string, { t0: number; conversion: boolean }>();
    for (const e of b.events) {
      if (survivors.has(e.profileId)) continue;
      const t = e.ts.getTime();
      const x = per.get(e.profileId) ?? { t0: t, conversion: false };
      x.t0 = Math.min(x.t0, t);
      if (e.type === 'track' && e.name !== null && conversionEvents.has(e.name)) x.conversion = true;
      per.set(e.profileId, x);
    }
    // A conversion whose batch is in order and live (its earliest event within the lookback of now)
    // changes no stored path and closes no run: only its own path is new (`extend`), from the
    // batch's events and the newest touches before them — not the person's history.
    const live = (x: { t0: number }) => x.t0 + L > b.now.getTime();
    const asked = [...per].filter(([, x]) => !x.conversion || live(x)).map(([p, x]) => ({ profileId: p, t0: new Date(x.t0) }));
    const affected = await this.repo.affected(em, ws, asked, L);
    const candidates = [...per].filter(([p, x]) => x.conversion && live(x) && !affected.has(p)).map(([p, x]) => ({ profileId: p, t0: new Date(x.t0) }));
    const outOfOrder = await this.repo.laterEvents(em, ws, candidates, b.events.filter((e) => per.has(e.profileId)).map((e) => e.messageId));
    const fast = candidates.filter((c) => !outOfOrder.has(c.profileId));
    const isFast = new Set(fast.map((f) => f.profileId));
    const partial = [...per].filter(([p, x]) => !isFast.has(p) && (x.conversion || affected.has(p))).map(([p, x]) => ({ profileId: p, from: new Date(x.t0 - L) }));
    const later = [...per].filter(([p, x]) => isFast.has(p) || (!x.conversion && !affected.has(p)));
    const changed = await this.recompute(em, ws, s, [...full, ...partial], b.now);
    const extended = await this.extend(em, ws, s, fast, b.now);
    // Runs stay pending from t0 (due work at t0 + lookback settles them from there, as for any batch without a conversion).
    await this.repo.setPending(em, ws, later.map(([p, x]) => ({ profileId: p, since: new Date(x.t0) })), true);
    await this.repo.scheduleDue(em, ws, later.map(([p, x]) => ({ profileId: p, at: new Date(x.t0 + L) })), false);
    return changed || extended ? { afterCommit: () => this.published(ws) } : undefined;
  }

  /**
   * The paths an in-order, live batch adds for each of these people: those anchored at or after
   * their `t0` (its conversions' paths: no run can close before now + lookback), derived from the
   * batch's events and the newest MAX_PATH_TOUCHES touches of the lookback before `t0`.
   */
  private async extend(em: EntityManager, ws: string, s: SettingsInForce, items: { profileId: string; t0: Date }[], now: Date): Promise<boolean> {
    if (!items.length) return false;
    const L = s.settings.lookbackDays * DAY_MS;
    const defs = s.settings.conversions;
    const rows = await this.repo.recentEvents(
      em,
      ws,
      items.map((i) => ({ ...i, since: new Date(i.t0.getTime() - L) })),
      [...new Set(defs.map((d) => d.event))],
      [...TOUCH_TYPES],
      s.settings.touchEvents,
      MAX_PATH_TOUCHES,
    );
    const byPerson = new Map<string, PersonEvent[]>();
    for (const r of rows) byPerson.set(r.profile_id, [...(byPerson.get(r.profile_id) ?? []), this.personEvent(r, s.settings)]);
    const days = new LocalDays(s.timeZone);
    const deltas = new Deltas();
    const written: PathRow[] = [];
    for (const item of items) {
      const { paths } = pathsOf(byPerson.get(item.profileId) ?? [], defs.map((d) => d.key), L, item.t0.getTime(), now.getTime());
      for (const p of paths) {
        const day = days.of(p.anchorAt);
        deltas.add({ ...p, converting: p.conversionId !== '', day, halfLifeDays: s.settings.halfLifeDays }, 1);
        written.push(this.row(item.profileId, p, day, s.settings.halfLifeDays));
      }
    }
    await this.repo.insertPaths(em, ws, written);
    await this.repo.addCredits(em, ws, [...deltas.credits.values()]);
    await this.repo.addSets(em, ws, [...deltas.sets.values()]);
    return written.length > 0;
  }

  /** Unmerge refresh and rebuild: the people's paths re-derived whole from their events. */
  private async rederive(r: RefreshContext) {
    if (!r.profileIds.length) return;
    const s = await this.inForce(r.workspaceId, r.em);
    const changed = await this.recompute(r.em, r.workspaceId, s, r.profileIds.map((p) => ({ profileId: p, from: null })), r.now);
    return changed ? { afterCommit: () => this.published(r.workspaceId) } : undefined;
  }

  /**
   * Takes back the stored paths of each person anchored at or after `from` (all when null) — or
   * from the person's pending moment when that is earlier, so that every run not yet decided is —
   * derives them again from the person's events since that moment less the lookback, writes them
   * with their day contributions, and records the person's open run: its first touch as the
   * pending moment, and due work when its window passes (or neither, when no run is open).
   */
  private async recompute(em: EntityManager, ws: string, s: SettingsInForce, requested: { profileId: string; from: Date | null }[], now: Date): Promise<boolean> {
    if (!requested.length) return false;
    const L = s.settings.lookbackDays * DAY_MS;
    const defs = s.settings.conversions;
    const pending = await this.repo.pending(em, ws, requested.map((i) => i.profileId));
    const items = requested.map((i) => {
      const p = pending.get(i.profileId);
      return { profileId: i.profileId, from: i.from === null ? null : p && p < i.from ? p : i.from };
    });
    const deltas = new Deltas();
    const removed = await this.repo.deletePaths(em, ws, items);
    for (const p of removed) {
      const touches = toTouches(p.touches);
      deltas.add({ conversion: p.conversion, anchorAt: new Date(p.anchor_at).getTime(), converting: p.conversion_id !== '', revenue: p.revenue, touches, day: p.day, halfLifeDays: p.half_life_days }, -1);
    }
    const rows = await this.repo.personEvents(em, ws, items.map((i) => ({ profileId: i.profileId, since: i.from ? new Date(i.from.getTime() - L) : null })), [...new Set(defs.map((d) => d.event))], PERSON_EVENTS_CAP);
    const byPerson = new Map<string, PersonEvent[]>();
    for (const r of rows) {
      const list = byPerson.get(r.profile_id) ?? [];
      list.push(this.personEvent(r, s.settings));
      byPerson.set(r.profile_id, list);
    }
    const days = new LocalDays(s.timeZone);
    const written: PathRow[] = [];
    const due: { profileId: string; at: Date | null }[] = [];
    const open: { profileId: string; since: Date | null }[] = [];
    for (const item of items) {
      const { paths, nextDue } = pathsOf(byPerson.get(item.profileId) ?? [], defs.map((d) => d.key), L, item.from?.getTime() ?? -Infinity, now.getTime());
      for (const p of paths) {
        const day = days.of(p.anchorAt);
        deltas.add({ ...p, converting: p.conversionId !== '', day, halfLifeDays: s.settings.halfLifeDays }, 1);
        written.push(this.row(item.profileId, p, day, s.settings.halfLifeDays));
      }
      due.push({ profileId: item.profileId, at: nextDue === null ? null : new Date(nextDue) });
      open.push({ profileId: item.profileId, since: nextDue === null ? null : new Date(nextDue - L) });
    }
    await this.repo.insertPaths(em, ws, written);
    await this.repo.addCredits(em, ws, [...deltas.credits.values()]);
    await this.repo.addSets(em, ws, [...deltas.sets.values()]);
    await this.repo.setPending(em, ws, open, false);
    await this.repo.scheduleDue(em, ws, due, true);
    return removed.length > 0 || written.length > 0;
  }

  private personEvent(r: EventRow, s: AttributionSettings): PersonEvent {
    const conversions = new Map<string, number>();
    if (r.type === 'track') {
      for (const d of s.conversions) if (d.event === r.name) conversions.set(d.key, conversionValue(r.properties, d.valueProperty));
    }
    const isTouch = !conversions.size && TOUCH_TYPES.has(r.type) && (s.touchEvents === null || (r.name !== null && s.touchEvents.includes(r.name)));
    const at = new Date(r.ts).getTime();
    return { at, id: r.message_id, conversions, touch: isTouch ? { at, values: [r.channel, r.touchpoint, r.campaign] } : null };
  }

  private row(profileId: string, p: Path, day: string, halfLifeDays: number): PathRow {
    return {
      profile_id: profileId,
      conversion: p.conversion,
      anchor_at: new Date(p.anchorAt),
      conversion_id: p.conversionId,
      day,
      revenue: p.revenue,
      half_life_days: halfLifeDays,
      touches: p.touches.map((t) => [t.at, t.values[0], t.values[1], t.values[2]]),
    };
  }

  private published(ws: string): void {
    this.ctx.pubSub.publish(Topics.attributionChanged(ws), {});
  }
}

/** Totals and rows of one report from its credited values and costs: share, cost, CAC and ROI per value. */
function reportRows(credited: { value: string; conversions: number; revenue: number }[], costs: { value: string; amount: number }[]): Pick<AttributionReportValue, 'conversions' | 'revenue' | 'cost' | 'rows'> {
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  const total = credited.reduce((a, r) => a + r.conversions, 0);
  const cost = new Map(costs.map((c) => [c.value, c.amount]));
  const rows: AttributionRowValue[] = credited
    .filter((r) => Math.abs(r.conversions) > 1e-9 || Math.abs(r.revenue) > 1e-9 || cost.has(r.value))
    .map((r) => ({ value: r.value, conversions: round(r.conversions), revenue: round(r.revenue), share: 0, cost: null, cac: null, roi: null }));
  for (const c of costs) if (!rows.some((r) => r.value === c.value)) rows.push({ value: c.value, conversions: 0, revenue: 0, share: 0, cost: null, cac: null, roi: null });
  for (const r of rows) {
    r.share = total > 0 ? round(r.conversions / total) : 0;
    const c = cost.get(r.value);
    if (c !== undefined) {
      r.cost = round(c);
      r.cac = r.conversions > 0 ? round(c / r.conversions) : null;
      r.roi = c > 0 ? round(r.revenue / c) : null;
    }
  }
  rows.sort((a, b) => b.conversions - a.conversions || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  return {
    conversions: round(total),
    revenue: round(credited.reduce((a, r) => a + r.revenue, 0)),
    cost: costs.length ? round(costs.reduce((a, c) => a + c.amount, 0)) : null,
    rows,
  };
}

/** A conversion's value: `revenue` as ingest validates order values (`properties.revenue`, else `properties.total`); another property: its number, else 0. */
export function conversionValue(p: Record<string, unknown> | null, property: string): number {
  const v = property === 'revenue' ? (p?.revenue ?? p?.total ?? 0) : p?.[property];
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.round(n * 100) / 100 : 0;
}
