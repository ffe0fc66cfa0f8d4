import type { ModuleManifest } from '../../platform/module';
import { DestinationEntity } from './destination.entity';
import { DestinationResolver } from './destination.resolver';

export { DestinationService } from './destination.service';
export type { DestinationCollaborators, DestinationMetrics, DeliveryOptions } from './destination.service';
export { DestinationErrorCode } from './destination.errors';
export { backoffMs, dingtalkSign, feishuSign, render, webhookSignature } from './destination.formats';
export { isPrivateAddress } from './destination.network';
export type { DestinationResolverDeps } from './destination.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const DESTINATION_RESOLVERS = [DestinationResolver] as const;

/** The destinations module: outbound webhooks and WeCom/DingTalk/Feishu robots, fed by a durable outbox. */
export const DESTINATIONS_MODULE = {
  name: 'destinations',
  entities: [DestinationEntity],
  resolvers: () => DESTINATION_RESOLVERS,
} satisfies ModuleManifest<readonly Function[], never, never>;
