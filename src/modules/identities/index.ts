import type { ModuleManifest } from '../../platform/module';
// First: the profiles module (loaded through the identity service) reads this input type while it loads.
export { IdentifierInput } from './identity.inputs';
export { IDENTIFIER_TYPES, CHANNELS, PII_TYPES, isChannel, isIdentifierType } from './identifier-type';
export type { Channel, IdentifierType } from './identifier-type';
export { IdentityGraph, idKey, splitIdKey } from './identity-graph';
export type { IdKey, EventIdentifier } from './identity-graph';
export { IdentityRules, DEFAULT_IDENTITY_RULES } from './identity-rules';
export type { IdentityRulesDocument, IdentifierRule } from './identity-rules';
export { IdentityRepository, keyTriple, identifierRowFrom } from './identity.repository';
export type { IdentifierRow } from './identity.repository';
export { IdentityService } from './identity.service';
export type { UnmergeFollowers } from './identity.service';
export { PiiCipher, maskEmail, maskPhone, maskPersonalJson } from './pii-cipher';
export { resolvePiiMasterKey } from './pii-key';
export { separatePersonalTraits, revealPersonalJson, personalTraitKind } from './personal-traits';
export { openPiiCipher, rotatePiiKeyring, reencryptPii, masterFingerprint } from './pii-keyring';
export { prepareIdentifier } from './prepare';
export type { PreparedIdentifier } from './prepare';
// Last: the resolver needs the profiles module, which needs the exports above (a cycle at load time).
import { IdentityResolver } from './identity.resolver';
export { IdentityResolver };
export type { IdentityResolverDeps } from './identity.resolver';

/** The identities module: identity rules, resolution, merges and unmerges, the PII cipher. */
export const IDENTITIES_MODULE = {
  name: 'identities',
  resolvers: () => [IdentityResolver] as const,
} satisfies ModuleManifest;
