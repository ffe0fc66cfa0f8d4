import type { DataSource } from 'typeorm';
import { DueWork, tryLockWorkspaceWrites } from '../../platform/db';
import type { Logger } from '../../platform/logging';
import type { ProjectionPhases } from './projection';

/** Workspaces one pass looks at, most overdue first. */
const WORKSPACES_PER_PASS = 100;

/**
 * Runs what time alone changes, when it changes: every `intervalMs` it takes the people whose
 * scheduled moment has come (`due_work`: a window rule's event leaving its window, a day boundary,
 * an inactivity threshold, a journey deadline) and runs every projection's `due` phase for them —
 * per workspace in one transaction under the workspace's write lock, taken without waiting, so on
 * any number of instances each moment is handled once (a busy workspace is tried again next pass).
 */
export class DueScheduler {
  private readonly due = new DueWork();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly ds: DataSource,
    private readonly phases: ProjectionPhases,
    private readonly log: Logger,
  ) {}

  /** Starts the passes (0 disables). */
  start(intervalMs: number, batch: number): void {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = true;
      this.pass(new Date(), batch)
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'due pass failed'))
        .finally(() => {
          this.running = false;
        });
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass over every workspace with work due by `now`; returns how many people it handled. */
  async pass(now: Date, batch: number): Promise<number> {
    let n = 0;
    for (const ws of await this.due.dueWorkspaces(this.ds.manager, now, WORKSPACES_PER_PASS)) n += await this.runWorkspace(ws, now, batch);
    return n;
  }

  /** The due work of one workspace (at most `batch` people per projection); 0 while another writer holds its lock. */
  async runWorkspace(workspaceId: string, now: Date, batch: number): Promise<number> {
    const r = await this.ds.transaction(async (em) => {
      if (!(await tryLockWorkspaceWrites(em, workspaceId))) return null;
      return this.phases.due(em, workspaceId, now, (projection) => this.due.take(em, workspaceId, projection, now, batch));
    });
    if (!r) return 0;
    for (const f of r.afterCommit) f();
    return r.taken;
  }
}
