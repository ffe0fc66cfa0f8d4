import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import { AppError } from '../../platform/errors';
import type { RequestContext } from '../../platform/graphql/context';
import { actorOf, type AuditService } from '../compliance';
import { toMerge, toProfile, UnmergeResult, type ProfileService } from '../profiles';
import type { TagService } from '../tags';
import { IDENTIFIER_TYPES, type IdentifierType } from './identifier-type';
import type { IdentityRules } from './identity-rules';
import type { IdentityService } from './identity.service';
import { IdentifierRuleType, IdentityRulesInput, IdentityRulesType } from './identity.type';

/** The services the identity resolver uses; the app's services object provides them. */
export interface IdentityResolverDeps {
  readonly identities: IdentityService;
  readonly profiles: ProfileService;
  readonly tags: TagService;
  readonly audit: AuditService;
}

function toRulesType(r: IdentityRules): IdentityRulesType {
  return Object.assign(new IdentityRulesType(), {
    types: [...r.doc.types]
      .sort((a, b) => a.priority - b.priority)
      .map((t) =>
        Object.assign(new IdentifierRuleType(), {
          ...t,
          namespaced: IDENTIFIER_TYPES[t.type].namespaced,
          description: IDENTIFIER_TYPES[t.type].description,
        }),
      ),
    blockedValues: r.doc.blockedValues,
    blockedPatterns: r.doc.blockedPatterns,
  });
}

const uuid = (id: string, field: string) => {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw AppError.badInput('INVALID_ID', field, `${field} must be a UUID`);
};

@Resolver()
export class IdentityResolver {
  constructor(private readonly services: IdentityResolverDeps) {}

  @Authorized(Role.ADMIN)
  @Query(() => IdentityRulesType, { description: "The workspace's identity rules (defaults until changed). ADMIN." })
  async identityRules(@Ctx() ctx: RequestContext): Promise<IdentityRulesType> {
    return toRulesType(await this.services.identities.rules(requireAuth(ctx).workspaceId));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => IdentityRulesType, { description: 'Replace the identity rules. Applies to events ingested from now on; past merges stay. ADMIN.' })
  async updateIdentityRules(
    @Arg('input', () => IdentityRulesInput, { description: 'The complete rule set.' }) input: IdentityRulesInput,
    @Ctx() ctx: RequestContext,
  ): Promise<IdentityRulesType> {
    const rules = await this.services.identities.updateRules(actorOf(ctx), {
      types: input.types.map((t) => ({ type: t.type as IdentifierType, priority: t.priority, maxPerProfile: t.maxPerProfile })),
      blockedValues: input.blockedValues,
      blockedPatterns: input.blockedPatterns,
    });
    return toRulesType(rules);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => UnmergeResult, {
    description:
      'Undo a merge: the merged profile gets back its identifiers and earlier events; the merging event and later ones go to the holder of their highest-priority identifier; the two are kept apart from then on (see `clearMergeExclusion`). ADMIN.',
  })
  async unmergeProfiles(@Arg('mergeId', () => ID, { description: 'Id from `Profile.mergeHistory`.' }) mergeId: string, @Ctx() ctx: RequestContext): Promise<UnmergeResult> {
    uuid(mergeId, 'mergeId');
    const ws = requireAuth(ctx).workspaceId;
    const r = await this.services.identities.unmerge(ws, mergeId);
    const [survivor, restored] = await Promise.all([this.services.profiles.get(ws, r.survivorId), this.services.profiles.get(ws, r.restoredId)]);
    return Object.assign(new UnmergeResult(), { merge: toMerge(r.merge), survivor: toProfile(survivor), restored: toProfile(restored) });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Boolean, { description: 'Allow two unmerged profiles to be merged automatically again. ADMIN.' })
  async clearMergeExclusion(@Arg('mergeId', () => ID, { description: 'The merge that was undone.' }) mergeId: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    uuid(mergeId, 'mergeId');
    await this.services.identities.clearExclusion(requireAuth(ctx).workspaceId, mergeId);
    return true;
  }
}
