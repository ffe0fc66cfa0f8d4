import type { EntityManager } from 'typeorm';
import type { Rejection } from '../../platform/errors';
import type { Projection, SystemTagUpdate, SystemTagWriter } from '../events';
import type { MembershipChange } from './tag.repository';
import type { TagService } from './tag.service';
import { TAG_PROFILE_PREFETCH } from './tag.prefetch';

/**
 * Tags and segments as a read model. Runs after the projections that decide system tags (stages,
 * health) and after experiments (whose exposures `variant()` reads): in a batch it moves merged-away people's tags to their survivors, writes the system
 * tags those projections returned, adds the events' manual tags, then evaluates rule tags and
 * segments of the touched people — all in the batch's transaction; membership changes are
 * published after commit.
 */
export function tagProjection(tags: TagService, after: readonly string[]): Projection {
  const publishing = (ws: string, changes: MembershipChange[]) => (changes.length ? { changes: changes.length, afterCommit: () => tags.publish(ws, changes) } : {});
  const writeSystem = async (em: EntityManager, ws: string, pending: SystemTagUpdate[]): Promise<MembershipChange[]> => {
    const out: MembershipChange[] = [];
    // Consumed here: the phase runner checks that none is left unwritten.
    for (const u of pending.splice(0)) out.push(...(await tags.replaceSystemTags(em, ws, u.group, u.rows, u.cause)));
    return out;
  };
  return {
    name: 'tags',
    after,
    // Manual tags an event asks for must exist as manual tags of the workspace.
    screen: async ({ em, workspaceId, events }) => {
      const keys = [...new Set(events.flatMap((e) => e.tags))];
      const manual = keys.length ? await tags.manualTagKeys(em, workspaceId, keys) : new Set<string>();
      const rejected = new Map<number, Rejection>();
      for (const e of events) {
        const i = e.tags.findIndex((k) => !manual.has(k));
        if (i >= 0) rejected.set(e.index, { reason: 'UNKNOWN_TAG', field: `traits.tags.${i}`, message: `${JSON.stringify(e.tags[i])} is not a manual tag of this workspace` });
      }
      return { rejected };
    },
    apply: async (b) => {
      const { em, workspaceId: ws } = b;
      await tags.moveTagsOnMerge(em, ws, b.merged.map((m) => m.mergedId), b.merged.map((m) => m.survivorId));
      const changes = await writeSystem(em, ws, b.systemTags);
      changes.push(...(await tags.addTagsInTransaction(em, ws, b.events.flatMap((e) => e.tags.map((key) => ({ profileId: e.profileId, key, source: 'ingest', cause: `event:${e.messageId}` }))))));
      const cause = new Map<string, string>();
      for (const e of b.events) cause.set(e.profileId, `event:${e.messageId}`);
      changes.push(...(await tags.evaluateTouched(em, ws, b.profiles, (id) => cause.get(id) ?? 'ingest', b.now, { events: b.events, merged: b.merged })));
      return publishing(ws, changes);
    },
    refresh: async (r) => {
      const changes = await writeSystem(r.em, r.workspaceId, r.systemTags);
      changes.push(...(await tags.reevaluate(r.em, r.workspaceId, r.profileIds, () => r.cause, r.now, true)));
      return publishing(r.workspaceId, changes);
    },
    rebuild: async (em, ws, ids, now) => publishing(ws, await tags.reevaluate(em, ws, ids, () => 'recompute', now, true)),
    sweep: async (ws, now, max) => (await tags.sweepStep(ws, max, now)).changes,
    // People whose time-dependent rules' moment has come, and people whose system tags changed.
    due: async (r) => {
      const ids = [...new Set([...r.profileIds, ...r.systemTags.flatMap((u) => u.rows.map((x) => x.profileId))])];
      const changes = await writeSystem(r.em, r.workspaceId, r.systemTags);
      changes.push(...(await tags.reevaluate(r.em, r.workspaceId, ids, () => 'due', r.now)));
      return publishing(r.workspaceId, changes);
    },
    prefetch: TAG_PROFILE_PREFETCH,
  };
}

/** System tags written outside a batch (rebuilds, sweeps, model changes), in the caller's transaction. */
export function systemTagWriter(tags: TagService): SystemTagWriter {
  return {
    async writeSystemTags(em, ws, updates) {
      const changes: MembershipChange[] = [];
      for (const u of updates) changes.push(...(await tags.replaceSystemTags(em, ws, u.group, u.rows, u.cause)));
      return { changes: changes.length, publish: () => tags.publish(ws, changes) };
    },
  };
}
