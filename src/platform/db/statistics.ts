import type { DataSource } from 'typeorm';
import type { Logger } from '../logging';
import { outsideDbBudget } from './budget';

/**
 * The tables a workspace's ingest grows. Their statistics decide how the planner reaches one
 * person's rows (events_profile_ts_idx, identifiers_profile_idx, …).
 */
export const GROWING_TABLES = [
  'events',
  'identifiers',
  'profiles',
  'relations',
  'identity_merges',
  'profile_tags',
  'segment_members',
  'profile_stages',
  'profile_health',
  'kpi_activity',
  'kpi_profiles',
  'kpi_day_people',
  'kpi_day_counts',
  'kpi_hour_counts',
  'kpi_person_days',
  'kpi_person_refs',
  'kpi_inviter_days',
  'kpi_quarter_totals',
  'kpi_day_totals',
  'ingest_counts',
  'kpi_buyers',
  'kpi_funnel_days',
  'kpi_funnel_counts',
  'stage_transitions',
  'due_work',
  'rule_window_days',
  'health_state',
  'membership_changes',
  'journey_states',
  'journey_step_history',
  'points_ledger',
  'profile_membership',
  'level_changes',
] as const;

export interface StatisticsRefreshOptions {
  /** Events a workspace writes (in this process) before the first refresh. */
  first: number;
  /** Each later refresh after `factor ×` as many events. */
  factor: number;
}

export const DEFAULT_STATISTICS_REFRESH: StatisticsRefreshOptions = { first: 1_000, factor: 4 };

/**
 * Keeps the planner's statistics aware of workspaces that grow after the last ANALYZE.
 *
 * Every table is shared by all workspaces and keyed by `workspace_id` first. When the statistics
 * were gathered before a workspace had rows (a new tenant beside a large one, the common case after
 * an import), the planner estimates one row for `workspace_id = <new>`, so every index that starts
 * with `workspace_id` looks equally cheap, and it may reach one person's events through
 * `events_workspace_ts_idx` — scanning the whole workspace for each person of a batch (measured: 1.2 s
 * per health refresh of 300 people at 15,000 events in the workspace, growing with it). Autovacuum
 * re-analyses only after 10% of a table changed, which for a 10 M-row table is a million rows.
 *
 * So ingest reports what each workspace wrote; when a workspace (in this process) passes 1,000
 * events, then 4,000, 16,000, … the `workspace_id` statistics of the growing tables are
 * re-gathered in the background (ANALYZE samples a fixed number of rows, so it costs about the same
 * at any table size), one run at a time, coalesced. PostgreSQL only: the embedded database runs one statement at a time, so ANALYZE there
 * would stall ingest.
 *
 * A process that starts beside a workspace the statistics already know (a brand's month of history,
 * then live ingest) skips the refresh while the statistics hold at least as many of the workspace's
 * events as this process has written: another ANALYZE would not change its plans, and on a 2-core
 * server three runs took 15.8 s of a 45 s live-ingest measurement (1 M events).
 */
export class StatisticsRefresher {
  readonly stats = { runs: 0, failures: 0, skipped: 0 };
  private readonly written = new Map<string, number>();
  /** Workspaces that passed a threshold since the last refresh. */
  private readonly due = new Set<string>();
  private readonly nextAt = new Map<string, number>();
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(
    private readonly analyze: () => Promise<void>,
    private readonly log: Logger,
    private readonly opts: StatisticsRefreshOptions = DEFAULT_STATISTICS_REFRESH,
    /** The events of a workspace the statistics hold (0 when they do not name it); none: always refresh. */
    private readonly known: ((workspaceId: string) => Promise<number>) | null = null,
  ) {}

  static forDataSource(ds: DataSource, log: Logger, opts?: StatisticsRefreshOptions): StatisticsRefresher {
    return new StatisticsRefresher(
      async () => {
        // Every column, not only the tenant key: with statistics for `workspace_id` alone, the other
        // columns fall back to default selectivities, and `message_id = ANY(500 ids)` was estimated to
        // match the whole workspace, so the duplicate check of each batch became a sequential scan
        // of the events (measured at 200,000 events). ANALYZE samples a fixed number of rows.
        await ds.query(`ANALYZE ${GROWING_TABLES.join(', ')}`);
      },
      log,
      opts,
      (ws) => knownEvents(ds, ws),
    );
  }

  /** Ingest committed `events` new events for `workspaceId`. */
  noteWritten(workspaceId: string, events: number): void {
    if (events <= 0 || this.closed) return;
    const total = (this.written.get(workspaceId) ?? 0) + events;
    this.written.set(workspaceId, total);
    let next = this.nextAt.get(workspaceId) ?? this.opts.first;
    if (total < next) return;
    // Always grows (a factor ≤ 1 would loop forever).
    while (next <= total) next = Math.max(next + 1, next * this.opts.factor);
    this.nextAt.set(workspaceId, next);
    this.due.add(workspaceId);
    this.schedule();
  }

  private schedule(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const t0 = performance.now();
        try {
          // Not part of the ingest request that crossed the threshold (nor of its budget).
          if (await outsideDbBudget(() => this.needed())) {
            await outsideDbBudget(() => this.analyze());
            this.stats.runs++;
            this.log.debug({ ms: Math.round(performance.now() - t0) }, 'planner statistics refreshed');
          } else {
            this.stats.skipped++;
          }
        } catch (err) {
          this.stats.failures++;
          if (!this.closed) this.log.warn({ err }, 'refreshing planner statistics failed');
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = null;
    });
  }

  /** Whether a workspace that passed a threshold has written more events than the statistics hold for it. */
  private async needed(): Promise<boolean> {
    const due = [...this.due];
    this.due.clear();
    if (!this.known) return true;
    for (const ws of due) if ((await this.known(ws)) < (this.written.get(ws) ?? 0)) return true;
    return false;
  }

  /** Resolves when no refresh is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** No new refreshes; waits for a running one. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }
}

/**
 * The events of a workspace the planner's statistics hold: its share among the most common
 * `events.workspace_id` values times the table's rows, or 0 when the statistics do not name it.
 */
async function knownEvents(ds: DataSource, workspaceId: string): Promise<number> {
  const rows: { n: number | null }[] = await ds.query(
    `SELECT (s.most_common_freqs[array_position(s.most_common_vals::text::uuid[], $1::uuid)] * c.reltuples)::float8 AS n
     FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename AND c.relnamespace = to_regnamespace(s.schemaname)
     WHERE s.schemaname = current_schema() AND s.tablename = 'events' AND s.attname = 'workspace_id'`,
    [workspaceId],
  );
  return rows[0]?.n ?? 0;
}
