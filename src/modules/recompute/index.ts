import type { ModuleManifest } from '../../platform/module';
export { RecomputeService, DEFAULT_RECOMPUTE_CHUNK } from './recompute.service';
export type { RecomputePart, RecomputeProgress, RecomputePartReport, RecomputeOptions, RecomputeDeps } from './recompute.service';

/** The recompute module: `siyu recompute`, every projection's rebuild phase run chunk by chunk, resumable. */
export const RECOMPUTE_MODULE = {
  name: 'recompute',
  resolvers: () => [] as const,
} satisfies ModuleManifest;
