import type { EntityManager } from 'typeorm';
import type { Rejection } from '../../platform/errors';
import type { ProfileAggregate } from '../profiles';

/** One committed-to-be event of a batch, as read models after identity resolution see it. */
export interface BatchEvent {
  messageId: string;
  type: string;
  name: string | null;
  channel: string;
  ts: Date;
  /** The live profile the event belongs to after this batch's merges. */
  profileId: string;
  properties: Record<string, unknown> | null;
  /** `Order Completed`: the validated order value (cents-rounded); otherwise null. */
  revenue: number | null;
  traits: Record<string, unknown> | null;
  context: Record<string, unknown> | null;
  /** Manual tags the event asks to add (`traits.tags`, checked against the workspace's tags by the tags projection's screen). */
  tags: string[];
}

/**
 * The system tags of one group a projection decided for some people (`stage:<key>`, `health:<tier>`):
 * every listed person gets exactly these tags of the group. Returned as data; the tags projection
 * writes them (in a batch or an unmerge refresh) or the phase runner does (rebuild, sweep).
 */
export interface SystemTagUpdate {
  group: string;
  rows: { profileId: string; key: string; name: string }[];
  cause: string;
}

/** What a projection's phase returns: system tags to write, and an effect to run after commit. */
export interface ProjectionOutput {
  systemTags?: SystemTagUpdate[];
  afterCommit?: () => void;
  /** How many tag and segment memberships it changed (reported by `siyu recompute`). */
  changes?: number;
}

/** The state of one batch that projections see in `apply`, inside the batch's transaction. */
export interface BatchContext {
  em: EntityManager;
  workspaceId: string;
  /** Accepted events of the batch, in batch order. */
  events: BatchEvent[];
  /** Live profiles the batch touched (after merges), aggregates already updated. */
  profiles: ProfileAggregate[];
  /** Existing profiles merged away in this batch, and where they went. */
  merged: { mergedId: string; survivorId: string }[];
  now: Date;
  /** System tags returned by the projections that ran before (consumed by the tags projection). */
  systemTags: SystemTagUpdate[];
}

/** People to re-derive in the caller's transaction (after an unmerge), with the system tags of earlier projections. */
export interface RefreshContext {
  em: EntityManager;
  workspaceId: string;
  profileIds: string[];
  now: Date;
  cause: string;
  systemTags: SystemTagUpdate[];
}

export interface ScreenContext {
  em: EntityManager;
  workspaceId: string;
  /** Events about to be resolved: their identifier keys, the keys of related people, their manual tags. */
  events: { index: number; identifierKeys: string[]; relatedKeys: string[]; tags: string[] }[];
}

export interface ScreenResult {
  rejected: Map<number, Rejection>;
  /** Identifier keys never to resolve as the other person of a relation (the relation is dropped). */
  blockedRelatedKeys?: Set<string>;
}

/** A phase a projection has nothing to do in, with the reason (so that leaving a phase out is a decision, written down). */
export interface Skip {
  readonly skip: string;
}

export type Phase<T> = T | Skip;

export const isSkip = <T>(p: Phase<T>): p is Skip => typeof p === 'object' && p !== null && 'skip' in p;

/** A part of the single-statement profile read (`ProfilePrefetchPart` of the profiles module). */
export type PrefetchParts = readonly import('../profiles').ProfilePrefetchPart[];

/**
 * A read model kept current from ingest: one object per module with every phase of its life.
 *
 * - `apply`: the batch, in the batch's transaction, after identity resolution, events and profile
 *   aggregates are written; in the order the manifests' `after` declarations give.
 * - `refresh`: re-derive some live people in the caller's transaction (after an unmerge).
 * - `rebuild`: re-derive a chunk of live people (`siyu recompute`, resumable by chunk).
 * - `sweep`: one bounded step of time-based work for a workspace, in a transaction of its own.
 * - `due`: the people whose scheduled moment has come (`due_work`): what time alone changed for
 *   them, in the due scheduler's transaction (within about a second of the moment).
 * - `prefetch`: its fields' parts of the single-statement profile read.
 *
 * Every phase is required: a projection without work in one says `{ skip: 'why' }`.
 */
