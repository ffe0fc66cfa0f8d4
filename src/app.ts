import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError } from 'graphql';
import type { Config } from './platform/config';
import { currentDbBudget, dbBudgetMiddleware, DbBudget, openDatabase, StatisticsRefresher, type Database, type DbWorkKind, type OpenDatabaseOptions } from './platform/db';
import { AppError, createErrorFormatter, isDatabaseUnavailable } from './platform/errors';
import { checkQueryLimits, createRateLimits, isIngestOperation, MAX_QUERY_TOKENS, requestError, type RateLimits } from './platform/limits';
import { parseAuthorization } from './platform/auth';
import { createRequestContext, type RequestContext } from './platform/graphql/context';
import { checkArgumentText } from './platform/graphql/input-text';
import { documentGuard } from './platform/graphql/document-guard';
import { buildAppSchema } from './platform/graphql/schema';
import { attachWebSocketServer } from './platform/graphql/ws';
import { mountGraphiql } from './platform/graphql/graphiql';
import { mountDashboard } from './platform/graphql/dashboard';
import { createLogger, type Logger } from './platform/logging';
import { createMetrics, type Metrics } from './platform/metrics';
import { openPubSub, type PubSubHandle } from './platform/pubsub';
import { LiveHub } from './platform/live';
import { createServices, type AppServices } from './services';
import type { Projection } from './modules/events';
import type { BootstrapResult } from './modules/workspaces';
import { openPiiCipher, resolvePiiMasterKey } from './modules/identities';
import { createSegmentRouter } from './modules/events';
import { createSegmentExportRouter } from './modules/tags';
import { moduleEntities, moduleResolvers, type ResolverDeps } from './modules/registry';

/** The two response media types of GraphQL over HTTP. */
const MEDIA_JSON = 'application/json';
const MEDIA_GRAPHQL_RESPONSE = 'application/graphql-response+json';
/** Marks an HTTP request context whose response is application/json (a property: Apollo copies contexts). */
const JSON_RESPONSE = Symbol('jsonResponse');
type HttpRequestContext = RequestContext & { [JSON_RESPONSE]?: true };

export interface CreateAppOptions extends OpenDatabaseOptions {
  logger?: Logger;
  /** Benchmark builds only (bench/cases/single-ingest.ts adds a no-op mutation as its reference); not reachable from config. */
  extraResolvers?: readonly Function[];
  /** Only for tests: read models beyond the manifests' (a probe, a failing projection), ordered with them. */
  extraProjections?: readonly Projection[];
}

export interface SiyuApp {
  readonly config: Config;
  readonly log: Logger;
  readonly db: Database;
  readonly services: AppServices;
  readonly metrics: Metrics;
  readonly httpServer: http.Server;
  readonly bootstrap: BootstrapResult;
  readonly rateLimits: RateLimits;
  /** Starts listening (port 0 picks a free one); resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Graceful stop: refuse new work, drain HTTP and sockets, close pubsub and the database. */
  stop(): Promise<void>;
}

