import type { ModuleManifest } from '../../platform/module';
import { WorkspaceResolver } from './workspace.resolver';
import { WorkspaceEntity } from './workspace.entity';
import { ApiKeyEntity } from './api-key.entity';
export { WorkspaceService, DEFAULT_TIME_ZONE } from './workspace.service';
export { localeOf, DEFAULT_LOCALE, type WorkspaceLocaleKey } from './workspace.settings';
export type { BootstrapResult } from './workspace.service';
export { WorkspaceResolver } from './workspace.resolver';
export type { WorkspaceResolverDeps } from './workspace.resolver';
export { Workspace, ApiKey } from './workspace.type';
export { WorkspaceEntity } from './workspace.entity';
export { ApiKeyEntity } from './api-key.entity';

/** The workspaces module: workspaces, API keys, settings. */
export const WORKSPACES_MODULE = {
  name: 'workspaces',
  entities: [WorkspaceEntity, ApiKeyEntity],
  resolvers: () => [WorkspaceResolver] as const,
} satisfies ModuleManifest;
