import { DataSource, type DataSourceOptions, type EntityManager } from 'typeorm';
import type { Config } from '../config';
import { openEmbedded, type EmbeddedHandle } from './embedded';
import { installDbBudgets } from './budget';
import { MIGRATIONS } from '../../../migrations';

export interface Database {
  readonly kind: 'postgres' | 'embedded';
  readonly dataSource: DataSource;
  readonly embedded?: EmbeddedHandle;
  /** True when every migration shipped with this build has been applied. */
  migrationsCurrent(): Promise<boolean>;
  migrate(): Promise<string[]>;
  ping(): Promise<void>;
  /** Pool statistics for /metrics. */
  poolStats(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A dumped, migrated PGlite data directory to start from (tests). */
  embeddedSnapshot?: Blob;
  /** The TypeORM entities of the modules, given by the composition root (none: migrations and raw SQL only). */
  entities?: DataSourceOptions['entities'];
}

const common = {
  type: 'postgres' as const,
  migrations: MIGRATIONS,
  migrationsTableName: 'siyu_migrations',
  migrationsTransactionMode: 'each' as const,
  synchronize: false,
  migrationsRun: false,
  logging: false,
};

export async function openDatabase(config: Config, opts: OpenDatabaseOptions = {}): Promise<Database> {
  let dataSource: DataSource;
  let embedded: EmbeddedHandle | undefined;
  const db = config.database;
  if (db.kind === 'postgres') {
    dataSource = new DataSource({
      ...common,
      entities: opts.entities,
      url: db.url.reveal(),
      poolSize: db.poolSize,
      applicationName: 'siyu',
      // A database that is down fails requests within this time (pg connectionTimeoutMillis) instead of hanging them.
      connectTimeoutMS: db.connectTimeoutMs,
      // No JIT: every statement here reads a bounded set of rows, but a join the planner misestimates
      // (millions of rows) crosses the JIT cost threshold and then spends 250–400 ms compiling
      // (measured: the stage and inviter reads of an ingest batch at 200,000 events).
      extra: { options: '-c jit=off' },
    });
  } else {
    embedded = await openEmbedded(db.dataDir, { loadDataDir: opts.embeddedSnapshot });
    dataSource = new DataSource({
      ...common,
      entities: opts.entities,
      poolSize: 1,
      // One PGlite session behind a pool of one: transactions are serialised and isolated.
      extra: { ...embedded.pgConfig, idleTimeoutMillis: 0 },
    });
  }
  try {
    await dataSource.initialize();
  } catch (err) {
    await embedded?.close();
    throw err;
  }
  installDbBudgets(dataSource, db.kind, db.kind === 'postgres' ? { connectionString: db.url.reveal(), connectionTimeoutMillis: db.connectTimeoutMs } : undefined);
  const pool = () =>
    (dataSource.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } })
      .master;
  return {
    kind: db.kind,
    dataSource,
    embedded,
    async migrationsCurrent() {
      return !(await dataSource.showMigrations());
    },
    async migrate() {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    },
    async ping() {
      await dataSource.query('SELECT 1');
    },
    poolStats() {
      const p = pool();
      return { total: p?.totalCount ?? 0, idle: p?.idleCount ?? 0, waiting: p?.waitingCount ?? 0 };
    },
    async close() {
      try {
        if (dataSource.isInitialized) await dataSource.destroy();
      } finally {
        await embedded?.close();
      }
    },
  };
}

/** Runs `fn` in one transaction; always pass the given manager on (a pool of one deadlocks otherwise). */
export function inTransaction<T>(ds: DataSource, fn: (em: EntityManager) => Promise<T>): Promise<T> {
  return ds.transaction(fn);
}
