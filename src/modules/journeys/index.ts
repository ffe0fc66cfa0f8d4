import { JourneyResolver } from './journey.resolver';

export { JourneyService } from './journey.service';
export type { TriggerConsentCheck, TriggerCandidate, JourneyTriggeredPayload } from './journey.service';

export type { JourneyResolverDeps } from './journey.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const JOURNEY_RESOLVERS = [JourneyResolver] as const;
