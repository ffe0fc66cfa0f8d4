import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { JourneyService } from './journey.service';
import { JourneyResolver } from './journey.resolver';

export { JourneyService } from './journey.service';
export type { TriggerConsentCheck, TriggerCandidate, JourneyTriggeredPayload } from './journey.service';

export type { JourneyResolverDeps } from './journey.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const JOURNEY_RESOLVERS = [JourneyResolver] as const;

/** The journeys module: journeys. */
export const JOURNEYS_MODULE = {
  name: 'journeys',
  resolvers: () => JOURNEY_RESOLVERS,
  projection: (s) => s.journeys.projection,
} satisfies ModuleManifest<readonly Function[], { journeys: JourneyService }, Projection>;
