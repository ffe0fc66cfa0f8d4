import type { EntityManager } from 'typeorm';

export interface TargetRow {
  id: string;
  metric: string;
  value: number;
  period: { from: string; to: string };
  filter: Record<string, unknown>;
  created_at: Date;
}

export interface AlertRuleRow {
  id: string;
  name: string;
  metric: string;
  kind: 'above' | 'below' | 'deviation';
  threshold: number | null;
  target_id: string | null;
  deviation_pct: number | null;
  level: 'normal' | 'important' | 'urgent';
  cooldown_sec: number;
  window_days: number;
  filter: Record<string, unknown>;
  enabled: boolean;
  /** Resolve the rule's open/acknowledged alerts when its condition stops holding. */
  auto_resolve: boolean;
  /** Which period is measured: the last completed one, or the current one so far. */
  evaluate: 'completed_period' | 'current_period';
  breached: boolean;
  last_fired_at: Date | null;
  created_at: Date;
}

export type AlertStatusKey = 'open' | 'acknowledged' | 'root_cause_recorded' | 'resolved';
export type AlertAction = 'raised' | 'acknowledged' | 'root_cause_recorded' | 'resolved' | 'escalated';

export interface AlertStepRow {
  alert_id: string;
  step_no: number;
  action: AlertAction;
  actor: string | null;
  level: 'normal' | 'important' | 'urgent';
  note: string | null;
  at: Date;
}

export interface AlertRow {
  id: string;
  rule_id: string;
  metric: string;
  /** Current level: raised, then one step up per escalation. */
  level: 'normal' | 'important' | 'urgent';
  raised_level: 'normal' | 'important' | 'urgent';
  value: number | null;
  reference: number | null;
  message: string;
  status: AlertStatusKey;
  raised_at: Date;
  acknowledged_by: string | null;
  acknowledged_at: Date | null;
  root_cause: string | null;
  root_cause_by: string | null;
  root_cause_at: Date | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  resolution_note: string | null;
  escalations: number;
  escalated_at: Date | null;
  acknowledge_due_at: Date | null;
  resolve_due_at: Date | null;
  next_due_at: Date | null;
  /** The steps, in order (attached by the service when asked for). */
  history?: AlertStepRow[];
  /** The org node its rule is scoped to (rule filter.orgNode), or null. */
  org_node: string | null;
}

const RULE_COLS = `id, name, metric, kind, threshold, target_id, deviation_pct, level, cooldown_sec, window_days, filter, enabled, auto_resolve, evaluate, breached, last_fired_at, created_at`;
const ALERT_COLS = `id, rule_id, metric, level, raised_level, value, reference, message, status, raised_at, acknowledged_by, acknowledged_at, root_cause, root_cause_by,
  root_cause_at, resolved_by, resolved_at, resolution_note, escalations, escalated_at, acknowledge_due_at, resolve_due_at, next_due_at,
  (SELECT r.filter->>'orgNode' FROM kpi_alert_rules r WHERE r.workspace_id = kpi_alerts.workspace_id AND r.id = kpi_alerts.rule_id) AS org_node`;
/** The next step number of an alert (its row is locked by the statement that changed it). */
const NEXT_STEP = `(SELECT coalesce(max(step_no), 0) + 1 FROM kpi_alert_steps s WHERE s.workspace_id = $1 AND s.alert_id = $2)`;

/** SQL of targets, alert rules and alerts. */
export class AlertRepository {
  async insertTarget(em: EntityManager, ws: string, t: { metric: string; value: number; period: { from: string; to: string }; filter: Record<string, unknown> }): Promise<TargetRow> {
    const [r] = await em.query(
      `INSERT INTO kpi_targets (workspace_id, metric, value, period, filter) VALUES ($1, $2, $3, $4, $5::jsonb)
       RETURNING id, metric, value, period, filter, created_at`,
      [ws, t.metric, t.value, JSON.stringify(t.period), JSON.stringify(t.filter)],
    );
    return { ...r, period: JSON.parse(r.period) };
  }

  async targets(em: EntityManager, ws: string, ids?: readonly string[]): Promise<TargetRow[]> {
    const rows: (Omit<TargetRow, 'period'> & { period: string })[] = await em.query(
      `SELECT id, metric, value, period, filter, created_at FROM kpi_targets WHERE workspace_id = $1 ${ids ? 'AND id = ANY($2::uuid[])' : ''} ORDER BY created_at`,
      ids ? [ws, ids] : [ws],
    );
    return rows.map((r) => ({ ...r, period: JSON.parse(r.period) }));
  }

  async insertRule(em: EntityManager, ws: string, r: Omit<AlertRuleRow, 'id' | 'breached' | 'last_fired_at' | 'created_at' | 'enabled'>): Promise<AlertRuleRow> {
    const [row] = await em.query(
      `INSERT INTO kpi_alert_rules (workspace_id, name, metric, kind, threshold, target_id, deviation_pct, level, cooldown_sec, window_days, filter, auto_resolve, evaluate)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13) RETURNING ${RULE_COLS}`,
      [ws, r.name, r.metric, r.kind, r.threshold, r.target_id, r.deviation_pct, r.level, r.cooldown_sec, r.window_days, JSON.stringify(r.filter), r.auto_resolve, r.evaluate],
    );
    return row;
  }

