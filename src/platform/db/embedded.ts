import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { AppError, ErrorClass } from '../errors';
import { acquireDirLock } from './dir-lock';

export interface EmbeddedHandle {
  pglite: PGlite;
  pgConfig: ReturnType<typeof createPgConfig>;
  close(): Promise<void>;
}

/**
 * Opens the embedded PostgreSQL (PGlite). A data directory is guarded by a lock file so that two
 * processes can never open it at once: PGlite itself does not lock, and two writers would corrupt it.
 * `loadDataDir` starts from a dumped, already-migrated database (tests use it to skip migrations).
 */
export async function openEmbedded(dataDir: string, opts: { loadDataDir?: Blob } = {}): Promise<EmbeddedHandle> {
  let release: (() => void) | null = null;
  let pglite: PGlite;
  if (dataDir === ':memory:') {
    pglite = new PGlite({ loadDataDir: opts.loadDataDir });
  } else {
    fs.mkdirSync(dataDir, { recursive: true });
    release = acquireDirLock(path.join(path.dirname(dataDir), `${path.basename(dataDir)}.lock`));
    if (!release) {
      throw new AppError(
        ErrorClass.CONFLICT,
        'DATA_DIR_LOCKED',
        `The embedded database at ${dataDir} is in use by another Siyu process. ` +
          'Stop it, or set SIYU_DATA_DIR to another directory.',
      );
    }
    pglite = new PGlite(dataDir, { loadDataDir: opts.loadDataDir });
  }
  try {
    await pglite.waitReady;
  } catch (err) {
    release?.();
    throw err;
  }
  return {
    pglite,
    pgConfig: createPgConfig(pglite),
    async close() {
      try {
        if (!pglite.closed) await pglite.close();
      } finally {
        release?.();
      }
    },
  };
}
