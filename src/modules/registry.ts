import { ApiKeyEntity, WorkspaceEntity, WorkspaceResolver } from './workspaces';

/** Every module's TypeORM entities and GraphQL resolvers; a new module adds itself here. */
export const ENTITIES = [WorkspaceEntity, ApiKeyEntity];
export const RESOLVERS = [WorkspaceResolver] as const;
