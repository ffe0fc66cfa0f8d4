import type { EntityManager } from 'typeorm';
import { AppError } from '../../platform/errors';
import type { AlertMetrics } from '../../platform/metrics';
import type { ModuleDeps } from '../../platform/module';
import { Topics } from '../../platform/pubsub';
import { localeOf } from '../workspaces';
import { KpiMetric } from './kpi.catalogue';
import { deviationMessage, thresholdMessage } from './alert.messages';
import { KpiErrorCode } from './kpi.errors';
import type { KpiFilterSpec } from './kpi.repository';
import type { KpiRange, KpiService } from './kpi.service';
import { AlertRepository, type AlertRow, type AlertRuleRow, type TargetRow } from './alert.repository';
import { deadlines, escalatedLevel, loadSlas, MAX_SLA_SEC, saveSla, SLA_LEVELS, type AlertSla } from './alert.sla';
import { UUID } from '../../shared/uuid';

export type AlertLevel = 'normal' | 'important' | 'urgent';
export const LEVEL_RANK: Record<AlertLevel, number> = { normal: 0, important: 1, urgent: 2 };
export const DEFAULT_DEVIATION_PCT = 5;

export interface AlertRuleInputSpec {
  name: string;
  metric: KpiMetric;
  kind: 'above' | 'below' | 'deviation';
  threshold?: number | null;
  targetId?: string | null;
  deviationPct?: number | null;
  level: AlertLevel;
  cooldownSeconds?: number | null;
  windowDays?: number | null;
  filter?: KpiFilterSpec | null;
  autoResolve?: boolean | null;
  evaluate?: AlertRuleRow['evaluate'] | null;
}

/** Delay that gathers the commits of a burst into one evaluation. */
const EVALUATE_DELAY_MS = 50;
/** Alerts one escalation pass takes (the rest wait for the next pass). */
const ESCALATIONS_PER_PASS = 100;
/** Longest note or root cause, in characters. */
const MAX_NOTE = 2000;

/** A step of the response process taken by a person. */
export type AlertStepAction = 'acknowledged' | 'root_cause_recorded' | 'resolved';

/**
 * Targets (目标) and alert rules (预警): threshold (above/below over `windowDays` local days) or
 * deviation from a target over its period. A rule measures completed periods by default (the
 * `windowDays` days ending yesterday; a target period once it has ended), or, with
 * `current_period`, the period under way so far (today included; a target period to date). A rule
 * fires once when its condition starts to hold (then stays quiet until it stops holding and holds
 * again, and never within its cooldown); the alert is stored, written in the workspace's language,
 * and published on `alertRaised`. When the condition stops holding, a rule with `auto_resolve`
 * resolves its alerts. Rules are evaluated after ingest commits, coalesced per workspace.
 */
export class AlertService {
  private readonly repo = new AlertRepository();
  private readonly pending = new Map<string, { timer: NodeJS.Timeout | null; running: Promise<void> | null; again: boolean }>();
  /** Evaluations run (for tests and metrics). */
  evaluations = 0;
  /** Counts raised alerts for `/metrics` (set by the app; tools run without it). */
  metrics: AlertMetrics | null = null;
  private escalationTimer: NodeJS.Timeout | undefined;
  /** The passes, one after another (the timer's and any asked for). */
  private escalations: Promise<unknown> = Promise.resolve();
  private escalationRunning = false;

  constructor(
    private readonly ctx: ModuleDeps,
    private readonly kpis: KpiService,
  ) {}

  private get em() {
    return this.ctx.ds.manager;
  }

