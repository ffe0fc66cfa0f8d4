import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { ComplianceService } from './compliance.service';
import { ComplianceResolver, ProfileConsentResolver } from './compliance.resolver';

export { ComplianceService, MARKETING } from './compliance.service';
export type { ComplianceSettings, ErasureResult } from './compliance.service';
export { AuditService, actorOf } from './audit.service';
export type { AuditActor, AuditEntry } from './audit.service';
export { CONSENT_PURPOSES, CONSENT_EVENT } from './consent';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const COMPLIANCE_RESOLVERS: Function[] = [ComplianceResolver, ProfileConsentResolver];

/** The compliance module: consent, the rights of the person, retention and the audit log. */
export const COMPLIANCE_MODULE: ModuleManifest<{ compliance: ComplianceService }, Projection> = {
  name: 'compliance',
  // A getter: resolver classes are read when the schema is built, after every module has loaded.
  get resolvers() {
    return COMPLIANCE_RESOLVERS;
  },
  projection: (s) => s.compliance.projection,
};
