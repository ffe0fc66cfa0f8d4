import { ComplianceResolver, ProfileConsentResolver } from './compliance.resolver';

export { ComplianceService, MARKETING } from './compliance.service';
export type { ComplianceSettings, ErasureResult } from './compliance.service';
export { AuditService, actorOf, cliActor, systemActor } from './audit.service';
export type { AuditActor, AuditEntry } from './audit.service';
export { CONSENT_PURPOSES, CONSENT_EVENT } from './consent';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const COMPLIANCE_RESOLVERS: Function[] = [ComplianceResolver, ProfileConsentResolver];
