export { WorkspaceService, DEFAULT_TIME_ZONE } from './workspace.service';
export type { BootstrapResult } from './workspace.service';
export { WorkspaceResolver } from './workspace.resolver';
export type { WorkspaceResolverDeps } from './workspace.resolver';
export { Workspace, ApiKey } from './workspace.type';
export { WorkspaceEntity } from './workspace.entity';
export { ApiKeyEntity } from './api-key.entity';