export interface Projection {
  readonly name: string;
  /** Projections whose `apply` (and `refresh`) must run before this one's. */
  readonly after: readonly string[];
  /** Optional per-event payload check before the transaction (no database). */
  readonly validate?: (event: Pick<BatchEvent, 'type' | 'name' | 'channel' | 'traits' | 'properties' | 'context'>) => Rejection | null;
  /** Optional screen in the transaction, after the ingest lock, before identity resolution. */
  readonly screen?: (ctx: ScreenContext) => Promise<ScreenResult>;
  readonly apply: (batch: BatchContext) => Promise<ProjectionOutput | void>;
  readonly refresh: Phase<(ctx: RefreshContext) => Promise<ProjectionOutput | void>>;
  readonly rebuild: Phase<(em: EntityManager, workspaceId: string, profileIds: string[], now: Date) => Promise<ProjectionOutput | void>>;
  /** Optional: runs once, under the workspace's write lock, when a `siyu recompute` pass of this part has rebuilt every live person. */
  readonly rebuilt?: (em: EntityManager, workspaceId: string) => Promise<void>;
  readonly sweep: Phase<(workspaceId: string, now: Date, maxProfiles: number) => Promise<number>>;
  /** `profileIds`: this projection's people whose moment has come (taken from `due_work`). */
  readonly due: Phase<(ctx: RefreshContext) => Promise<ProjectionOutput | void>>;
  readonly prefetch: Phase<PrefetchParts>;
}

/** The phases every projection must declare (implemented or skipped with a reason). */
export const PROJECTION_PHASES = ['apply', 'refresh', 'rebuild', 'sweep', 'due', 'prefetch'] as const;
export type ProjectionPhase = (typeof PROJECTION_PHASES)[number];

/**
 * Orders projections so that each runs after those it names in `after` (stable: otherwise in the
 * given order). Throws on an unknown name, a duplicate or a cycle.
 */
export function orderProjections(all: readonly Projection[]): Projection[] {
  const byName = new Map<string, Projection>();
  for (const p of all) {
    if (byName.has(p.name)) throw new TypeError(`projection ${p.name} is declared twice`);
    byName.set(p.name, p);
  }
  for (const p of all) {
    for (const a of p.after) if (!byName.has(a)) throw new TypeError(`projection ${p.name} runs after ${a}, which no module declares`);
  }
  const out: Projection[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: Projection, path: string[]) => {
    const s = state.get(p.name);
    if (s === 'done') return;
    if (s === 'visiting') throw new TypeError(`projections run after each other in a cycle: ${[...path, p.name].join(' → ')}`);
    state.set(p.name, 'visiting');
    for (const a of p.after) visit(byName.get(a)!, [...path, p.name]);
    state.set(p.name, 'done');
    out.push(p);
  };
  for (const p of all) visit(p, []);
  return out;
}

/** Writes system tags (the tags module) where no tags projection runs in the same chain: rebuilds and sweeps. */
export interface SystemTagWriter {
  /** Writes them in the caller's transaction; `publish` tells subscribers after commit. */
  writeSystemTags(em: EntityManager, workspaceId: string, updates: SystemTagUpdate[]): Promise<{ changes: number; publish: () => void }>;
}

type Impl<K extends ProjectionPhase> = Exclude<Projection[K], Skip>;

/**
 * Every phase list of the app, derived once from the ordered projections. Nothing else lists read
 * models: ingest, unmerge, `siyu recompute`, the sweeper and the profile read all take their lists
 * from here.
 */
export class ProjectionPhases {
  readonly ordered: readonly Projection[];

