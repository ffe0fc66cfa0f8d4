import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { parseAuthorization, type AuthInfo } from '../auth';
import { AppError, type ErrorFormatter } from '../errors';
import { checkQueryLimits, ConnectionCounter, isIngestOperation, type QueryLimits, type RateLimits } from '../limits';
import type { Logger } from '../logging';
import type { Metrics } from '../metrics';
import { createRequestContext } from './context';

export interface WsHandle {
  /** Closes every socket (1001 Going Away) and stops accepting new ones. */
  close(): Promise<void>;
}

type ConnectionExtra = Record<PropertyKey, unknown> & {
  auth?: AuthInfo;
  /** This socket holds one of its key's connection slots. */
  counted?: boolean;
};

/** Close code for a connection beyond SIYU_WS_MAX_CONNECTIONS_PER_KEY (4403 stays "bad key"). */
export const WS_CLOSE_TOO_MANY_CONNECTIONS = 4429;

function appErrorToGraphQL(err: AppError): GraphQLError {
  return new GraphQLError(err.message, { originalError: err });
}

/**
 * graphql-ws on the same port and path as HTTP. A socket must present a valid key in
 * `connectionParams.authorization` (`Bearer <key>`); otherwise onConnect refuses it (4403).
 */
export function attachWebSocketServer(opts: {
  httpServer: HttpServer;
  schema: GraphQLSchema;
  path: string;
  authenticate: (key: string) => Promise<AuthInfo | null>;
  formatError: ErrorFormatter;
  log: Logger;
  metrics: Metrics;
  queryLimits: QueryLimits;
  rateLimits: RateLimits;
  maxConnectionsPerKey: number;
}): WsHandle {
  const connections = new ConnectionCounter(opts.maxConnectionsPerKey);
  const wss = new WebSocketServer({ server: opts.httpServer, path: opts.path, maxPayload: 1024 * 1024 });
  const server = useServer<Record<string, unknown> | undefined, ConnectionExtra>(
    {
      schema: opts.schema,
      onConnect: async (ctx) => {
        const key = parseAuthorization(ctx.connectionParams?.authorization);
        const auth = key ? await opts.authenticate(key) : null;
        if (!auth) {
          opts.log.info('websocket refused: missing or invalid API key');
          return false;
        }
        if (!connections.acquire(auth.apiKeyId)) {
          opts.log.info({ apiKeyId: auth.apiKeyId }, 'websocket refused: too many connections for this key');
          // Closed here with its own code; graphql-ws's 4403 that follows is ignored by ws.
          ctx.extra.socket.close(
            WS_CLOSE_TOO_MANY_CONNECTIONS,
            `Too many connections for this API key (limit ${opts.maxConnectionsPerKey} per instance)`,
          );
          return false;
        }
        ctx.extra.counted = true;
        ctx.extra.auth = auth;
        opts.metrics.wsConnections.inc();
        return true;
      },
      onClose: (ctx) => {
        if (!ctx.extra.counted || !ctx.extra.auth) return;
        ctx.extra.counted = false;
        connections.release(ctx.extra.auth.apiKeyId);
        opts.metrics.wsConnections.dec();
      },
      // Parse and validate here (as graphql-ws would), then the same limits as HTTP: rate budget,
      // depth, complexity. A refused operation gets an error message and runs nothing.
      onSubscribe: async (ctx, _id, payload) => {
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (err) {
          return [err as GraphQLError];
        }
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
        const limited = checkQueryLimits(opts.schema, document, payload.variables ?? undefined, payload.operationName, opts.queryLimits);
        if (limited) return [appErrorToGraphQL(limited)];
        return {
          schema: opts.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: createRequestContext(auth ?? null, randomUUID()),
        };
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors?.length) return;
        return { ...result, errors: result.errors.map((e) => opts.formatError(e.toJSON(), e)) };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => opts.formatError(e.toJSON(), e)),
    },
    wss,
  );
  return {
    async close() {
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
