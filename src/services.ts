import type { DataSource } from 'typeorm';
import type { Logger } from './platform/logging';
import type { SiyuPubSub } from './platform/pubsub';
import { WorkspaceService } from './modules/workspaces';

/** The module services of one app instance; resolvers receive this through the container. */
export interface AppServices {
  readonly workspaces: WorkspaceService;
}

export function createServices(ds: DataSource, pubSub: SiyuPubSub, log: Logger): AppServices {
  return {
    workspaces: new WorkspaceService(ds, pubSub, log),
  };
}
