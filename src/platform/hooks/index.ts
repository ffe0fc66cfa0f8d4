import type { EntityManager } from 'typeorm';

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
}

/** A profile the batch touched, with its read model after the batch. */
export interface BatchProfile {
  id: string;
  totalSpend: number;
  orderCount: number;
  eventCount: number;
  firstSeenAt: Date | null;
  lastSeenAt: Date | null;
  lastOrderAt: Date | null;
  channels: string[];
  traits: Record<string, { value: unknown; channel?: string; at?: string }>;
}

export interface BatchContext {
  em: EntityManager;
  workspaceId: string;
  /** Accepted events of the batch, in batch order. */
  events: BatchEvent[];
  /** Live profiles the batch touched (after merges), read models already updated. */
  profiles: BatchProfile[];
  /** Existing profiles merged away in this batch, and where they went. */
  merged: { mergedId: string; survivorId: string }[];
  now: Date;
}

/**
 * A read model kept current on ingest (stages, journeys, health, …). `afterBatch` runs inside the
 * batch's transaction, after identity resolution, events and profile aggregates are written and
 * before tags and segments are evaluated (so it may set system tags they use). It returns what to
 * do after commit (publish), or nothing.
 */
export interface IngestHook {
  readonly name: string;
  afterBatch(ctx: BatchContext): Promise<(() => void) | void>;
  /**
   * Optional per-event check after ingest validation (no database): a rejection turns that one
   * event into REJECTED with the field path, like any other validation error.
   */
  validate?(event: Pick<BatchEvent, 'type' | 'name' | 'traits' | 'properties'>): EventRejection | null;
  /**
   * Optional screen inside the batch's transaction (after the ingest lock, before identity
   * resolution): rejects events (e.g. carrying an erased person's identifiers) and names the
   * identifier keys that must not be linked as the other end of a relation.
   */
  screen?(ctx: ScreenContext): Promise<ScreenResult>;
}

/** A per-event rejection: typed reason, field path, message. */
export interface EventRejection {
  reason: string;
  field: string;
  message: string;
}

export interface ScreenContext {
  em: EntityManager;
  workspaceId: string;
  /** Events about to be resolved: their identifier keys and the keys of related people. */
  events: { index: number; identifierKeys: string[]; relatedKeys: string[] }[];
}

export interface ScreenResult {
  rejected: Map<number, EventRejection>;
  /** Identifier keys never to resolve as the other person of a relation (the relation is dropped). */
  blockedRelatedKeys: Set<string>;
}

/**
 * One bounded step of a module's time-based work for one workspace (windows expiring, decay,
 * silence). Runs from the scheduler in its own transaction; returns how many profiles it handled.
 */
export interface SweepTask {
  readonly name: string;
  step(workspaceId: string, now: Date, maxProfiles: number): Promise<number>;
}
