export { IngestService } from './ingest.service';
export type { IngestOutcome, EventResult, IngestStatus } from './ingest.service';
export { EventResolver, toIngestResult } from './event.resolver';
export type { EventResolverDeps } from './event.resolver';
export { MAX_EVENTS_PER_BATCH, MAX_EVENT_BYTES, EVENT_TYPES } from './event-validation';
export type { RawEvent } from './event-validation';
export { createSegmentRouter } from './segment.router';
export type { SegmentRouterDeps } from './segment.router';
export { segmentToRawEvent } from './segment.mapping';
