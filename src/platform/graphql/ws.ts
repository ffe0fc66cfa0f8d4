import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { parseAuthorization, type AuthInfo } from '../auth';
import type { ErrorFormatter } from '../errors';
import type { Logger } from '../logging';
import type { Metrics } from '../metrics';
import { createRequestContext } from './context';

export interface WsHandle {
  /** Closes every socket (1001 Going Away) and stops accepting new ones. */
  close(): Promise<void>;
}

type ConnectionExtra = Record<PropertyKey, unknown> & {
  auth?: AuthInfo;
};

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
}): WsHandle {
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
        ctx.extra.auth = auth;
        opts.metrics.wsConnections.inc();
        return true;
      },
      onDisconnect: (ctx) => {
        if (ctx.extra.auth) opts.metrics.wsConnections.dec();
      },
      context: (ctx) => createRequestContext(ctx.extra.auth ?? null, randomUUID()),
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
