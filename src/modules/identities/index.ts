import type { ModuleManifest } from '../../platform/module';
import { IdentityResolver } from './identity.resolver';
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
export { openPiiCipher, rotatePiiKeyring, reencryptPii, masterFingerprint } from './pii-keyring';
export { prepareIdentifier } from './prepare';
export type { PreparedIdentifier } from './prepare';

/** The identities module: identity rules, resolution, merges and unmerges, the PII cipher. */
export const IDENTITIES_MODULE: ModuleManifest = {
  name: 'identities',
  // A getter: resolver classes are read when the schema is built, after every module has loaded.
  get resolvers() {
    return [IdentityResolver];
  },
};
