export { RecomputeService, RECOMPUTE_PARTS, DEFAULT_RECOMPUTE_CHUNK, isRecomputePart } from './recompute.service';
export type { RecomputePart, RecomputeProgress, RecomputePartReport, RecomputeOptions, RecomputeDeps } from './recompute.service';
