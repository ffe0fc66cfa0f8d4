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

export interface AlertRow {
  id: string;
  rule_id: string;
  metric: string;
  level: 'normal' | 'important' | 'urgent';
  value: number | null;
  reference: number | null;
  message: string;
  status: 'open' | 'acknowledged' | 'resolved';
  raised_at: Date;
  acknowledged_by: string | null;
  acknowledged_at: Date | null;
  resolved_by: string | null;
  resolved_at: Date | null;
}

const RULE_COLS = `id, name, metric, kind, threshold, target_id, deviation_pct, level, cooldown_sec, window_days, filter, enabled, auto_resolve, evaluate, breached, last_fired_at, created_at`;
const ALERT_COLS = `id, rule_id, metric, level, value, reference, message, status, raised_at, acknowledged_by, acknowledged_at, resolved_by, resolved_at`;

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
  async fire(em: EntityManager, ws: string, rule: AlertRuleRow, value: number | null, reference: number | null, message: string, now: Date): Promise<AlertRow | null> {
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
      `INSERT INTO kpi_alerts (workspace_id, rule_id, metric, level, value, reference, message, raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${ALERT_COLS}`,
      [ws, rule.id, rule.metric, rule.level, value, reference, message, now],
    );
    return a;
  }

  /**
   * The condition no longer holds: re-arm the rule and, when it auto-resolves, resolve its alerts
   * that are still open or acknowledged (`resolved_by` stays null: nobody resolved them). One
   * statement, so only the evaluation that re-arms the rule resolves.
   */
  async clear(em: EntityManager, ws: string, ruleId: string, now: Date): Promise<void> {
    await em.query(
      `WITH rearmed AS (UPDATE kpi_alert_rules SET breached = false WHERE workspace_id = $1 AND id = $2 AND breached RETURNING id, auto_resolve)
       UPDATE kpi_alerts a SET status = 'resolved', resolved_at = $3
       FROM rearmed r WHERE a.workspace_id = $1 AND a.rule_id = r.id AND r.auto_resolve AND a.status <> 'resolved'`,
      [ws, ruleId, now],
    );
  }

  /** The workspace's local date today and its settings (language). */
  async workspaceNow(em: EntityManager, ws: string): Promise<{ today: string; settings: Record<string, unknown> }> {
    const [r] = await em.query(`SELECT to_char(now() AT TIME ZONE time_zone, 'YYYY-MM-DD') AS today, settings FROM workspaces WHERE id = $1`, [ws]);
    return r;
  }

  alerts(em: EntityManager, ws: string, status: string | null, levels: string[] | null, limit: number): Promise<AlertRow[]> {
    return em.query(
      `SELECT ${ALERT_COLS} FROM kpi_alerts WHERE workspace_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text[] IS NULL OR level = ANY($3::text[]))
       ORDER BY raised_at DESC, id LIMIT $4`,
      [ws, status, levels, limit],
    );
  }

  async alert(em: EntityManager, ws: string, id: string): Promise<AlertRow | null> {
    const [a] = await em.query(`SELECT ${ALERT_COLS} FROM kpi_alerts WHERE workspace_id = $1 AND id = $2`, [ws, id]);
    return a ?? null;
  }

  async setStatus(em: EntityManager, ws: string, id: string, status: 'acknowledged' | 'resolved', by: string, now: Date): Promise<AlertRow | null> {
    const col = status === 'acknowledged' ? 'acknowledged' : 'resolved';
    const [[a]] = await em.query(
      `UPDATE kpi_alerts SET status = $3, ${col}_by = $4, ${col}_at = $5
       WHERE workspace_id = $1 AND id = $2 AND ${status === 'acknowledged' ? `status = 'open'` : `status <> 'resolved'`}
       RETURNING ${ALERT_COLS}`,
      [ws, id, status, by, now],
    );
    return a ?? null;
  }
}
