import type { Rejection } from '../../platform/errors';
import { parseTimestamp } from '../../shared/dates';
import { findUnstorableText, UNSTORABLE_TEXT_MESSAGE } from '../../shared/text';
import { isChannel, prepareIdentifier, separatePersonalTraits, type Channel, type IdentityRules, type PiiCipher, type PreparedIdentifier } from '../identities';

export const MAX_EVENTS_PER_BATCH = 1000;
export const MAX_EVENT_BYTES = 32 * 1024;
export const MAX_IDENTIFIERS_PER_EVENT = 20;
const MAX_TAGS_PER_EVENT = 50;
const TAG_KEY_FORMAT = /^[\p{L}\p{N}_:.-]{1,64}$/u;
const MAX_FUTURE_MS = 24 * 3600 * 1000;
const MIN_TIMESTAMP = Date.parse('2000-01-01T00:00:00Z');
export const EVENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type RelationKind = 'invited' | 'referred' | 'shared_to' | 'group_buy_with' | 'distributor_of' | 'served_by';

export interface RawEvent {
  messageId?: unknown;
  type?: unknown;
  name?: unknown;
  channel?: unknown;
  timestamp?: unknown;
  identifiers?: unknown;
  traits?: unknown;
  properties?: unknown;
  context?: unknown;
}

export interface RelationRef {
  kind: RelationKind;
  /** The other person (inviter, sharer, …); absent for `served_by`, which names a staff member. */
  other?: PreparedIdentifier;
  staffId?: string;
}

export interface ValidEvent {
  index: number;
  messageId: string;
  type: EventType;
  name: string | null;
  channel: Channel;
  ts: Date;
  identifiers: PreparedIdentifier[];
  dropped: number;
  traits: Record<string, unknown> | null;
  properties: Record<string, unknown> | null;
  context: Record<string, unknown> | null;
  relations: RelationRef[];
  /** Order Completed: the order value. */
  revenue: number | null;
  /** Manual tags to add (`traits.tags`); removed from the stored traits. */
  tags: string[];
}

export type Validation = { ok: true; event: ValidEvent } | ({ ok: false } & Rejection);

/** Well-known events that link the person to another one through a property. */
const PROPERTY_RELATIONS: Record<string, { property: string; kind: RelationKind }> = {
  'Invite Accepted': { property: 'inviter', kind: 'invited' },
  'Group Buy Joined': { property: 'groupBuyInitiator', kind: 'group_buy_with' },
  'Distributor Bound': { property: 'distributor', kind: 'distributor_of' },
};
const CONTEXT_RELATIONS: Record<string, RelationKind> = { sharedBy: 'shared_to', referrer: 'referred' };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function reject(reason: string, field: string, message: string): Validation {
  return { ok: false, reason, field, message };
}

/**
 * Validates and prepares one event. Never throws: the result says accepted or why not, naming the
 * field (`identifiers.2.value`, `properties.revenue`, …), so one bad event never sinks the batch.
 */
