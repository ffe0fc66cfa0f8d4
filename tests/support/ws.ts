import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import { print, type DocumentNode } from 'graphql';
import WebSocket from 'ws';

export interface WsTestClient {
  client: Client;
  /** Resolves when the socket is acknowledged, rejects with the close event when refused. */
  connected: Promise<void>;
  dispose(): Promise<void>;
}

export function wsClient(httpUrl: string, key: string | null): WsTestClient {
  let onAck!: () => void;
  let onRefused!: (e: { code: number; reason: string }) => void;
  const connected = new Promise<void>((resolve, reject) => {
    onAck = resolve;
    onRefused = reject;
  });
  const client = createClient({
    url: httpUrl.replace(/^http/, 'ws') + '/graphql',
    webSocketImpl: WebSocket,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    retryAttempts: 0,
    lazy: false,
    on: {
      connected: () => onAck(),
      closed: (e) => onRefused(e as { code: number; reason: string }),
    },
  });
  return { client, connected, dispose: async () => client.dispose() };
}

/** Subscribes and collects results; `next(n)` waits (with a timeout) until n results arrived. */
export function collect<T>(client: Client, doc: DocumentNode, variables: Record<string, unknown> = {}) {
  const results: ExecutionResult<T>[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let error: unknown;
  const unsubscribe = client.subscribe<T>(
    { query: print(doc), variables },
    {
      next: (r) => {
        results.push(r as ExecutionResult<T>);
        for (const w of waiters.filter((w) => results.length >= w.n)) w.resolve();
      },
      error: (e) => {
        error = e;
      },
      complete: () => {},
    },
  );
  return {
    results,
    get error() {
      return error;
    },
    unsubscribe,
    next(n: number, timeoutMs = 5000): Promise<ExecutionResult<T>[]> {
      if (results.length >= n) return Promise.resolve(results);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} results (got ${results.length}${error === undefined ? '' : `; the subscription failed: ${describe(error)}`})`)), timeoutMs);
        waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(results); } });
      });
    },
  };
}

/** A sink error as text: a GraphQL error list, a close event (code and reason) or anything else. */
function describe(error: unknown): string {
  if (Array.isArray(error)) return JSON.stringify(error);
  if (error && typeof error === 'object' && 'code' in error) {
    const e = error as { code: unknown; reason?: unknown };
    return `socket closed ${String(e.code)} ${String(e.reason ?? '')}`;
  }
  return error instanceof Error ? error.message : String(error);
}
