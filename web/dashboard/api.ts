/**
 * The dashboard's connection to Siyu: queries and mutations over HTTP POST, subscriptions over one
 * graphql-ws socket. Both carry the API key (`Authorization: Bearer <key>`; over the socket as
 * `connectionParams.authorization`). Documents are the typed strings from web/dashboard/generated.
 */
import { createClient, type Client } from 'graphql-ws';
import type { TypedDocumentString } from './generated/graphql';

export type ConnectionStatus = 'connecting' | 'live' | 'offline';

/** A GraphQL error from the server (first one), with its `extensions.code`. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface GraphQLErrorLike {
  message: string;
  extensions?: { code?: string };
}

function toApiError(errors: readonly GraphQLErrorLike[]): ApiError {
  return new ApiError(errors.map((e) => e.message).join('; '), errors[0]?.extensions?.code);
}

export interface Api {
  request<R, V>(doc: TypedDocumentString<R, V>, variables: V): Promise<R>;
  /** Subscribes; `onData` gets every result, `onError` errors. Returns the unsubscribe function. */
  subscribe<R, V>(doc: TypedDocumentString<R, V>, variables: V, onData: (data: R) => void, onError: (err: ApiError) => void): () => void;
  close(): void;
}

export function createApi(endpoint: string, key: string, onStatus: (status: ConnectionStatus) => void): Api {
  const httpUrl = new URL(endpoint, window.location.href);
  const wsUrl = new URL(httpUrl);
  wsUrl.protocol = httpUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  const authorization = `Bearer ${key}`;
  let ws: Client | undefined;

  const socket = (): Client => {
    ws ??= createClient({
      url: wsUrl.href,
      connectionParams: { authorization },
      // Keep trying (with graphql-ws's randomised back-off); active subscriptions are resent on
      // reconnect, and kpiUpdated answers a new subscription with the current values first.
      retryAttempts: Number.MAX_SAFE_INTEGER,
      shouldRetry: () => true,
      keepAlive: 15_000,
      on: {
        connecting: () => onStatus('connecting'),
        connected: () => onStatus('live'),
        closed: () => onStatus('offline'),
      },
    });
    return ws;
  };

  return {
    async request(doc, variables) {
      const res = await fetch(httpUrl.href, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization },
        body: JSON.stringify({ query: doc.toString(), variables }),
        credentials: 'omit',
      });
      let body: { data?: unknown; errors?: GraphQLErrorLike[] };
      try {
        body = await res.json();
      } catch {
        throw new ApiError(`HTTP ${res.status}`, res.status === 401 ? 'UNAUTHENTICATED' : undefined);
      }
      if (body.errors?.length) throw toApiError(body.errors);
      if (!res.ok || !body.data) throw new ApiError(`HTTP ${res.status}`, undefined);
      return body.data as never;
    },
    subscribe(doc, variables, onData, onError) {
      return socket().subscribe(
        { query: doc.toString(), variables: variables as Record<string, unknown> },
        {
          next: (result) => {
            if (result.errors?.length) onError(toApiError(result.errors));
            else if (result.data) onData(result.data as never);
          },
          error: (err) => {
            if (Array.isArray(err)) onError(toApiError(err as GraphQLErrorLike[]));
            else if (err instanceof Error) onError(new ApiError(err.message, undefined));
            else onError(new ApiError('The live connection closed.', undefined));
          },
          complete: () => {},
        },
      );
    },
    close() {
      void ws?.dispose();
      ws = undefined;
    },
  };
}
