import type { AuthChecker } from 'type-graphql';
import { AppError } from '../errors';
import { Role } from './role';

/** Who is calling: resolved from the API key once per request or WebSocket connection. */
export interface AuthInfo {
  readonly workspaceId: string;
  readonly apiKeyId: string;
  readonly role: Role;
  /** May see unmasked personal data: ADMIN, or a READ key created with `pii`. */
  readonly pii: boolean;
}

export interface AuthContext {
  auth: AuthInfo | null;
  /** A key was sent but is unknown or revoked (auth is then null, as without a key). */
  keyRejected?: boolean;
}

/** Without a key, or with an unknown or revoked one: the same UNAUTHENTICATED error, worded for each. */
function unauthenticated(ctx: AuthContext): AppError {
  return AppError.unauthenticated(ctx.keyRejected ? 'The API key is unknown or revoked.' : undefined);
}

/**
 * `@Authorized()` = any valid key; `@Authorized(Role.READ, ...)` = those roles. ADMIN passes every
 * check. Failing throws a typed AppError so the formatter maps it to UNAUTHENTICATED/FORBIDDEN.
 */
export const authChecker: AuthChecker<AuthContext, Role> = ({ context }, roles) => {
  requireRole(context, roles);
  return true;
};

/**
 * The caller's auth when their key has one of `roles` (any valid key when none; ADMIN always), else
 * UNAUTHENTICATED or FORBIDDEN: the check of `@Authorized`, for code that runs outside it (a
 * subscription's `subscribe`).
 */
export function requireRole(ctx: AuthContext, roles: readonly Role[]): AuthInfo {
  const auth = ctx.auth;
  if (!auth) throw unauthenticated(ctx);
  if (roles.length === 0 || auth.role === Role.ADMIN || roles.includes(auth.role)) return auth;
  throw AppError.forbidden(`This needs one of the roles ${roles.map((r) => r.toUpperCase()).join(', ')}; your key has ${auth.role.toUpperCase()}.`);
}

/** For services: the caller's workspace, or UNAUTHENTICATED. */
export function requireAuth(ctx: AuthContext): AuthInfo {
  if (!ctx.auth) throw unauthenticated(ctx);
  return ctx.auth;
}