/** Builds a complete Siyu instance from config. Tests boot this; `main.ts` adds the process around it. */
export async function createApp(config: Config, opts: CreateAppOptions = {}): Promise<SiyuApp> {
  const log = opts.logger ?? createLogger(config.logLevel);
  const db = await openDatabase(config, { ...opts, entities: moduleEntities() });
  let pubsub: PubSubHandle | undefined;
  let rateLimits: RateLimits | undefined;
  try {
    if (config.database.autoMigrate) {
      const applied = await db.migrate();
      if (applied.length) log.info({ migrations: applied }, 'migrations applied');
    }
    if (!(await db.migrationsCurrent())) {
      log.warn('database migrations are pending: run `npm run db:migrate` (readyz reports not ready)');
    }
    pubsub = openPubSub(config.redisUrl?.reveal(), log);
    rateLimits = createRateLimits(config.limits.rate, config.redisUrl?.reveal(), log);
    const metrics = createMetrics(() => db.poolStats());
    // Each shared live computation runs under a read budget of its own (see LiveHubOptions.budget).
    const live = new LiveHub({
      pubSub: pubsub.pubSub,
      log,
      metrics,
      budget: () => new DbBudget('read', config.dbTimeoutMs, { stopped: (k, reason) => metrics.dbBudgetStops.inc({ kind: k, reason }), refused: (k) => metrics.dbBudgetRefused.inc({ kind: k }) }),
    });
    const services = createServices(db.dataSource, pubsub.pubSub, log, await openPiiCipher(db.dataSource, resolvePiiMasterKey(config, log), log), live, opts.extraProjections, { backoffBaseMs: config.delivery.backoffBaseMs, backoffMaxMs: config.delivery.backoffMaxMs });
    // Planner statistics follow growing workspaces (see StatisticsRefresher); not on the embedded database.
    if (db.kind === 'postgres') services.ingest.statistics = StatisticsRefresher.forDataSource(db.dataSource, log);
    services.ingest.metrics = metrics;
    services.kpis.alerts.metrics = metrics;
    services.destinations.metrics = metrics;
    metrics.setSweepLagSource(() => services.tags.sweepLag());
    const bootstrap = (await db.migrationsCurrent())
      ? await services.workspaces.bootstrap(config.bootstrapAdminKey?.reveal(), db.kind === 'embedded')
      : { created: false };
    return await assemble(config, log, db, pubsub, rateLimits, services, metrics, bootstrap, opts.extraResolvers);
  } catch (err) {
    await rateLimits?.close();
    await pubsub?.close();
    await db.close();
    throw err;
  }
}

