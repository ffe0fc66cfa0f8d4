import { AppError, ErrorClass, type FieldError } from '../../platform/errors';
import { IDENTIFIER_TYPES, isIdentifierType, type IdentifierType } from './identifier-type';

export interface IdentifierRule {
  type: IdentifierType;
  /** 1 is highest. Decides the target profile and the order in which links are tried. */
  priority: number;
  /** How many of this type one person may hold — per namespace for namespaced types. */
  maxPerProfile: number;
}

export interface IdentityRulesDocument {
  types: IdentifierRule[];
  /** Values (after trimming, case-insensitive) that never identify anyone. */
  blockedValues: string[];
  /** Regular expressions (case-insensitive) for values that never identify anyone. */
  blockedPatterns: string[];
}

/** The defaults pinned down in shared/identity-scenarios.json. */
export const DEFAULT_IDENTITY_RULES: IdentityRulesDocument = {
  types: [
    { type: 'member_id', priority: 1, maxPerProfile: 1 },
    { type: 'wechat_unionid', priority: 2, maxPerProfile: 1 },
    { type: 'phone', priority: 3, maxPerProfile: 2 },
    { type: 'email', priority: 4, maxPerProfile: 3 },
    { type: 'wecom_external_userid', priority: 5, maxPerProfile: 1 },
    { type: 'wechat_openid', priority: 6, maxPerProfile: 1 },
    { type: 'douyin_unionid', priority: 7, maxPerProfile: 1 },
    { type: 'douyin_openid', priority: 8, maxPerProfile: 1 },
    { type: 'xhs_user_id', priority: 9, maxPerProfile: 1 },
    { type: 'weibo_uid', priority: 10, maxPerProfile: 1 },
    { type: 'kuaishou_uid', priority: 11, maxPerProfile: 1 },
    { type: 'device_id', priority: 12, maxPerProfile: 10 },
    { type: 'anonymous_id', priority: 13, maxPerProfile: 50 },
  ],
  blockedValues: ['', 'undefined', 'null', 'nil', 'none', '0', '-1', 'unknown', 'anonymous', 'n/a'],
  blockedPatterns: [],
};

const MAX_PATTERN_LENGTH = 200;

/** A workspace's identity rules, validated and indexed for the hot path. */
export class IdentityRules {
  private readonly byType = new Map<IdentifierType, IdentifierRule>();
  private readonly blocked: Set<string>;
  private readonly patterns: RegExp[];

  constructor(readonly doc: IdentityRulesDocument) {
    for (const r of doc.types) this.byType.set(r.type, r);
    this.blocked = new Set(doc.blockedValues.map((v) => v.trim().toLowerCase()));
    this.patterns = doc.blockedPatterns.map((p) => new RegExp(p, 'i'));
  }

  static defaults(): IdentityRules {
    return new IdentityRules(DEFAULT_IDENTITY_RULES);
  }

  priority(type: IdentifierType): number {
    return this.byType.get(type)!.priority;
  }

  maxPerProfile(type: IdentifierType): number {
    return this.byType.get(type)!.maxPerProfile;
  }

  isBlocked(value: string): boolean {
    const v = value.trim().toLowerCase();
    return this.blocked.has(v) || this.patterns.some((p) => p.test(v));
  }

  /**
   * Validates a replacement document: every type exactly once, distinct priorities, limits ≥ 1,
   * patterns that compile. Throws BAD_USER_INPUT naming each offending field.
   */
  static validate(doc: IdentityRulesDocument): IdentityRules {
    const fields: FieldError[] = [];
    const seen = new Set<string>();
    const priorities = new Set<number>();
    doc.types.forEach((r, i) => {
      if (!isIdentifierType(r.type)) fields.push({ field: `types.${i}.type`, message: `unknown identifier type ${r.type}` });
      else if (seen.has(r.type)) fields.push({ field: `types.${i}.type`, message: `${r.type} is listed twice` });
      seen.add(r.type);
      if (!Number.isInteger(r.priority) || r.priority < 1) fields.push({ field: `types.${i}.priority`, message: 'must be an integer ≥ 1' });
      else if (priorities.has(r.priority)) fields.push({ field: `types.${i}.priority`, message: `priority ${r.priority} is used twice` });
      priorities.add(r.priority);
      if (!Number.isInteger(r.maxPerProfile) || r.maxPerProfile < 1 || r.maxPerProfile > 1000) {
        fields.push({ field: `types.${i}.maxPerProfile`, message: 'must be an integer between 1 and 1000' });
      }
    });
    for (const t of Object.keys(IDENTIFIER_TYPES)) {
      if (!seen.has(t)) fields.push({ field: 'types', message: `missing a rule for ${t}` });
    }
    doc.blockedPatterns.forEach((p, i) => {
      if (p.length > MAX_PATTERN_LENGTH) fields.push({ field: `blockedPatterns.${i}`, message: `longer than ${MAX_PATTERN_LENGTH} characters` });
      else {
        try {
          new RegExp(p, 'i');
        } catch (e) {
          fields.push({ field: `blockedPatterns.${i}`, message: `not a valid regular expression: ${(e as Error).message}` });
        }
      }
    });
    if (fields.length) {
      throw new AppError(
        ErrorClass.BAD_USER_INPUT,
        'INVALID_IDENTITY_RULES',
        `Invalid identity rules: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`,
        fields,
      );
    }
    return new IdentityRules({ ...doc, types: [...doc.types].sort((a, b) => a.priority - b.priority) });
  }
}
