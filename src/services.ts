import type { DataSource } from 'typeorm';
import type { Logger } from './platform/logging';
import type { SiyuPubSub } from './platform/pubsub';
import { WorkspaceService } from './modules/workspaces';
import { IdentityService, type PiiCipher } from './modules/identities';
import { IngestService } from './modules/events';
import { ProfileService } from './modules/profiles/profile.service';

/** The module services of one app instance; resolvers receive this through the container. */
export interface AppServices {
  readonly workspaces: WorkspaceService;
  readonly identities: IdentityService;
  readonly ingest: IngestService;
  readonly profiles: ProfileService;
}

export function createServices(ds: DataSource, pubSub: SiyuPubSub, log: Logger, cipher: PiiCipher): AppServices {
  const identities = new IdentityService(ds, cipher, log);
  return {
    workspaces: new WorkspaceService(ds, pubSub, log),
    identities,
    ingest: new IngestService(ds, identities, pubSub, log),
    profiles: new ProfileService(ds, identities),
  };
}
