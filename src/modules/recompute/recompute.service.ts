import type { DataSource, EntityManager } from 'typeorm';
import type { ProjectionPhases, SystemTagWriter } from '../events';
import { RecomputeRepository } from './recompute.repository';

/** A read model `siyu recompute` rebuilds: the name of a projection with a `rebuild` phase. */
export type RecomputePart = string;

export const DEFAULT_RECOMPUTE_CHUNK = 500;

export interface RecomputeProgress {
  part: RecomputePart;
  /** Live profiles rebuilt in this pass of the part (including those done by an interrupted run). */
  done: number;
  total: number;
  /** Profiles an earlier, interrupted run had already done when this run started (0 = fresh). */
  resumedAt: number;
  elapsedMs: number;
}

export interface RecomputePartReport extends RecomputeProgress {
  /** Tag and segment membership changes the rebuild made (published to subscribers). */
  changes: number;
  finished: boolean;
}

export interface RecomputeOptions {
  parts?: readonly RecomputePart[];
  /** Live profiles per transaction; default 500. */
  chunk?: number;
  /** Ignore the saved cursors: start every part from the first profile. */
  restart?: boolean;
  /** Stops between two chunks; the cursor of the last committed chunk is kept for the next run. */
  signal?: AbortSignal;
  onProgress?(p: RecomputeProgress): void;
}

export interface RecomputeDeps {
  ds: DataSource;
  /** The read models, in order: every projection with a `rebuild` phase is a part. */
  phases: ProjectionPhases;
  /** Writes the system tags a part returns (stage, health tier) in the chunk's transaction. */
  systemTags: SystemTagWriter;
}

/**
 * Rebuilds read models from the stored events and profiles: KPI rollups, lifecycle stages, health
 * scores, rule tags and segments. Works through the workspace's live profiles in `seq` order, one
 * chunk per transaction under the workspace's write lock (so ingest waits a chunk, never sees half a
 * rebuild of a person), saving the cursor with each chunk: a stopped run resumes where it stopped.
 */
export class RecomputeService {
  private readonly repo = new RecomputeRepository();

  constructor(private readonly deps: RecomputeDeps) {}

  /** The parts a run rebuilds, in order (tags last: rules may read stage and health tags). */
  get parts(): RecomputePart[] {
    return this.deps.phases.rebuildParts;
  }

  /** Unfinished rebuilds of the workspace (what a run would resume). */
  async pending(ws: string): Promise<{ part: string; profilesDone: number; startedAt: Date; updatedAt: Date }[]> {
    return (await this.repo.states(this.deps.ds.manager, ws)).map((r) => ({ part: r.part, profilesDone: r.profiles_done, startedAt: r.started_at, updatedAt: r.updated_at }));
  }

  async run(ws: string, opts: RecomputeOptions = {}): Promise<{ parts: RecomputePartReport[]; stopped: boolean }> {
    const unknown = opts.parts?.find((p) => !this.parts.includes(p));
    if (unknown !== undefined) throw new RangeError(`unknown read model ${JSON.stringify(unknown)}; choose from ${this.parts.join(', ')}`);
    const parts = this.parts.filter((p) => !opts.parts || opts.parts.includes(p));
    const chunk = opts.chunk ?? DEFAULT_RECOMPUTE_CHUNK;
    const out: RecomputePartReport[] = [];
    for (const part of parts) {
      const r = await this.runPart(ws, part, chunk, opts);
      out.push(r);
      if (!r.finished) return { parts: out, stopped: true };
    }
    return { parts: out, stopped: false };
  }

  private async runPart(ws: string, part: RecomputePart, chunk: number, opts: RecomputeOptions): Promise<RecomputePartReport> {
    const em = this.deps.ds.manager;
    const started = performance.now();
    if (opts.restart) await this.repo.clear(em, ws, part);
    const saved = await this.repo.state(em, ws, part);
    let cursor = saved?.cursor_seq ?? '0';
    const total = await this.repo.countLive(em, ws);
    const resumedAt = saved ? await this.repo.countLiveUpTo(em, ws, cursor) : 0;
    let done = resumedAt;
    let changes = 0;
    const report = (finished: boolean): RecomputePartReport => ({ part, done, total: Math.max(total, done), resumedAt, elapsedMs: performance.now() - started, changes, finished });
    opts.onProgress?.(report(false));
    for (;;) {
      if (opts.signal?.aborted) return report(false);
      const page = await this.repo.liveAfter(em, ws, cursor, chunk);
      if (page.lastSeq === null) break;
      const made = await this.deps.ds.transaction(async (tx) => {
        await this.repo.lock(tx, ws);
        const c = await this.rebuild(tx, ws, part, page.ids);
        await this.repo.save(tx, ws, part, page.lastSeq!, done + page.ids.length);
        return c;
      });
      made.publish();
      changes += made.changes;
      cursor = page.lastSeq;
      done += page.ids.length;
      opts.onProgress?.(report(false));
    }
    const rebuilt = this.deps.phases.rebuilt(part);
    if (rebuilt) {
      await this.deps.ds.transaction(async (tx) => {
        await this.repo.lock(tx, ws);
        await rebuilt(tx, ws);
      });
    }
    await this.repo.clear(em, ws, part);
    return report(true);
  }

  /** One chunk of one part in the chunk's transaction: the projection's rebuild, then the system tags it returned. */
  private async rebuild(em: EntityManager, ws: string, part: RecomputePart, ids: string[]): Promise<{ changes: number; publish: () => void }> {
    const { run } = this.deps.phases.list('rebuild').find((r) => r.name === part)!;
    const out = await run(em, ws, ids, new Date());
    const system = out?.systemTags?.length ? await this.deps.systemTags.writeSystemTags(em, ws, out.systemTags) : { changes: 0, publish: () => {} };
    return {
      changes: (out?.changes ?? 0) + system.changes,
      publish: () => {
        system.publish();
        out?.afterCommit?.();
      },
    };
  }
}