  async setTarget(ws: string, metric: KpiMetric, value: number, period: KpiRange, filter: KpiFilterSpec): Promise<TargetRow> {
    if (!Number.isFinite(value)) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'value', 'value must be a finite number');
    this.kpis.validateRange(period, 'period');
    this.kpis.validateFilter(filter);
    this.kpis.validateScope([metric], 'NONE', filter);
    if (filter.orgNode) await subtreeNodes(this.em, ws, filter.orgNode, 'filter.orgNode');
    return this.repo.insertTarget(this.em, ws, { metric, value, period, filter: { ...filter } });
  }

  targets(ws: string): Promise<TargetRow[]> {
    return this.repo.targets(this.em, ws);
  }

  async createRule(ws: string, input: AlertRuleInputSpec): Promise<AlertRuleRow> {
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (!name || name.length > 200) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'input.name', 'name must be 1–200 characters');
    const cooldown = input.cooldownSeconds ?? 3600;
    if (!Number.isInteger(cooldown) || cooldown < 0 || cooldown > 30 * 86400) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'input.cooldownSeconds', 'cooldownSeconds must be an integer in 0–2592000');
    const windowDays = input.windowDays ?? 1;
    if (!Number.isInteger(windowDays) || windowDays < 1 || windowDays > 366) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'input.windowDays', 'windowDays must be an integer in 1–366');
    const filter = input.filter ?? {};
    this.kpis.validateFilter(filter, 'input.filter');
    this.kpis.validateScope([input.metric], 'NONE', filter, 'input.filter');
    if (filter.orgNode) await subtreeNodes(this.em, ws, filter.orgNode, 'input.filter.orgNode');
    let threshold: number | null = null;
    let targetId: string | null = null;
    let deviation: number | null = null;
    if (input.kind === 'deviation') {
      if (!input.targetId || !UUID.test(input.targetId) || !(await this.repo.targets(this.em, ws, [input.targetId])).length) {
        throw AppError.badInput(KpiErrorCode.TARGET_NOT_FOUND, 'input.targetId', 'a deviation rule needs the id of a target of this workspace');
      }
      targetId = input.targetId;
      deviation = input.deviationPct ?? DEFAULT_DEVIATION_PCT;
      if (!Number.isFinite(deviation) || deviation <= 0 || deviation > 1000) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'input.deviationPct', 'deviationPct must be in (0, 1000]');
    } else {
      if (typeof input.threshold !== 'number' || !Number.isFinite(input.threshold)) {
        throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'input.threshold', 'an above/below rule needs a finite threshold');
      }
      threshold = input.threshold;
    }
    const rule = await this.repo.insertRule(this.em, ws, {
      name,
      metric: input.metric,
      kind: input.kind,
      threshold,
      target_id: targetId,
      deviation_pct: deviation,
      level: input.level,
      cooldown_sec: cooldown,
      window_days: windowDays,
      filter: { ...filter },
      auto_resolve: input.autoResolve ?? false,
      evaluate: input.evaluate ?? 'completed_period',
    });
    this.schedule(ws);
    return rule;
  }

  rules(ws: string): Promise<AlertRuleRow[]> {
    return this.repo.rules(this.em, ws);
  }

  async deleteRule(ws: string, id: string): Promise<boolean> {
    if (!UUID.test(id) || !(await this.repo.deleteRule(this.em, ws, id))) throw AppError.notFound(KpiErrorCode.ALERT_RULE_NOT_FOUND, 'no such alert rule in this workspace');
    return true;
  }

  /** `orgNode`: only alerts of rules scoped to this node or a node below it (a region's team sees its stores' alerts). */
  async alerts(ws: string, status: string | null, minLevel: AlertLevel | null, limit: number, orgNode: string | null = null): Promise<AlertRow[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'first', 'first must be in 1–1000');
    const levels = minLevel ? (Object.keys(LEVEL_RANK) as AlertLevel[]).filter((l) => LEVEL_RANK[l] >= LEVEL_RANK[minLevel]) : null;
    const nodes = orgNode === null ? null : await subtreeNodes(this.em, ws, orgNode);
    return this.withHistory(ws, await this.repo.alerts(this.em, ws, status, levels, limit, nodes));
  }

  async alert(ws: string, id: string): Promise<AlertRow> {
    const a = UUID.test(id) ? await this.repo.alert(this.em, ws, id) : null;
    if (!a) throw AppError.notFound(KpiErrorCode.ALERT_NOT_FOUND, 'no such alert in this workspace');
    return (await this.withHistory(ws, [a]))[0];
  }

  /** Attaches each alert's steps (one query for the list). */
  private async withHistory(ws: string, alerts: AlertRow[]): Promise<AlertRow[]> {
    const steps = await this.repo.steps(this.em, ws, alerts.map((a) => a.id));
    return alerts.map((a) => ({ ...a, history: steps.get(a.id) ?? [] }));
  }

  /**
   * A step of the response process (应急响应 → 根源分析 → 改进落实), recording who, when and the
   * note: acknowledge an open alert; record the root cause of an acknowledged one (again to revise
   * it); resolve one not yet resolved — after a root cause when its level's service level requires one.
   */
  async step(ws: string, id: string, action: AlertStepAction, by: string, note: string | null): Promise<AlertRow> {
    const text = note === null || note === undefined ? null : String(note).trim();
    const field = action === 'root_cause_recorded' ? 'rootCause' : 'note';
    if (action === 'root_cause_recorded' && !text) throw AppError.badInput(KpiErrorCode.INVALID_ALERT_NOTE, field, 'rootCause must not be empty');
    if (text !== null && text.length > MAX_NOTE) throw AppError.badInput(KpiErrorCode.INVALID_ALERT_NOTE, field, `${field} must be at most ${MAX_NOTE} characters`);
    const current = await this.alert(ws, id);
    const r = await this.ctx.ds.transaction(async (em) => {
      if (action === 'resolved' && current.status !== 'root_cause_recorded') {
        const sla = (await loadSlas(em, ws))[current.level];
        if (sla.rootCauseRequired) return 'root cause' as const;
      }
      return this.repo.transition(em, ws, id, action, by, text || null, new Date());
    });
    if (r === 'root cause') throw AppError.conflict('ALERT_ROOT_CAUSE_REQUIRED', `a ${current.level} alert is resolved after its root cause is recorded (recordAlertRootCause)`);
    if (!r) throw AppError.conflict('ALERT_STATUS', `the alert is ${current.status}: it cannot be ${action.replace(/_/g, ' ')}`);
    this.ctx.pubSub.publish(Topics.alertChanged(ws), { alertId: id, level: r.level, action });
    return (await this.withHistory(ws, [r]))[0];
  }

  /** The workspace's service levels per alert level (defaults where none was set). */
  async slas(ws: string): Promise<AlertSla[]> {
    const all = await loadSlas(this.em, ws);
    return SLA_LEVELS.map((l) => all[l]);
  }

  /**
   * Sets service levels (any subset of the levels; the others keep theirs). Applies to alerts raised
   * or escalated from now on; alerts already raised keep their deadlines.
   */
  async setSlas(ws: string, input: { level: AlertLevel; acknowledgeWithinSeconds: number; resolveWithinSeconds: number; rootCauseRequired?: boolean | null }[], by: string): Promise<AlertSla[]> {
    if (!Array.isArray(input) || !input.length) throw AppError.badInput(KpiErrorCode.INVALID_ALERT_SLA, 'input', 'give at least one level');
    const seen = new Set<string>();
    input.forEach((x, i) => {
      const f = (name: string) => `input.${i}.${name}`;
      if (!SLA_LEVELS.includes(x.level)) throw AppError.badInput(KpiErrorCode.INVALID_ALERT_SLA, f('level'), 'unknown level');
      if (seen.has(x.level)) throw AppError.badInput(KpiErrorCode.INVALID_ALERT_SLA, f('level'), `level ${x.level} is given twice`);
      seen.add(x.level);
      const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_SLA_SEC;
      if (!ok(x.acknowledgeWithinSeconds)) throw AppError.badInput(KpiErrorCode.INVALID_ALERT_SLA, f('acknowledgeWithinSeconds'), `acknowledgeWithinSeconds must be an integer in 1–${MAX_SLA_SEC}`);
      if (!ok(x.resolveWithinSeconds)) throw AppError.badInput(KpiErrorCode.INVALID_ALERT_SLA, f('resolveWithinSeconds'), `resolveWithinSeconds must be an integer in 1–${MAX_SLA_SEC}`);
      if (x.resolveWithinSeconds < x.acknowledgeWithinSeconds) {
        throw AppError.badInput(KpiErrorCode.INVALID_ALERT_SLA, f('resolveWithinSeconds'), 'resolveWithinSeconds must not be shorter than acknowledgeWithinSeconds');
      }
    });
    await this.ctx.ds.transaction(async (em) => {
      for (const x of input) {
        await saveSla(em, ws, { level: x.level, acknowledgeWithinSec: x.acknowledgeWithinSeconds, resolveWithinSec: x.resolveWithinSeconds, rootCauseRequired: x.rootCauseRequired ?? false, updatedBy: by });
      }
    });
    return this.slas(ws);
  }

  /**
   * Starts the escalation sweep: every `intervalMs`, alerts whose next deadline has passed (still
   * open at the acknowledge deadline, not resolved at the resolve deadline) escalate (0 disables).
   */
  startEscalation(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.escalationTimer = setInterval(() => {
      if (this.escalationRunning) return;
      void this.escalateDue().catch((err: unknown) => this.ctx.log.warn({ err: (err as Error).message }, 'alert escalation failed'));
    }, intervalMs);
    this.escalationTimer.unref();
  }

  /** Stops the sweep and waits for a pass under way. */
  async stopEscalation(): Promise<void> {
    if (this.escalationTimer) clearInterval(this.escalationTimer);
    await this.escalations;
  }

  /**
   * One escalation pass at `now` (passes run one after another per instance; instances share the work through row locks
   * taken without waiting). Each alert due moves one level up (urgent stays urgent), its deadlines
   * restart from now under the new level's service level, an `escalated` step is recorded (the
   * destinations outbox takes it in the same transaction), and it is published again on
   * `alertRaised` at its new level. Returns the alerts escalated.
   */
  escalateDue(now = new Date()): Promise<AlertRow[]> {
    const run = this.escalations.then(async () => {
      this.escalationRunning = true;
      try {
        return await this.escalatePass(now);
      } finally {
        this.escalationRunning = false;
      }
    });
    this.escalations = run.catch(() => undefined);
    return run;
  }

  private async escalatePass(now: Date): Promise<AlertRow[]> {
    const done = await this.ctx.ds.transaction(async (em) => {
      const due = await this.repo.dueForEscalation(em, now, ESCALATIONS_PER_PASS);
      const out: (AlertRow & { workspace_id: string })[] = [];
      const slas = new Map<string, Awaited<ReturnType<typeof loadSlas>>>();
      for (const a of due) {
        let ws = slas.get(a.workspace_id);
        if (!ws) slas.set(a.workspace_id, (ws = await loadSlas(em, a.workspace_id)));
        const level = escalatedLevel(a.level);
        const d = deadlines(ws[level], now);
        const open = a.status === 'open';
        const reason =
          open && a.acknowledge_due_at && a.acknowledge_due_at <= now
            ? `not acknowledged by ${a.acknowledge_due_at.toISOString()} (${a.level} service level)`
            : `not resolved by ${(a.resolve_due_at ?? now).toISOString()} (${a.level} service level)`;
        const row = await this.repo.escalate(em, a.workspace_id, a, level, { acknowledgeDueAt: open ? d.acknowledgeDueAt : null, resolveDueAt: d.resolveDueAt, nextDueAt: open ? d.acknowledgeDueAt : d.resolveDueAt }, reason, now);
        out.push({ ...row, workspace_id: a.workspace_id });
      }
      return out;
    });
    for (const a of done) {
      this.metrics?.alertsEscalated?.inc({ level: a.level });
      this.ctx.pubSub.publish(Topics.alertRaised(a.workspace_id), { alertId: a.id, level: a.level });
      this.ctx.pubSub.publish(Topics.alertChanged(a.workspace_id), { alertId: a.id, level: a.level, action: 'escalated' });
    }
    return done;
  }

  /** Evaluate the workspace's rules soon; bursts of commits share one evaluation. */
  schedule(ws: string): void {
    let p = this.pending.get(ws);
    if (!p) this.pending.set(ws, (p = { timer: null, running: null, again: false }));
    if (p.running) {
      p.again = true;
      return;
    }
    if (p.timer) return;
    const state = p;
    state.timer = setTimeout(() => {
      state.timer = null;
      state.running = this.evaluate(ws)
        .then((raised) => {
          for (const a of raised) this.metrics?.alertsRaised.inc({ level: a.level });
        })
        .catch((err: unknown) => this.ctx.log.error({ err, workspaceId: ws }, 'alert evaluation failed'))
        .finally(() => {
          state.running = null;
          if (state.again) {
            state.again = false;
            this.schedule(ws);
          } else this.pending.delete(ws);
        });
    }, EVALUATE_DELAY_MS);
    state.timer.unref();
  }

  /** Waits for scheduled evaluations (graceful stop, tests). */
  async idle(): Promise<void> {
    while (this.pending.size) {
      await Promise.all([...this.pending.values()].map((p) => p.running ?? new Promise((r) => setTimeout(r, EVALUATE_DELAY_MS + 10))));
    }
  }

  /** Re-arms a rule whose condition stopped holding; its alerts it resolved (`autoResolve`) are published. */
  private async clear(ws: string, ruleId: string, now: Date): Promise<void> {
    for (const r of await this.repo.clear(this.em, ws, ruleId, now)) this.ctx.pubSub.publish(Topics.alertChanged(ws), { alertId: r.alert_id, level: r.level, action: 'resolved' });
  }

  /** Evaluates every enabled rule of the workspace now; returns the alerts raised. */
  async evaluate(ws: string, now = new Date()): Promise<AlertRow[]> {
    this.evaluations++;
    const rules = await this.repo.rules(this.em, ws, true);
    if (!rules.length) return [];
    const { today, settings } = await this.repo.workspaceNow(this.em, ws);
    const locale = localeOf(settings);
    const yesterday = addDays(today, -1);
    const targets = new Map((await this.repo.targets(this.em, ws)).map((t) => [t.id, t]));
    const raised: AlertRow[] = [];
    let slas: Awaited<ReturnType<typeof loadSlas>> | null = null;
    for (const rule of rules) {
      const metric = rule.metric as KpiMetric;
      const completed = rule.evaluate === 'completed_period';
      let range: KpiRange;
      let reference: number | null;
      let filter: KpiFilterSpec;
      if (rule.kind === 'deviation') {
        const t = targets.get(rule.target_id ?? '');
        // Completed: the target's whole period, once it has ended. Current: its period to date.
        if (!t || (completed ? t.period.to > yesterday : t.period.from > today)) {
          await this.clear(ws, rule.id, now);
          continue;
        }
        range = { from: t.period.from, to: t.period.to < today ? t.period.to : today };
        reference = t.value;
        filter = t.filter as KpiFilterSpec;
      } else {
        const end = completed ? yesterday : today;
        range = { from: addDays(end, 1 - rule.window_days), to: end };
        reference = rule.threshold;
        filter = rule.filter as KpiFilterSpec;
      }
      const value = await this.kpis.valueOver(ws, metric, range, filter);
      const facts = { ruleName: rule.name, metric, range, partial: range.to >= today, value, reference };
      let holds: boolean;
      let message: string;
      if (rule.kind === 'deviation') {
        const dev = value === null || reference === 0 || reference === null ? null : (value - reference) / Math.abs(reference);
        holds = dev !== null && Math.abs(dev) * 100 > (rule.deviation_pct ?? DEFAULT_DEVIATION_PCT);
        message = deviationMessage(locale, facts, dev, rule.deviation_pct ?? DEFAULT_DEVIATION_PCT);
      } else {
        holds = value !== null && reference !== null && (rule.kind === 'above' ? value > reference : value < reference);
        message = thresholdMessage(locale, rule.kind, facts);
      }
      if (!holds) {
        if (rule.breached) await this.clear(ws, rule.id, now);
        continue;
      }
      if (rule.breached) continue;
      slas ??= await loadSlas(this.em, ws);
      const a = await this.ctx.ds.transaction((em) => this.repo.fire(em, ws, rule, value, reference, message, now, deadlines(slas![rule.level], now)));
      if (a) {
        raised.push(a);
        this.ctx.pubSub.publish(Topics.alertRaised(ws), { alertId: a.id, level: a.level });
        this.ctx.pubSub.publish(Topics.alertChanged(ws), { alertId: a.id, level: a.level, action: 'raised' });
      }
    }
    return raised;
  }
}

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** The keys of `node` and every node below it; a typed error for an unknown node. */
async function subtreeNodes(em: EntityManager, ws: string, node: string, field = 'orgNode'): Promise<string[]> {
  const rows: { key: string; parent: string | null }[] = await em.query(`SELECT key, parent_key AS parent FROM org_nodes WHERE workspace_id = $1`, [ws]);
  if (!rows.some((r) => r.key === node)) throw AppError.badInput(KpiErrorCode.INVALID_KPI_FILTER, field, `no org node ${node}`);
  const out = [node];
  for (let i = 0; i < out.length; i++) for (const r of rows) if (r.parent === out[i]) out.push(r.key);
  return out;
}
