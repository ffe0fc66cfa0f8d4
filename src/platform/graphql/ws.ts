import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createSourceEventStream, execute, getOperationAST, GraphQLError, print, validate, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseAuthorization, type AuthInfo } from '../auth';
import { withDbBudget, type DbBudget, type DbWorkKind } from '../db/budget';
import { AppError, type ErrorFormatter } from '../errors';
import { checkQueryLimits, ConnectionCounter, isIngestOperation, type QueryLimits, type RateLimits } from '../limits';
import type { Logger } from '../logging';
import type { Metrics } from '../metrics';
import { createRequestContext, type RequestContext } from './context';
import { parseBounded } from './document-guard';
import { checkArgumentText } from './input-text';
import { LoaderRegistry } from './loaders';

/**
 * Close code for a socket that stopped reading: its unsent data exceeded `SIYU_WS_MAX_BUFFERED_BYTES`
 * or a frame stayed unsent longer than `SIYU_WS_STALL_TIMEOUT_MS`. Outside graphql-ws's own codes
 * (4400, 4401, 4403, 4406, 4408, 4409, 4429, 4500, 4004, 4005, 4504); like HTTP 413, "too much".
 */
export const SLOW_CONSUMER_CLOSE_CODE = 4413;

/** Ping interval; a socket that does not answer a ping within the same time is terminated. */
const KEEP_ALIVE_MS = 12_000;

export interface WsHandle {
  /** Closes every socket (1001 Going Away) and stops accepting new ones. */
  close(): Promise<void>;
}

export interface SlowConsumerGuard {
  maxBufferedBytes: number;
  stallTimeoutMs: number;
}

type ConnectionExtra = Record<PropertyKey, unknown> & {
  auth?: AuthInfo;
  /** This socket holds one of its key's connection slots. */
  counted?: boolean;
  socket: WebSocket;
  request: IncomingMessage;
  /** This socket's operations by id, for cancelling their database work when they end early. */
  scopes: Map<string, OperationScope>;
};

/**
 * One operation of a socket: the database budgets of its executions running now (one per query,
 * mutation, or pushed subscription value). The client's `complete` or the socket's close stops them.
 */
class OperationScope {
  private gone = false;
  private readonly budgets = new Set<DbBudget>();

  constructor(private readonly newBudget: (kind: DbWorkKind) => DbBudget) {}

  /** Runs one execution under a fresh budget; `shared` work (one result for many subscribers) is not stopped by this client leaving. */
  async run<T>(kind: DbWorkKind, fn: () => Promise<T> | T, shared = false): Promise<T> {
    const budget = this.newBudget(kind);
    if (!shared) {
      if (this.gone) budget.stop('client_gone');
      this.budgets.add(budget);
    }
    try {
      return await withDbBudget(budget, fn);
    } finally {
      budget.finish();
      this.budgets.delete(budget);
    }
  }

  leave(): void {
    this.gone = true;
    for (const b of this.budgets) b.stop('client_gone');
  }
}

/** The scope of an operation, by its context value (what execute and subscribe receive). */
const operationScopes = new WeakMap<object, OperationScope>();

function scopeOf(args: ExecutionArgs): OperationScope | undefined {
  return args.contextValue && typeof args.contextValue === 'object' ? operationScopes.get(args.contextValue) : undefined;
}

function kindOf(args: ExecutionArgs): DbWorkKind {
  return getOperationAST(args.document, args.operationName)?.operation === 'mutation' ? 'write' : 'read';
}

/** graphql's `execute` (queries and mutations over WebSocket) under the operation's database budget. */
async function executeBudgeted(args: ExecutionArgs): Promise<ExecutionResult> {
  const scope = scopeOf(args);
  return scope ? scope.run(kindOf(args), () => execute(args) as Promise<ExecutionResult> | ExecutionResult) : execute(args);
}

interface SocketState {
  socket: WebSocket;
  /** Start times of sends not yet handed to the kernel, oldest first (ws completes them in order). */
  pending: number[];
  slow: boolean;
  /** graphql-ws's clean-up (returns every subscription); called exactly once. */
  cleanUp: (code: number, reason: string) => void;
}

/**
 * Subscription root fields whose pushed values are identical for every subscriber with the same
 * document, variables and role in a workspace (aggregates, no per-caller masking or audit): their
 * response is executed once per pushed value and shared, so fan-out costs sending frames, not
 * executing the selection set for each subscriber.
 */
const SHARED_RESULT_FIELDS = new Set(['kpiUpdated']);

/**
 * Executions of subscription payloads in this process: run, and answered from a shared result; and
 * `serialised`: shared results turned into JSON (once each, however many subscribers receive them).
 */