  rules(em: EntityManager, ws: string, enabledOnly = false): Promise<AlertRuleRow[]> {
    return em.query(`SELECT ${RULE_COLS} FROM kpi_alert_rules WHERE workspace_id = $1 ${enabledOnly ? 'AND enabled' : ''} ORDER BY created_at`, [ws]);
  }

  async deleteRule(em: EntityManager, ws: string, id: string): Promise<boolean> {
    // UPDATE/DELETE … RETURNING answer [rows, affected] through TypeORM.
    const [rows] = await em.query(`DELETE FROM kpi_alert_rules WHERE workspace_id = $1 AND id = $2 RETURNING id`, [ws, id]);
    return rows.length > 0;
  }

  /**
   * Records a breach: fires (inserts an alert) only when the rule was not breached before and its
   * cooldown has passed. The conditional update makes the decision atomic across instances.
   */
  async fire(
    em: EntityManager,
    ws: string,
    rule: AlertRuleRow,
    value: number | null,
    reference: number | null,
    message: string,
    now: Date,
    due: { acknowledgeDueAt: Date; resolveDueAt: Date },
  ): Promise<AlertRow | null> {
    const [claimed] = await em.query(
      `UPDATE kpi_alert_rules SET breached = true, last_fired_at = $3
       WHERE workspace_id = $1 AND id = $2 AND NOT breached
         AND (last_fired_at IS NULL OR last_fired_at <= $3::timestamptz - make_interval(secs => cooldown_sec))
       RETURNING id`,
      [ws, rule.id, now],
    );
    if (!claimed.length) {
      // Still breached (or cooling down): remember the breach so that it does not fire on recovery.
      await em.query(`UPDATE kpi_alert_rules SET breached = true WHERE workspace_id = $1 AND id = $2`, [ws, rule.id]);
      return null;
    }
    const [a] = await em.query(
      `INSERT INTO kpi_alerts (workspace_id, rule_id, metric, level, raised_level, value, reference, message, raised_at, acknowledge_due_at, resolve_due_at, next_due_at)
       VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10, $9) RETURNING ${ALERT_COLS}`,
      [ws, rule.id, rule.metric, rule.level, value, reference, message, now, due.acknowledgeDueAt, due.resolveDueAt],
    );
    await this.step(em, ws, a.id, 'raised', null, a.level, null, now);
    return a;
  }

  /** Appends a step to an alert's history. */
  async step(em: EntityManager, ws: string, alertId: string, action: AlertAction, actor: string | null, level: string, note: string | null, at: Date): Promise<void> {
    await em.query(`INSERT INTO kpi_alert_steps (workspace_id, alert_id, step_no, action, actor, level, note, at) VALUES ($1, $2, ${NEXT_STEP}, $3, $4, $5, $6, $7)`, [
      ws,
      alertId,
      action,
      actor,
      level,
      note,
      at,
    ]);
  }

  /** The steps of these alerts, in order, by alert id. */
  async steps(em: EntityManager, ws: string, alertIds: readonly string[]): Promise<Map<string, AlertStepRow[]>> {
    const out = new Map<string, AlertStepRow[]>(alertIds.map((id) => [id, []]));
    if (!alertIds.length) return out;
    const rows: AlertStepRow[] = await em.query(
      `SELECT alert_id, step_no, action, actor, level, note, at FROM kpi_alert_steps WHERE workspace_id = $1 AND alert_id = ANY($2::uuid[]) ORDER BY alert_id, step_no`,
      [ws, alertIds],
    );
    for (const r of rows) out.get(r.alert_id)?.push(r);
    return out;
  }

  /**
   * The condition no longer holds: re-arm the rule and, when it auto-resolves, resolve its alerts
   * that are still open or acknowledged (`resolved_by` stays null: nobody resolved them). One
   * statement, so only the evaluation that re-arms the rule resolves.
   */
  async clear(em: EntityManager, ws: string, ruleId: string, now: Date): Promise<{ alert_id: string; level: string }[]> {
    return em.query(
      `WITH rearmed AS (UPDATE kpi_alert_rules SET breached = false WHERE workspace_id = $1 AND id = $2 AND breached RETURNING id, auto_resolve),
       resolved AS (
         UPDATE kpi_alerts a SET status = 'resolved', resolved_at = $3, next_due_at = NULL
         FROM rearmed r WHERE a.workspace_id = $1 AND a.rule_id = r.id AND r.auto_resolve AND a.status <> 'resolved'
         RETURNING a.id, a.level)
       INSERT INTO kpi_alert_steps (workspace_id, alert_id, step_no, action, actor, level, note, at)
       SELECT $1, x.id, (SELECT coalesce(max(step_no), 0) + 1 FROM kpi_alert_steps s WHERE s.workspace_id = $1 AND s.alert_id = x.id), 'resolved', NULL, x.level, $4, $3
         FROM resolved x
       RETURNING alert_id, level`,
      [ws, ruleId, now, AUTO_RESOLVE_NOTE],
    );
  }

