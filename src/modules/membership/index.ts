import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { MembershipService } from './membership.service';
import { MembershipResolver, MembershipRulesResolver, ProfileMembershipResolver } from './membership.resolver';

export { MembershipService } from './membership.service';
export type { CurrentRules, Membership } from './membership.service';
export { DEFAULT_LEVEL_RULES, POINTS_EARNED, POINTS_REDEEMED } from './membership.rules';
export type { LevelRules, LevelRule } from './membership.rules';
export type { MembershipResolverDeps } from './membership.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const MEMBERSHIP_RESOLVERS = [MembershipRulesResolver, MembershipResolver, ProfileMembershipResolver] as const;

/** The membership module: points ledger, balances and levels (积分-等级). */
export const MEMBERSHIP_MODULE = {
  name: 'membership',
  resolvers: () => MEMBERSHIP_RESOLVERS,
  projection: (s) => s.membership.projection,
} satisfies ModuleManifest<readonly Function[], { membership: MembershipService }, Projection>;