export function validateEvent(raw: RawEvent, index: number, rules: IdentityRules, cipher: PiiCipher, now = Date.now()): Validation {
  if (!isObject(raw)) return reject('INVALID_EVENT', '', 'an event must be an object');
  const size = Buffer.byteLength(JSON.stringify(raw), 'utf8');
  if (size > MAX_EVENT_BYTES) return reject('EVENT_TOO_LARGE', '', `event is ${size} bytes; the limit is ${MAX_EVENT_BYTES}`);
  const unstorable = findUnstorableText(raw);
  if (unstorable !== null) {
    return reject('INVALID_TEXT', unstorable, UNSTORABLE_TEXT_MESSAGE);
  }

  const { messageId, type, name, channel } = raw;
  if (typeof messageId !== 'string' || messageId.trim().length === 0 || messageId.length > 200) {
    return reject('INVALID_MESSAGE_ID', 'messageId', 'messageId must be a string of 1–200 characters');
  }
  if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) {
    return reject('INVALID_EVENT_TYPE', 'type', `type must be one of ${EVENT_TYPES.join(', ')}`);
  }
  if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > 200)) {
    return reject('INVALID_NAME', 'name', 'name must be a string of at most 200 characters');
  }
  const eventName = typeof name === 'string' && name.trim() ? name.trim() : null;
  if (type === 'track' && !eventName) return reject('NAME_REQUIRED', 'name', 'a track event needs a name');
  if (!isChannel(channel)) return reject('UNKNOWN_CHANNEL', 'channel', `unknown channel ${JSON.stringify(channel)}`);

  let ts = now;
  if (raw.timestamp !== undefined && raw.timestamp !== null) {
    ts = typeof raw.timestamp === 'string' ? parseTimestamp(raw.timestamp) : raw.timestamp instanceof Date ? raw.timestamp.getTime() : NaN;
    if (Number.isNaN(ts)) return reject('INVALID_TIMESTAMP', 'timestamp', 'timestamp must be an ISO 8601 date-time on the calendar (e.g. 2026-11-23T08:00:00Z)');
    if (ts > now + MAX_FUTURE_MS) return reject('TIMESTAMP_IN_FUTURE', 'timestamp', 'timestamp is more than 24 hours in the future');
    if (ts < MIN_TIMESTAMP) return reject('TIMESTAMP_TOO_OLD', 'timestamp', 'timestamp is before 2000-01-01');
  }

  for (const f of ['traits', 'properties', 'context'] as const) {
    if (raw[f] !== undefined && raw[f] !== null && !isObject(raw[f])) return reject('INVALID_JSON', f, `${f} must be a JSON object`);
  }
  let traits = (raw.traits as Record<string, unknown> | undefined) ?? null;
  let tags: string[] = [];
  if (traits && 'tags' in traits) {
    const t = traits.tags;
    if (!Array.isArray(t) || t.length > MAX_TAGS_PER_EVENT) return reject('INVALID_TAGS', 'traits.tags', `traits.tags must be a list of at most ${MAX_TAGS_PER_EVENT} tag keys`);
    const bad = t.findIndex((k) => typeof k !== 'string' || !TAG_KEY_FORMAT.test(k));
    if (bad >= 0) return reject('INVALID_TAGS', `traits.tags.${bad}`, 'a tag key is 1–64 letters, digits, _ : . or -');
    tags = [...new Set(t as string[])];
    const { tags: _omit, ...rest } = traits;
    traits = Object.keys(rest).length ? rest : null;
  }
  const properties = (raw.properties as Record<string, unknown> | undefined) ?? null;
  const context = (raw.context as Record<string, unknown> | undefined) ?? null;

  // Phone and e-mail in traits are identifiers, not traits: they are stored encrypted and masked,
  // never as plain trait values. Exactly `phone` / `email` must be valid; other keys naming one
  // (`mobile`, `contact.email`, …) become identifiers when they hold one, and every other phone or
  // e-mail in traits is stored sealed.
  const fromTraits: { type: string; value: unknown; field: string }[] = [];
  for (const type of ['phone', 'email'] as const) {
    const v = traits?.[type];
    if (!traits || v === undefined || v === null || v === '') continue;
    fromTraits.push({ type, value: v, field: `traits.${type}` });
    const { [type]: _moved, ...rest } = traits;
    traits = Object.keys(rest).length ? rest : null;
  }
  if (traits) {
    const separated = separatePersonalTraits(traits, cipher);
    traits = separated.traits;
    fromTraits.push(...separated.identifiers);
  }
  if (!Array.isArray(raw.identifiers) || raw.identifiers.length === 0) {
    if (!fromTraits.length) return reject('NO_IDENTIFIER', 'identifiers', 'an event needs at least one identifier');
  }
  const rawIds: unknown[] = Array.isArray(raw.identifiers) ? raw.identifiers : [];
  if (rawIds.length > MAX_IDENTIFIERS_PER_EVENT) {
    return reject('TOO_MANY_IDENTIFIERS', 'identifiers', `at most ${MAX_IDENTIFIERS_PER_EVENT} identifiers per event`);
  }
  const identifiers: PreparedIdentifier[] = [];
  let dropped = 0;
  for (let i = 0; i < rawIds.length; i++) {
    const r = prepareIdentifier(isObject(rawIds[i]) ? (rawIds[i] as Record<string, unknown>) : {}, rules, cipher);
    if (r.ok) identifiers.push(r.id);
    else if (r.dropped) dropped++;
    else return reject(r.reason, `identifiers.${i}.${r.field}`, r.message);
  }
  for (const t of fromTraits) {
    const r = prepareIdentifier({ type: t.type, value: t.value }, rules, cipher);
    if (r.ok) identifiers.push(r.id);
    else if (r.dropped) dropped++;
    else return reject(r.reason, t.field, r.message);
  }
  if (identifiers.length === 0) {
    return reject('NO_USABLE_IDENTIFIER', 'identifiers', 'every identifier is a blocked value (empty, "null", "0", …): nobody can be identified');
  }

  let revenue: number | null = null;
  if (eventName === 'Order Completed') {
    const v = properties?.revenue ?? properties?.total ?? 0;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1e12) {
      return reject('INVALID_REVENUE', properties?.revenue !== undefined ? 'properties.revenue' : 'properties.total', 'revenue must be a non-negative number');
    }
    revenue = Math.round(n * 100) / 100;
  }

  const relations: RelationRef[] = [];
  const addRelation = (kind: RelationKind, value: unknown, field: string): Rejection | null => {
    if (!isObject(value)) return { reason: 'INVALID_RELATION', field, message: `${field} must be an identifier {type, namespace, value}` };
    const r = prepareIdentifier(value, rules, cipher);
    if (r.ok) relations.push({ kind, other: r.id });
    else if (!r.dropped) return { reason: r.reason, field: `${field}.${r.field}`, message: r.message };
    return null;
  };
  const rel = eventName ? PROPERTY_RELATIONS[eventName] : undefined;
  if (rel && properties?.[rel.property] !== undefined) {
    const e = addRelation(rel.kind, properties[rel.property], `properties.${rel.property}`);
    if (e) return { ok: false, ...e };
  }
  for (const [prop, kind] of Object.entries(CONTEXT_RELATIONS)) {
    if (context?.[prop] !== undefined) {
      const e = addRelation(kind, context[prop], `context.${prop}`);
      if (e) return { ok: false, ...e };
    }
  }
  if (channel === 'wecom' && context?.staff !== undefined) {
    if (typeof context.staff !== 'string' || !context.staff.trim() || context.staff.length > 128) {
      return reject('INVALID_STAFF', 'context.staff', 'context.staff must be the staff user id (1–128 characters)');
    }
    relations.push({ kind: 'served_by', staffId: context.staff.trim() });
  }

  return {
    ok: true,
    event: {
      index,
      messageId: messageId.trim(),
      type: type as EventType,
      name: eventName,
      channel,
      ts: new Date(ts),
      identifiers,
      dropped,
      traits,
      properties,
      context,
      relations,
      revenue,
      tags,
    },
  };
}