  constructor(projections: readonly Projection[]) {
    this.ordered = orderProjections(projections);
    for (const p of this.ordered) {
      for (const phase of PROJECTION_PHASES) {
        const v = p[phase] as unknown;
        if (v === undefined || v === null) throw new TypeError(`projection ${p.name} declares nothing for phase ${phase}: implement it or skip it with a reason`);
        if (isSkip(v as Phase<unknown>) && !(v as Skip).skip.trim()) throw new TypeError(`projection ${p.name} skips ${phase} without a reason`);
      }
    }
  }

  /** The projections that implement a phase, in order, with their implementation. */
  list<K extends ProjectionPhase>(phase: K): { name: string; run: Impl<K> }[] {
    return this.ordered.flatMap((p) => {
      const v = p[phase];
      return isSkip(v as Phase<unknown>) ? [] : [{ name: p.name, run: v as Impl<K> }];
    });
  }

  /** Names of the projections `siyu recompute` rebuilds, in order. */
  get rebuildParts(): string[] {
    return this.list('rebuild').map((r) => r.name);
  }

  /** The end-of-pass step of a rebuild part, if it has one. */
  rebuilt(part: string): ((em: EntityManager, workspaceId: string) => Promise<void>) | undefined {
    return this.ordered.find((p) => p.name === part)?.rebuilt;
  }

  /** The single-statement profile read's parts of every projection. */
  get prefetchParts(): PrefetchParts {
    return this.list('prefetch').flatMap((r) => r.run);
  }

  validators() {
    return this.ordered.flatMap((p) => (p.validate ? [p.validate] : []));
  }

  screens() {
    return this.ordered.flatMap((p) => (p.screen ? [p.screen] : []));
  }

  /**
   * Runs `apply` of every projection in order, in the batch's transaction. System tags returned by
   * one are handed to the later ones (the tags projection writes them); one left unwritten at the
   * end is a wiring error, not silently dropped.
   */
  async apply(batch: Omit<BatchContext, 'systemTags'>): Promise<(() => void)[]> {
    const systemTags: SystemTagUpdate[] = [];
    return chain(this.list('apply'), systemTags, async ({ run }) => run({ ...batch, systemTags }));
  }

  /** Runs `refresh` of every projection in order for some live people (after an unmerge), in the caller's transaction. */
  async refresh(em: EntityManager, workspaceId: string, profileIds: string[], cause: string, now = new Date()): Promise<(() => void)[]> {
    const systemTags: SystemTagUpdate[] = [];
    return chain(this.list('refresh'), systemTags, async ({ run }) => run({ em, workspaceId, profileIds, now, cause, systemTags }));
  }

  /**
   * Runs `due` of every projection in order, each with its own people whose moment has come
   * (`take` fetches them), in the caller's transaction. Returns how many it took and the effects.
   */
  async due(em: EntityManager, workspaceId: string, now: Date, take: (projection: string) => Promise<string[]>): Promise<{ taken: number; afterCommit: (() => void)[] }> {
    const systemTags: SystemTagUpdate[] = [];
    let taken = 0;
    const afterCommit = await chain(this.list('due'), systemTags, async ({ name, run }) => {
      const profileIds = await take(name);
      taken += profileIds.length;
      return run({ em, workspaceId, profileIds, now, cause: 'due', systemTags });
    });
    return { taken, afterCommit };
  }
}

/**
 * Runs one phase of projections in order: the system tags each returns are appended to the shared
 * list (which a later projection — tags — consumes), the after-commit effects are collected in order;
 * system tags left unwritten at the end are a wiring error, not silently dropped.
 */
async function chain<T>(steps: T[], systemTags: SystemTagUpdate[], run: (step: T) => Promise<ProjectionOutput | void>): Promise<(() => void)[]> {
  const after: (() => void)[] = [];
  for (const step of steps) {
    const out = await run(step);
    if (out?.systemTags) systemTags.push(...out.systemTags);
    if (out?.afterCommit) after.push(out.afterCommit);
  }
  if (systemTags.length) throw new TypeError('system tags were returned but no later projection wrote them');
  return after;
}
