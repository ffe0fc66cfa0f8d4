import type { DataSource } from 'typeorm';
import type { Logger } from './logging';
import type { SiyuPubSub } from './pubsub';

/** The infrastructure every module service may take: the database, pub/sub and the logger. */
export interface ModuleDeps {
  ds: DataSource;
  pubSub: SiyuPubSub;
  log: Logger;
}


/**
 * What a module is, exported from its `index.ts`: its name, its TypeORM entities, its resolvers and
 * the services they need (`Needs`, a narrow type: the composition root must satisfy it), and — for a
 * read model — how to get its projection from the app's services.
 */
export interface ModuleManifest<Needs = unknown, P = never> {
  readonly name: string;
  readonly entities?: readonly Function[];
  readonly resolvers: readonly Function[];
  /** The module's read model, for modules kept current from ingest. */
  readonly projection?: (services: Needs) => P;
}
