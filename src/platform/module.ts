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
 * What a module is, exported from its `index.ts`: its name, its TypeORM entities, its GraphQL
 * resolvers (each constructed with the services object; their constructor types say which services
 * they need, and the composition root must satisfy every one of them), and — for a read model — how
 * to get its projection from the services (`Needs`, a narrow type).
 */
export interface ModuleManifest<R extends readonly Function[] = readonly Function[], Needs = unknown, P = never> {
  readonly name: string;
  readonly entities?: readonly Function[];
  /** A thunk: resolver classes are read when the schema is built, after every module has loaded. */
  readonly resolvers: () => R;
  /** The module's read model, for modules kept current from ingest. */
  readonly projection?: (services: Needs) => P;
}
