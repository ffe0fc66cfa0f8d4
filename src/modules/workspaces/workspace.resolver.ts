import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import { AppError } from '../../platform/errors';
import type { RequestContext } from '../../platform/graphql/context';
import { Topics } from '../../platform/pubsub';
import { actorOf, type AuditService } from '../compliance';
import { CreateApiKeyInput, CreateWorkspaceInput, UpdateWorkspaceInput } from './workspace.inputs';
import { ApiKey, CreatedApiKey, CreatedWorkspace, Me, Workspace, toApiKey, toWorkspace } from './workspace.type';
import type { WorkspaceService } from './workspace.service';

/** The services the workspace resolver uses; the app's services object provides them. */
export interface WorkspaceResolverDeps {
  readonly workspaces: WorkspaceService;
  readonly audit: AuditService;
}

@Resolver()
export class WorkspaceResolver {
  constructor(private readonly services: WorkspaceResolverDeps) {}

  @Authorized()
  @Query(() => Me, { description: 'The caller: workspace and role of the API key used. Any role.' })
  async me(@Ctx() ctx: RequestContext): Promise<Me> {
    const auth = requireAuth(ctx);
    const ws = await this.services.workspaces.getWorkspace(auth.workspaceId);
    return Object.assign(new Me(), {
      workspace: toWorkspace(ws),
      role: auth.role,
      apiKeyId: auth.apiKeyId,
      pii: auth.pii,
    });
  }

  @Authorized()
  @Query(() => Workspace, { description: "The caller's workspace and its settings. Any role." })
  async workspace(@Ctx() ctx: RequestContext): Promise<Workspace> {
    return toWorkspace(await this.services.workspaces.getWorkspace(requireAuth(ctx).workspaceId));
  }

  @Authorized(Role.ADMIN)
  @Query(() => [ApiKey], { description: "The workspace's API keys, active and revoked (never the secrets). ADMIN." })
  async apiKeys(@Ctx() ctx: RequestContext): Promise<ApiKey[]> {
    return (await this.services.workspaces.listApiKeys(requireAuth(ctx).workspaceId)).map(toApiKey);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => CreatedWorkspace, {
    description:
      'Create another workspace (tenant) with its first ADMIN key. The caller gains no access to it: use the returned key. ADMIN.',
  })
  async createWorkspace(@Arg('input', { description: 'Name and time zone.' }) input: CreateWorkspaceInput): Promise<CreatedWorkspace> {
    const { workspace, apiKey, key } = await this.services.workspaces.createWorkspace(input.name, input.timeZone);
    return Object.assign(new CreatedWorkspace(), {
      workspace: toWorkspace(workspace),
      adminKey: Object.assign(new CreatedApiKey(), { apiKey: toApiKey(apiKey), key }),
    });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Workspace, { description: "Change the caller's workspace settings. ADMIN." })
  async updateWorkspace(
    @Arg('input', { description: 'Fields to change.' }) input: UpdateWorkspaceInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Workspace> {
    return toWorkspace(await this.services.workspaces.updateWorkspace(requireAuth(ctx).workspaceId, input));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => CreatedApiKey, { description: 'Create an API key for the caller\'s workspace. The secret is returned once. ADMIN.' })
  async createApiKey(
    @Arg('input', { description: 'Role, label and PII flag.' }) input: CreateApiKeyInput,
    @Ctx() ctx: RequestContext,
  ): Promise<CreatedApiKey> {
    const { apiKey, key } = await this.services.workspaces.createApiKey(actorOf(ctx), input);
    return Object.assign(new CreatedApiKey(), { apiKey: toApiKey(apiKey), key });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ApiKey, {
    description: 'Revoke an API key at once on this instance (within 5 s on others). The last active ADMIN key cannot be revoked. ADMIN.',
  })
  async revokeApiKey(@Arg('id', () => ID, { description: 'Key id.' }) id: string, @Ctx() ctx: RequestContext): Promise<ApiKey> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw AppError.badInput('INVALID_ID', 'id', 'id must be a UUID');
    const k = await this.services.workspaces.revokeApiKey(actorOf(ctx), id);
    return toApiKey(k);
  }

  @Authorized()
  @Subscription(() => Workspace, {
    description: "Pushes the caller's workspace each time its settings change (any instance). Any role.",
    topics: ({ context }) => Topics.workspaceUpdated(requireAuth(context as RequestContext).workspaceId),
  })
  async workspaceUpdated(@Root() payload: { workspaceId: string }): Promise<Workspace> {
    return toWorkspace(await this.services.workspaces.getWorkspace(payload.workspaceId));
  }
}