  /** The workspace's local date today and its settings (language). */
  async workspaceNow(em: EntityManager, ws: string): Promise<{ today: string; settings: Record<string, unknown> }> {
    const [r] = await em.query(`SELECT to_char(now() AT TIME ZONE time_zone, 'YYYY-MM-DD') AS today, settings FROM workspaces WHERE id = $1`, [ws]);
    return r;
  }

  /** `nodes`: only alerts whose rule is scoped to one of these org nodes. */
  alerts(em: EntityManager, ws: string, status: string | null, levels: string[] | null, limit: number, nodes: string[] | null = null): Promise<AlertRow[]> {
    return em.query(
      `SELECT * FROM (SELECT ${ALERT_COLS} FROM kpi_alerts WHERE workspace_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text[] IS NULL OR level = ANY($3::text[]))) a
       WHERE ($5::text[] IS NULL OR a.org_node = ANY($5::text[]))
       ORDER BY raised_at DESC, id LIMIT $4`,
      [ws, status, levels, limit, nodes],
    );
  }

  async alert(em: EntityManager, ws: string, id: string): Promise<AlertRow | null> {
    const [a] = await em.query(`SELECT ${ALERT_COLS} FROM kpi_alerts WHERE workspace_id = $1 AND id = $2`, [ws, id]);
    return a ?? null;
  }

  /**
   * Moves an alert one step of the response process, recording who, when and the note; null when
   * its status does not allow the step (open → acknowledged; acknowledged → root cause recorded
   * (again, to revise it); anything not resolved → resolved).
   */
  async transition(em: EntityManager, ws: string, id: string, action: 'acknowledged' | 'root_cause_recorded' | 'resolved', by: string, note: string | null, now: Date): Promise<AlertRow | null> {
    const set =
      action === 'acknowledged'
        ? `status = 'acknowledged', acknowledged_by = $3, acknowledged_at = $4, next_due_at = resolve_due_at`
        : action === 'root_cause_recorded'
          ? `status = 'root_cause_recorded', root_cause = $5, root_cause_by = $3, root_cause_at = $4`
          : `status = 'resolved', resolved_by = $3, resolved_at = $4, resolution_note = $5, next_due_at = NULL`;
    const from = action === 'acknowledged' ? `status = 'open'` : action === 'root_cause_recorded' ? `status IN ('acknowledged', 'root_cause_recorded')` : `status <> 'resolved'`;
    // The note of an acknowledgement lives in its step only.
    const params = action === 'acknowledged' ? [ws, id, by, now] : [ws, id, by, now, note];
    const [[a]] = await em.query(`UPDATE kpi_alerts SET ${set} WHERE workspace_id = $1 AND id = $2 AND ${from} RETURNING ${ALERT_COLS}`, params);
    if (!a) return null;
    await this.step(em, ws, id, action, by, a.level, note, now);
    return a;
  }

  /**
   * Takes up to `limit` alerts whose next deadline has passed, locked (another instance's sweep
   * skips them), most overdue first.
   */
  dueForEscalation(em: EntityManager, now: Date, limit: number): Promise<(AlertRow & { workspace_id: string })[]> {
    return em.query(`SELECT workspace_id, ${ALERT_COLS} FROM kpi_alerts WHERE next_due_at <= $1 ORDER BY next_due_at LIMIT $2 FOR UPDATE SKIP LOCKED`, [now, limit]);
  }

  /** The earliest deadline of any alert (the sweep's next wake-up). */
  async nextDeadline(em: EntityManager): Promise<Date | null> {
    const [r] = await em.query(`SELECT min(next_due_at) AS at FROM kpi_alerts WHERE next_due_at IS NOT NULL`);
    return r?.at ? new Date(r.at) : null;
  }

  /** Escalates a locked alert: its new level and deadlines, then the `escalated` step (which the outbox trigger pushes). */
  async escalate(em: EntityManager, ws: string, a: AlertRow, level: string, due: { acknowledgeDueAt: Date | null; resolveDueAt: Date; nextDueAt: Date }, reason: string, now: Date): Promise<AlertRow> {
    const [[row]] = await em.query(
      `UPDATE kpi_alerts SET level = $3, escalations = escalations + 1, escalated_at = $4, acknowledge_due_at = coalesce($5, acknowledge_due_at), resolve_due_at = $6, next_due_at = $7
       WHERE workspace_id = $1 AND id = $2 RETURNING ${ALERT_COLS}`,
      [ws, a.id, level, now, due.acknowledgeDueAt, due.resolveDueAt, due.nextDueAt],
    );
    await this.step(em, ws, a.id, 'escalated', null, level, reason, now);
    return row;
  }
}

/** The note of a resolution by the rule itself (`autoResolve`). */
export const AUTO_RESOLVE_NOTE = 'condition no longer holds (autoResolve)';
