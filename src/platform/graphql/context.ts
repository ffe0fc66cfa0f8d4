import type { AuthContext, AuthInfo } from '../auth';
import { LoaderRegistry } from './loaders';

/** What every resolver receives. Built per HTTP request, and per WebSocket operation. */
export interface RequestContext extends AuthContext {
  readonly auth: AuthInfo | null;
  readonly requestId: string;
  loaders: LoaderRegistry;
}

/** `keyRejected`: the request sent an unknown or revoked key (it is then treated as sending none). */
export function createRequestContext(auth: AuthInfo | null, requestId: string, keyRejected = false): RequestContext {
  return { auth, requestId, loaders: new LoaderRegistry(), ...(keyRejected ? { keyRejected } : {}) };
}
