import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { ExperimentService } from './experiment.service';
import { ExperimentEntity } from './experiment.entity';
import { ExperimentResolver } from './experiment.resolver';

export { ExperimentService } from './experiment.service';
export type { Assignment, ExperimentCollaborators } from './experiment.service';
export { assignmentOf, bucketOf, canonicalIdentifierKey, variantForBucket } from './experiment.assignment';
export { EXPERIMENT_VIEWED } from './experiment.definition';
export type { ExperimentDef, VariantDef } from './experiment.definition';
export { ExperimentErrorCode } from './experiment.errors';
export { chiSquareSf, normalCdf, normalSf, twoSidedP } from './experiment.stats';
export type { ExperimentResolverDeps } from './experiment.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const EXPERIMENT_RESOLVERS = [ExperimentResolver] as const;

/** The experiments module: A/B tests and grey releases — definitions, assignment, exposures, results. */
export const EXPERIMENTS_MODULE = {
  name: 'experiments',
  entities: [ExperimentEntity],
  resolvers: () => EXPERIMENT_RESOLVERS,
  projection: (s) => s.experiments.projection,
} satisfies ModuleManifest<readonly Function[], { experiments: ExperimentService }, Projection>;