async function assemble(
  config: Config,
  log: Logger,
  db: Database,
  pubsub: PubSubHandle,
  rateLimits: RateLimits,
  services: AppServices,
  metrics: Metrics,
  bootstrap: BootstrapResult,
  extraResolvers: readonly Function[] = [],
): Promise<SiyuApp> {
  const formatError = createErrorFormatter(log);
  // `satisfies`: a service some resolver needs but the services object lacks fails to compile.
  const schema = await buildAppSchema(moduleResolvers(), services satisfies ResolverDeps, pubsub.pubSub, extraResolvers);
  const app = express();
  app.disable('x-powered-by');
  const httpServer = http.createServer(app);
  let stopping = false;

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Bounded label set: known routes by name, everything else as "other".
      const p = req.originalUrl.split('?')[0];
      const route = (req.route ? `${req.baseUrl}${req.route.path}` : undefined) ?? (p === '/graphql' ? '/graphql' : p.startsWith('/graphiql') ? '/graphiql' : p.startsWith('/dashboard') ? '/dashboard' : 'other');
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method, route }, seconds);
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    try {
      await db.ping();
      checks.database = 'ok';
      checks.migrations = (await db.migrationsCurrent()) ? 'ok' : 'pending';
    } catch (err) {
      checks.database = 'unreachable';
      log.warn({ err: (err as Error).message }, 'readiness: database unreachable');
    }
    if (stopping) checks.shutdown = 'in progress';
    const ready = checks.database === 'ok' && checks.migrations === 'ok' && !stopping;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // Every request's statements run under a database time budget of its kind (SIYU_DB_TIMEOUT_*_MS).
  const dbBudget = (kind: DbWorkKind) => new DbBudget(kind, config.dbTimeoutMs, {
    stopped: (k, reason) => metrics.dbBudgetStops.inc({ kind: k, reason }),
    refused: (k) => metrics.dbBudgetRefused.inc({ kind: k }),
  });
  app.use('/v1', dbBudgetMiddleware(dbBudget, 'write'), createSegmentRouter(services, log, rateLimits));
  app.use('/export', dbBudgetMiddleware(dbBudget, 'export'), createSegmentExportRouter(services, log, (ws, ids, purpose) => services.compliance.allowed(ws, ids, purpose)));
  if (config.graphiql) mountGraphiql(app, '/graphiql', '/graphql');
  mountDashboard(app, '/dashboard', '../graphql');

  const queryLimits = { maxDepth: config.limits.maxQueryDepth, maxComplexity: config.limits.maxQueryComplexity };
  const ws = attachWebSocketServer({
    httpServer,
    schema,
    path: '/graphql',
    authenticate: (key) => services.workspaces.authenticate(key),
    formatError,
    log,
    metrics,
    guard: config.ws,
    queryLimits,
    rateLimits,
    maxConnectionsPerKey: config.limits.wsMaxConnectionsPerKey,
    dbBudget,
  });

  const metricsPlugin: ApolloServerPlugin<RequestContext> = {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ operation, operationName, errors }) {
          const type = operation?.operation ?? 'unknown';
          metrics.graphqlOperations.inc({ type, name: operationName ?? 'anonymous', outcome: errors?.length ? 'error' : 'ok' });
          metrics.graphqlDuration.observe({ type }, Number(process.hrtime.bigint() - started) / 1e9);
        },
      };
    },
  };
  // Subscriptions are served over graphql-ws on the same path; over plain HTTP they would run
  // their resolver without an event. Refuse them with a clear input error.
  const httpSubscriptionGuard: ApolloServerPlugin<RequestContext> = {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation === 'subscription') {
            throw new GraphQLError('Subscriptions are served over WebSocket (graphql-ws protocol) at /graphql, not over HTTP POST.', {
              extensions: { code: 'BAD_USER_INPUT', reason: 'SUBSCRIPTION_OVER_HTTP', http: { status: 400 } },
            });
          }
        },
      };
    },
  };
  // Before execution (documents too large were refused before Apollo, by documentGuard): the key's
  // rate budget (ingest or read), then depth and complexity, then text no column can hold in any
  // argument. A refused operation runs no resolver, so it changes nothing.
  const limitsPlugin: ApolloServerPlugin<RequestContext> = {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, document, request, operationName, operation }) {
          // Mutations get the write budget (from the request's start); queries keep the read budget.
          if (operation?.operation === 'mutation') currentDbBudget()?.setKind('write');
          if (contextValue.auth) {
            try {
              await rateLimits.consume(contextValue.auth, isIngestOperation(document, operationName) ? 'ingest' : 'read');
            } catch (err) {
              if (err instanceof AppError) throw requestError(err);
              throw err;
            }
          }
          const limited =
            checkQueryLimits(schema, document, request.variables, operationName, queryLimits) ??
            checkArgumentText(schema, document, request.variables, operationName);
          if (limited) throw requestError(limited);
        },
        // A database outage during execution: 503 (and Retry-After) instead of 200 with errors; an
        // operation out of its database time budget: 504.
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          if (response.body.singleResult.errors?.some((e) => e.extensions?.code === 'TIMEOUT')) response.http.status = 504;
          const unavailable = response.body.singleResult.errors?.find((e) => e.extensions?.code === 'UNAVAILABLE');
          if (!unavailable) return;
          response.http.status = 503;
          response.http.headers.set('retry-after', String(unavailable.extensions?.retryAfterSeconds ?? 5));
        },
      };
    },
  };
  // GraphQL over HTTP: a response sent as application/json (the client did not prefer
  // application/graphql-response+json) answers 200 to a well-formed request even when it failed to
  // parse, validate or coerce its variables, or was refused by a query limit; only RATE_LIMITED
  // (429) and UNAVAILABLE (503) keep their status, which tells clients and proxies to retry.
  // Negotiated like Apollo's choice of content type; requests without Accept get application/json.
  const graphqlOverHttpStatus: ApolloServerPlugin<RequestContext> = {
    async requestDidStart({ contextValue }) {
      return {
        async willSendResponse({ response, errors }) {
          const status = response.http.status;
          if (!(contextValue as HttpRequestContext)[JSON_RESPONSE] || status === undefined || status < 400 || status >= 500 || status === 429) return;
          // A request that is not well-formed (a query that is not a string, …) keeps its 400.
          if (errors?.some((e) => e.extensions?.code === ApolloServerErrorCode.BAD_REQUEST)) return;
          response.http.status = 200;
        },
      };
    },
  };
  const apollo = new ApolloServer<RequestContext>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: false,
    // documentGuard parsed the document within this already; the same bound here, in case.
    parseOptions: { maxTokens: MAX_QUERY_TOKENS },
    // main.ts owns signal handling (drain, then close the database); Apollo must not race it.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      metricsPlugin,
      httpSubscriptionGuard,
      limitsPlugin,
      graphqlOverHttpStatus,
      {
        async serverWillStart() {
          return { async drainServer() { await ws.close(); } };
        },
      },
    ],
  });
  await apollo.start();

  app.use(
    '/graphql',
    express.json({ limit: config.bodyLimitBytes }),
    documentGuard(queryLimits, formatError),
    dbBudgetMiddleware(dbBudget, 'read'),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const requestId = (req.headers['x-request-id'] as string | undefined)?.slice(0, 100) || randomUUID();
        const header = req.headers.authorization;
        const key = header === undefined ? null : parseAuthorization(header);
        let auth;
        try {
          auth = key ? await services.workspaces.authenticate(key) : null;
        } catch (err) {
          if (isDatabaseUnavailable(err)) throw requestError(AppError.unavailable());
          if (err instanceof AppError) throw requestError(err);
          throw err;
        }
        // An unknown or revoked key is treated like no key: every field needing one answers
        // UNAUTHENTICATED (a field error), so both get the same answer and HTTP status.
        const ctx: HttpRequestContext = createRequestContext(auth, requestId, header !== undefined && !auth);
        if (req.accepts([MEDIA_JSON, MEDIA_GRAPHQL_RESPONSE]) === MEDIA_JSON) ctx[JSON_RESPONSE] = true;
        return ctx;
      },
    }),
  );
  // Malformed JSON and oversized bodies: a typed GraphQL-shaped error, not an HTML page.
  app.use((err: Error & { status?: number; type?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (res.headersSent) return next(err);
    const status = err.status ?? 500;
    if (status >= 500 && isDatabaseUnavailable(err)) {
      const e = AppError.unavailable();
      res.status(503).set('Retry-After', '5').json({ errors: [{ message: e.message, extensions: { code: e.errorClass, reason: e.reason, ...e.details } }] });
      return;
    }
    if (status >= 500) {
      const correlationId = randomUUID();
      log.error({ err, correlationId }, 'unhandled http error');
      res.status(500).json({ errors: [{ message: `Internal server error. Quote correlation id ${correlationId}.`, extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId } }] });
      return;
    }
    const reason = err.type === 'entity.too.large' ? 'BODY_TOO_LARGE' : err.type === 'entity.parse.failed' ? 'MALFORMED_JSON' : 'BAD_REQUEST';
    res.status(status).json({ errors: [{ message: err.message, extensions: { code: 'BAD_USER_INPUT', reason } }] });
  });


  services.tags.startSweeper(config.sweep.intervalMs, config.sweep.batch, services.sweepSteps);
  services.due.start(config.dueIntervalMs, config.sweep.batch);
  services.kpis.alerts.startEscalation(config.dueIntervalMs);
  await services.destinations.sealLegacySecrets();
  services.destinations.start(config.delivery.intervalMs);
  let stopped: Promise<void> | undefined;
  return {
    config,
    log,
    db,
    services,
    metrics,
    httpServer,
    bootstrap,
    rateLimits,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const a = httpServer.address() as AddressInfo;
          const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve(`http://${h === '0.0.0.0' || h === '[::]' ? '127.0.0.1' : h}:${a.port}`);
        });
      });
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        services.tags.stopSweeper();
        services.due.stop();
        await services.kpis.alerts.stopEscalation();
        await services.destinations.stop();
        try {
          // Drains in-flight HTTP requests and closes sockets (drain plugins), then stops Apollo.
          if (httpServer.listening) await apollo.stop();
          else await ws.close();
        } finally {
          services.live.close();
          await services.ingest.statistics?.close();
          await rateLimits.close();
          await pubsub.close();
          await db.close();
        }
      })();
      return stopped;
    },
  };
}
