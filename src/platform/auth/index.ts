export { Role } from './role';
export { generateApiKey, hashApiKey, displayPrefix, parseAuthorization } from './keys';
export { authChecker, requireAuth, requireRole } from './context';
export type { AuthInfo, AuthContext } from './context';
