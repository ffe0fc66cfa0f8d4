import type { EntityManager } from 'typeorm';
import type { AlertLevel } from './alert.service';

/** The service level of one alert level: deadlines from when an alert is raised (or escalated). */
export interface AlertSla {
  level: AlertLevel;
  /** Seconds to acknowledge; an alert still open then escalates. */
  acknowledgeWithinSec: number;
  /** Seconds to resolve; an alert not resolved then escalates. */
  resolveWithinSec: number;
  /** Resolving needs a recorded root cause (ROOT_CAUSE_RECORDED first); auto-resolve is exempt. */
  rootCauseRequired: boolean;
  /** API key id that set it; null for the defaults. */
  updatedBy: string | null;
  updatedAt: Date | null;
}

/**
 * Defaults, after the grading brands use (紧急 urgent: respond within a quarter of an hour, fix the
 * same half-day; 重要 important: respond within the hour, fix within a day; 一般 normal: respond
 * within a half-day shift, fix within three days).
 */
export const DEFAULT_SLAS: Record<AlertLevel, Omit<AlertSla, 'level' | 'updatedBy' | 'updatedAt'>> = {
  urgent: { acknowledgeWithinSec: 15 * 60, resolveWithinSec: 4 * 3600, rootCauseRequired: false },
  important: { acknowledgeWithinSec: 3600, resolveWithinSec: 24 * 3600, rootCauseRequired: false },
  normal: { acknowledgeWithinSec: 4 * 3600, resolveWithinSec: 72 * 3600, rootCauseRequired: false },
};

export const SLA_LEVELS: readonly AlertLevel[] = ['normal', 'important', 'urgent'];
/** Longest deadline accepted: 90 days. */
export const MAX_SLA_SEC = 90 * 86400;

/** The level an escalation moves to: one step up; urgent stays urgent. */
export function escalatedLevel(level: AlertLevel): AlertLevel {
  return level === 'normal' ? 'important' : 'urgent';
}

/** The workspace's service levels, every level present (defaults where none is set). */
export async function loadSlas(em: EntityManager, ws: string): Promise<Record<AlertLevel, AlertSla>> {
  const rows: { level: AlertLevel; acknowledge_within_sec: number; resolve_within_sec: number; root_cause_required: boolean; updated_by: string | null; updated_at: Date }[] = await em.query(
    `SELECT level, acknowledge_within_sec, resolve_within_sec, root_cause_required, updated_by, updated_at FROM kpi_alert_slas WHERE workspace_id = $1`,
    [ws],
  );
  const out = {} as Record<AlertLevel, AlertSla>;
  for (const level of SLA_LEVELS) out[level] = { level, ...DEFAULT_SLAS[level], updatedBy: null, updatedAt: null };
  for (const r of rows) {
    out[r.level] = { level: r.level, acknowledgeWithinSec: r.acknowledge_within_sec, resolveWithinSec: r.resolve_within_sec, rootCauseRequired: r.root_cause_required, updatedBy: r.updated_by, updatedAt: r.updated_at };
  }
  return out;
}

export async function saveSla(em: EntityManager, ws: string, sla: Omit<AlertSla, 'updatedAt'>): Promise<void> {
  await em.query(
    `INSERT INTO kpi_alert_slas (workspace_id, level, acknowledge_within_sec, resolve_within_sec, root_cause_required, updated_by, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (workspace_id, level) DO UPDATE SET acknowledge_within_sec = EXCLUDED.acknowledge_within_sec, resolve_within_sec = EXCLUDED.resolve_within_sec,
       root_cause_required = EXCLUDED.root_cause_required, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at`,
    [ws, sla.level, sla.acknowledgeWithinSec, sla.resolveWithinSec, sla.rootCauseRequired, sla.updatedBy],
  );
}

/** The deadlines of an alert raised (or escalated) at `at` under `sla`. */
export function deadlines(sla: Pick<AlertSla, 'acknowledgeWithinSec' | 'resolveWithinSec'>, at: Date): { acknowledgeDueAt: Date; resolveDueAt: Date } {
  return { acknowledgeDueAt: new Date(at.getTime() + sla.acknowledgeWithinSec * 1000), resolveDueAt: new Date(at.getTime() + sla.resolveWithinSec * 1000) };
}
