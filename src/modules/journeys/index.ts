import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { JourneyService } from './journey.service';
import { JourneyResolver } from './journey.resolver';

export { JourneyService } from './journey.service';
export type { TriggerConsentCheck, TriggerCandidate, JourneyTriggeredPayload } from './journey.service';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const JOURNEY_RESOLVERS: Function[] = [JourneyResolver];

/** The journeys module: journeys. */
export const JOURNEYS_MODULE: ModuleManifest<{ journeys: JourneyService }, Projection> = {
  name: 'journeys',
  // A getter: resolver classes are read when the schema is built, after every module has loaded.
  get resolvers() {
    return JOURNEY_RESOLVERS;
  },
  projection: (s) => s.journeys.projection,
};
