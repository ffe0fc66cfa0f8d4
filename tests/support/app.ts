import 'reflect-metadata';
import fs from 'node:fs';
import { print, type DocumentNode } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import request from 'supertest';
import { createApp, type CreateAppOptions, type SiyuApp } from '../../src/app';
import type { Projection } from '../../src/modules/events';
import { loadConfig } from '../../src/platform/config';
import { createLogger } from '../../src/platform/logging';

export interface GqlResponse<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions: Record<string, unknown> & { code: string } }[];
}

export interface TestApp {
  app: SiyuApp;
  url: string;
  /** A fresh workspace of its own for each test, so tests never share rows. */
  newWorkspace(name?: string): Promise<{ workspaceId: string; adminKey: string }>;
  gql<T, V extends Record<string, unknown> = Record<string, unknown>>(
    doc: TypedDocumentNode<T, V> | DocumentNode | string,
    variables?: V,
    key?: string | null,
  ): Promise<GqlResponse<T>>;
  http(): ReturnType<typeof request>;
  stop(): Promise<void>;
}

/** A fixed test key (PostgreSQL needs one; the embedded default makes its own). */
export const TEST_PII_KEY = Buffer.alloc(32, 7).toString('base64');

export function usingPostgres(): boolean {
  return !!process.env.SIYU_TEST_DATABASE_URL;
}

/** The environment a test app runs with: the run's database (PGlite dump or PostgreSQL test DB). */
export function testEnv(extra: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = { NODE_ENV: 'test', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', HOST: '127.0.0.1', PORT: '0', SIYU_SWEEP_INTERVAL_MS: '0', SIYU_DUE_INTERVAL_MS: '0', SIYU_DELIVERY_INTERVAL_MS: '0', SIYU_DEMO: '0' };
  if (usingPostgres()) {
    base.DATABASE_URL = process.env.SIYU_TEST_DATABASE_URL!;
    base.DATABASE_POOL_SIZE = '5';
    // A shared 2-core CI machine can take more than the production 5 s to hand out a connection
    // while the server checkpoints after a heavy test file; tests that need the short timeout
    // (db-outage) set their own.
    base.DATABASE_CONNECT_TIMEOUT_MS = '30000';
    base.SIYU_PII_KEY = TEST_PII_KEY;
  } else {
    base.SIYU_DATA_DIR = ':memory:';
  }
  return { ...base, ...extra };
}

export function snapshotBlob(): Blob | undefined {
  const file = process.env.SIYU_TEST_SNAPSHOT;
  return file ? new Blob([fs.readFileSync(file)], { type: 'application/x-gzip' }) : undefined;
}

/** Boots a real Siyu on a free port against the run's database. */
export async function bootApp(extraEnv: Record<string, string> = {}, opts: Pick<CreateAppOptions, 'extraProjections' | 'logger'> = {}): Promise<TestApp> {
  const config = loadConfig(testEnv(extraEnv));
  const app = await createApp(config, {
    ...opts,
    embeddedSnapshot: config.database.kind === 'embedded' ? snapshotBlob() : undefined,
    logger: opts.logger ?? createLogger(config.logLevel),
  });
  const url = await app.listen(0, '127.0.0.1');
  return {
    app,
    url,
    async newWorkspace(name = 'test workspace') {
      const { workspace, key } = await app.services.workspaces.createWorkspace(name, undefined);
      return { workspaceId: workspace.id, adminKey: key };
    },
    async gql(doc, variables, key) {
      const query = typeof doc === 'string' ? doc : print(doc);
      let r = request(url).post('/graphql').set('content-type', 'application/json');
      if (key) r = r.set('authorization', `Bearer ${key}`);
      const res = await r.send({ query, variables });
      return { status: res.status, data: res.body.data, errors: res.body.errors };
    },
    http: () => request(url),
    stop: () => app.stop(),
  };
}

/**
 * One app for the whole test file: booted in `beforeAll`, stopped in `afterAll`. The returned
 * handle is filled in when the app is up, so use it inside hooks and tests only.
 */
export function bootAppPerFile(extraEnv: Record<string, string> | (() => Record<string, string>) = {}): TestApp {
  const t = {} as TestApp;
  beforeAll(async () => {
    Object.assign(t, await bootApp(typeof extraEnv === 'function' ? extraEnv() : extraEnv));
  });
  afterAll(() => t.stop?.());
  return t;
}

/** A read model for tests only (a probe, a failing one): `apply` as given, every other phase skipped. */
export function testProjection(name: string, apply: Projection['apply'], after: string[] = []): Projection {
  return { name, after, apply, refresh: { skip: 'test projection' }, rebuild: { skip: 'test projection' }, sweep: { skip: 'test projection' }, due: { skip: 'test projection' }, prefetch: { skip: 'test projection' } };
}