export const subscriptionExecutions = { executed: 0, shared: 0, serialised: 0 };

/** Pushed value → (operation key → its execution result). Values are the live hub's shared update objects. */
const sharedResults = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();
/** Results that are shared by alike subscribers (serialised once, see `attachWebSocketServer`). */
const sharedResultObjects = new WeakSet<ExecutionResult>();

/**
 * Stands in for a shared payload while graphql-ws serialises a `next` message; the socket's `send`
 * splices the payload's JSON (made once per shared result) in its place. A string no GraphQL result
 * here produces, and it is looked for last in the frame (after the client-chosen id).
 */
const SHARED_PAYLOAD_MARKER = '\u0000siyu:shared-payload\u0000';
const SHARED_PAYLOAD_MARKER_JSON = JSON.stringify(SHARED_PAYLOAD_MARKER);

function sharedKey(args: ExecutionArgs): string | null {
  const op = getOperationAST(args.document, args.operationName);
  if (op?.operation !== 'subscription' || op.selectionSet.selections.length !== 1) return null;
  const field = op.selectionSet.selections[0];
  if (field.kind !== 'Field' || !SHARED_RESULT_FIELDS.has(field.name.value)) return null;
  const auth = (args.contextValue as { auth?: AuthInfo | null } | undefined)?.auth;
  if (!auth) return null;
  return JSON.stringify([auth.workspaceId, auth.role, print(args.document), args.operationName ?? null, args.variableValues ?? null]);
}

/** graphql's `subscribe`, except that shared-result fields execute once per pushed value for all alike subscribers. */
async function subscribeShared(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const key = sharedKey(args);
  const scope = scopeOf(args);
  const source = scope ? await scope.run('read', () => createSourceEventStream(args)) : await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
  const stream = source as AsyncIterable<unknown> & AsyncIterator<unknown>;
  const run = (payload: unknown): Promise<ExecutionResult> => {
    const exec = () => {
      subscriptionExecutions.executed++;
      // A subscription's context lives as long as the subscription; loaders must not (their cache
      // would serve the first event's rows to every later one): a fresh registry per event.
      const context = args.contextValue as RequestContext | undefined;
      if (context) context.loaders = new LoaderRegistry();
      // Each pushed value is executed under a read budget of its own.
      const once = () => execute({ ...args, rootValue: payload }) as Promise<ExecutionResult> | ExecutionResult;
      return scope ? scope.run('read', once, key !== null) : Promise.resolve(once());
    };
    if (!key || typeof payload !== 'object' || payload === null) return exec();
    let byKey = sharedResults.get(payload);
    if (!byKey) sharedResults.set(payload, (byKey = new Map()));
    let result = byKey.get(key);
    if (result) subscriptionExecutions.shared++;
    else
      byKey.set(
        key,
        (result = exec().then((r) => {
          sharedResultObjects.add(r);
          return r;
        })),
      );
    return result;
  };
  // A plain iterator, not an async generator: `return()` must reach the live source at once even
  // while a `next()` waits for the next value (a generator would queue it behind that `next()`).
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const r = await stream.next();
      return r.done ? { done: true, value: undefined } : { done: false, value: await run(r.value) };
    },
    async return() {
      await stream.return?.();
      return { done: true, value: undefined };
    },
    async throw(err: unknown) {
      await stream.return?.();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return iterator;
}

/** A client's `complete` for an operation still running: stop its database work (graphql-ws only ends subscriptions). */
function leaveOnComplete(scopes: Map<string, OperationScope>, data: string): void {
  if (!data.includes('"complete"')) return;
  let message: { type?: unknown; id?: unknown };
  try {
    message = JSON.parse(data);
  } catch {
    return;
  }
  if (message?.type !== 'complete' || typeof message.id !== 'string') return;
  scopes.get(message.id)?.leave();
  scopes.delete(message.id);
}

/** Close code for a connection beyond SIYU_WS_MAX_CONNECTIONS_PER_KEY (4403 stays "bad key"). */
export const WS_CLOSE_TOO_MANY_CONNECTIONS = 4429;

function appErrorToGraphQL(err: AppError): GraphQLError {
  return new GraphQLError(err.message, { originalError: err });
}

/**
 * graphql-ws on the same port and path as HTTP, bound to `ws` here (instead of `graphql-ws/use/ws`)
 * so that a slow consumer can be cut off: graphql-ws sends a subscription's next frame only after
 * the previous one was written, so a reader that stops costs one pending frame per subscription;
 * the guard closes the socket with 4413 once its buffered bytes pass the limit or its oldest frame
 * is older than the stall timeout, and ends its subscriptions at once (not when TCP finally closes).
 *
 * A socket must present a valid key in `connectionParams.authorization` (`Bearer <key>`);
 * otherwise onConnect refuses it (4403).
 */
