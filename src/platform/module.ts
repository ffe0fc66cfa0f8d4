import type { DataSource } from 'typeorm';
import type { Logger } from './logging';
import type { SiyuPubSub } from './pubsub';
import type { IngestHook, SweepTask } from './hooks';
import type { TagService } from '../modules/tags';

/** What a read-model module gets at start-up to plug itself in. */
export interface ModuleContext {
  ds: DataSource;
  pubSub: SiyuPubSub;
  log: Logger;
  /** Tags: system tag groups (`replaceSystemTags`) and publishing membership changes. */
  tags: TagService;
  /** Register a read model kept current in every ingest batch's transaction. */
  addIngestHook(hook: IngestHook): void;
  /** Register a time-based task run by the sweep scheduler. */
  addSweepTask(task: SweepTask): void;
}
