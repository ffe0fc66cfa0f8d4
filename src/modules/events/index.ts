import type { ModuleManifest } from '../../platform/module';
import { EventResolver } from './event.resolver';
export { IngestService } from './ingest.service';
export type { IngestOutcome, EventResult, IngestStatus } from './ingest.service';
export { EventResolver, toIngestResult } from './event.resolver';
export type { EventResolverDeps } from './event.resolver';
export { MAX_EVENTS_PER_BATCH, MAX_EVENT_BYTES, EVENT_TYPES } from './event-validation';
export type { RawEvent } from './event-validation';
export { createSegmentRouter } from './segment.router';
export type { SegmentRouterDeps } from './segment.router';
export { segmentToRawEvent } from './segment.mapping';
export { ProjectionPhases, orderProjections, isSkip, PROJECTION_PHASES } from './projection';
export { DueScheduler } from './due-scheduler';
export type { Projection, ProjectionPhase, ProjectionOutput, BatchContext, BatchEvent, RefreshContext, ScreenContext, ScreenResult, SystemTagUpdate, SystemTagWriter, Skip, Phase } from './projection';
export type { IngestPreparation } from './ingest.service';

/** The events module: ingest (GraphQL and the Segment-compatible `/v1`) and the projection contract. */
export const EVENTS_MODULE = {
  name: 'events',
  resolvers: () => [EventResolver] as const,
} satisfies ModuleManifest;