export function attachWebSocketServer(opts: {
  httpServer: HttpServer;
  schema: GraphQLSchema;
  path: string;
  authenticate: (key: string) => Promise<AuthInfo | null>;
  formatError: ErrorFormatter;
  log: Logger;
  metrics: Metrics;
  guard: SlowConsumerGuard;
  queryLimits: QueryLimits;
  rateLimits: RateLimits;
  maxConnectionsPerKey: number;
  /** A database budget for one execution (`SIYU_DB_TIMEOUT_*_MS`). */
  dbBudget: (kind: DbWorkKind) => DbBudget;
}): WsHandle {
  const { log, metrics, guard } = opts;
  const connections = new ConnectionCounter(opts.maxConnectionsPerKey);
  const wss = new WebSocketServer({ server: opts.httpServer, path: opts.path, maxPayload: 1024 * 1024, handleProtocols });
  // Shared results are serialised once: JSON of their `next` payload (errors formatted as onNext does).
  const sharedJson = new WeakMap<ExecutionResult, string>();
  const payloadJson = (result: ExecutionResult): string => {
    let json = sharedJson.get(result);
    if (json === undefined) {
      const { errors, ...rest } = result;
      json = JSON.stringify(errors?.length ? { ...rest, errors: errors.map((e) => opts.formatError(e.toJSON(), e)) } : rest);
      sharedJson.set(result, json);
      subscriptionExecutions.serialised++;
    }
    return json;
  };
  // Set by the replacer while a frame with a shared payload is serialised; taken by the very next
  // `send` (graphql-ws calls it synchronously with the string the replacer helped make).
  let stagedPayload: string | null = null;
  const server = makeServer<Record<string, unknown> | undefined, ConnectionExtra>({
    schema: opts.schema,
    subscribe: subscribeShared,
    execute: executeBudgeted,
    onConnect: async (ctx) => {
      const key = parseAuthorization(ctx.connectionParams?.authorization);
      const auth = key ? await opts.authenticate(key) : null;
      if (!auth) {
        log.info('websocket refused: missing or invalid API key');
        return false;
      }
      if (!connections.acquire(auth.apiKeyId)) {
        log.info({ apiKeyId: auth.apiKeyId }, 'websocket refused: too many connections for this key');
        // Closed here with its own code; graphql-ws's 4403 that follows is ignored by ws.
        ctx.extra.socket.close(WS_CLOSE_TOO_MANY_CONNECTIONS, `Too many connections for this API key (limit ${opts.maxConnectionsPerKey} per instance)`);
        return false;
      }
      ctx.extra.counted = true;
      ctx.extra.auth = auth;
      metrics.wsConnections.inc();
      return true;
    },
    onClose: (ctx) => {
      if (!ctx.extra.counted || !ctx.extra.auth) return;
      ctx.extra.counted = false;
      connections.release(ctx.extra.auth.apiKeyId);
      metrics.wsConnections.dec();
    },
    // Parse and validate here (as graphql-ws would), with the same limits as HTTP: tokens, size
    // with fragments counted before validation, then rate budget, depth, complexity and argument
    // text. A refused operation gets an error message and runs nothing.
    onSubscribe: async (ctx, id, payload) => {
      const document = parseBounded(payload.query, payload.operationName, opts.queryLimits);
      if (document instanceof AppError) return [appErrorToGraphQL(document)];
      if (document instanceof GraphQLError) return [document];
      const errors = validate(opts.schema, document);
      if (errors.length) return [...errors];
      const auth = ctx.extra.auth;
      if (auth) {
        try {
          await opts.rateLimits.consume(auth, isIngestOperation(document, payload.operationName) ? 'ingest' : 'read');
        } catch (err) {
          if (err instanceof AppError) return [appErrorToGraphQL(err)];
          throw err;
        }
      }
      const limited =
        checkQueryLimits(opts.schema, document, payload.variables ?? undefined, payload.operationName, opts.queryLimits) ??
        checkArgumentText(opts.schema, document, payload.variables, payload.operationName);
      if (limited) return [appErrorToGraphQL(limited)];
      const contextValue = createRequestContext(auth ?? null, randomUUID());
      const scope = new OperationScope(opts.dbBudget);
      operationScopes.set(contextValue, scope);
      ctx.extra.scopes.set(id, scope);
      return {
        schema: opts.schema,
        document,
        operationName: payload.operationName,
        variableValues: payload.variables,
        contextValue,
      };
    },
    jsonMessageReplacer(this: unknown, key: string, value: unknown) {
      if (key === 'payload' && typeof value === 'object' && value !== null && sharedResultObjects.has(value as ExecutionResult) && (this as { type?: unknown }).type === 'next') {
        stagedPayload = payloadJson(value as ExecutionResult);
        return SHARED_PAYLOAD_MARKER;
      }
      return value;
    },
    onNext: (_ctx, _id, _payload, _args, result) => {
      // The shared object itself (not a copy), so the replacer recognises it.
      if (sharedResultObjects.has(result)) return result;
      if (!result.errors?.length) return;
      return { ...result, errors: result.errors.map((e) => opts.formatError(e.toJSON(), e)) };
    },
    onError: (_ctx, _id, _payload, errors) => errors.map((e) => opts.formatError(e.toJSON(), e)),
    onComplete: (ctx, id) => {
      ctx.extra.scopes.delete(id);
    },
  });

  const sockets = new Set<SocketState>();
  const slowConsumer = (s: SocketState, reason: 'buffered' | 'stalled'): void => {
    if (s.slow) return;
    s.slow = true;
    metrics.wsSlowConsumerCloses.inc({ reason });
    log.warn({ reason, bufferedBytes: s.socket.bufferedAmount, pendingFrames: s.pending.length }, 'websocket closed: slow consumer');
    s.socket.close(
      SLOW_CONSUMER_CLOSE_CODE,
      reason === 'buffered' ? 'Slow consumer: too much unsent data' : 'Slow consumer: a message stayed unsent too long',
    );
    // The close handshake waits for the peer (ws destroys the socket after 30 s); the
    // subscriptions end now, so nothing more is computed or buffered for it.
    s.cleanUp(SLOW_CONSUMER_CLOSE_CODE, 'slow consumer');
  };
  const check = (s: SocketState, now: number): void => {
    if (s.slow) return;
    if (s.socket.bufferedAmount > guard.maxBufferedBytes) slowConsumer(s, 'buffered');
    else if (s.pending.length && now - s.pending[0] > guard.stallTimeoutMs) slowConsumer(s, 'stalled');
  };
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const s of sockets) check(s, now);
  }, Math.max(10, Math.min(1000, Math.floor(guard.stallTimeoutMs / 2))));
  sweep.unref();

  wss.on('connection', (socket, request) => {
    socket.once('error', (err) => {
      log.warn({ err: err.message }, 'websocket error');
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
    let pongWait: ReturnType<typeof setTimeout> | null = null;
    const ping = setInterval(() => {
      if (socket.readyState !== socket.OPEN) return;
      pongWait = setTimeout(() => socket.terminate(), KEEP_ALIVE_MS);
      socket.once('pong', () => {
        if (pongWait) clearTimeout(pongWait);
        pongWait = null;
      });
      socket.ping();
    }, KEEP_ALIVE_MS);

    let cleaned = false;
    const state: SocketState = {
      socket,
      pending: [],
      slow: false,
      cleanUp: (code, reason) => {
        if (cleaned) return;
        cleaned = true;
        void closed(code, reason);
      },
    };
    sockets.add(state);
    const scopes = new Map<string, OperationScope>();
    const leaveAll = () => {
      for (const scope of scopes.values()) scope.leave();
      scopes.clear();
    };
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (frame) => {
          let data = frame;
          if (stagedPayload !== null) {
            const at = data.lastIndexOf(SHARED_PAYLOAD_MARKER_JSON);
            if (at >= 0) data = data.slice(0, at) + stagedPayload + data.slice(at + SHARED_PAYLOAD_MARKER_JSON.length);
            stagedPayload = null;
          }
          return new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN || state.slow) return resolve();
            state.pending.push(Date.now());
            socket.send(data, (err) => {
              state.pending.shift();
              if (err) reject(err);
              else resolve();
            });
            check(state, Date.now());
          });
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', async (event) => {
            if (state.slow) return;
            leaveOnComplete(scopes, String(event));
            try {
              await cb(String(event));
            } catch (err) {
              log.error({ err }, 'websocket message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      { socket, request, scopes },
    );
    socket.once('close', (code, reason) => {
      if (pongWait) clearTimeout(pongWait);
      clearInterval(ping);
      sockets.delete(state);
      // The client is gone: its running database work is cancelled, not finished for nobody.
      leaveAll();
      state.cleanUp(code, String(reason));
    });
  });

  return {
    async close() {
      clearInterval(sweep);
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners('connection');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
