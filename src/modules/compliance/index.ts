import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { ComplianceService } from './compliance.service';
import { ComplianceResolver, ProfileConsentResolver } from './compliance.resolver';

export { ComplianceService, MARKETING } from './compliance.service';
export type { ComplianceSettings, ErasureResult } from './compliance.service';
export { AuditService, actorOf, cliActor, systemActor } from './audit.service';
export type { AuditActor, AuditEntry } from './audit.service';
export { CONSENT_PURPOSES, CONSENT_EVENT } from './consent';

export type { ComplianceResolverDeps } from './compliance.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const COMPLIANCE_RESOLVERS = [ComplianceResolver, ProfileConsentResolver] as const;

/** The compliance module: consent, the rights of the person, retention and the audit log. */
export const COMPLIANCE_MODULE = {
  name: 'compliance',
  resolvers: () => COMPLIANCE_RESOLVERS,
  projection: (s) => s.compliance.projection,
} satisfies ModuleManifest<readonly Function[], { compliance: ComplianceService }, Projection>;
