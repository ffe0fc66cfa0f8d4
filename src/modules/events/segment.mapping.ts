import type { Rejection } from '../../platform/errors';
import { randomUUID } from 'node:crypto';
import { IDENTIFIER_TYPES, isChannel, isIdentifierType, type Channel, type IdentifierType } from '../identities';
import type { RawEvent } from './event-validation';
import { parseTimestamp } from '../../shared/dates';

/**
 * Segment tracking-API messages → Siyu events (docs/segment.md has the table). Pure functions: no
 * I/O, no clock (the receive time is passed in), so the rules are unit-tested on their own. The
 * result goes through the normal pipeline (`validateEvent`), which rejects bad values per event;
 * this module only decides where each Segment field goes and which Segment field a rejection names.
 */

export const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

/** Where an identifier came from, as Segment paths (`context.externalIds.2.id`, …). */
export interface IdentifierSource {
  type?: string;
  namespace?: string;
  value: string;
}

/** The Segment field behind each Siyu field that a rejection may name. */
export interface FieldSources {
  name: string;
  timestamp: string;
  /** The timestamp was clock-skew corrected with a `sentAt` (a rejection of it says so). */
  skewCorrected?: boolean;
  identifiers: IdentifierSource[];
}

export interface MappedEvent {
  /** Null when the message is not a JSON object (the pipeline rejects it as INVALID_EVENT). */
  event: RawEvent | null;
  sources: FieldSources;
}

export interface MapOptions {
  /** The type from the endpoint (`/v1/track` → track); batch items carry their own `type`. */
  type?: string;
  /** When the request arrived (ms since epoch): the reference for clock-skew correction. */
  receivedAt: number;
  /** Batch-level `sentAt` (analytics-node sends it once per batch); a message's own wins. */
  sentAt?: unknown;
  /** Batch-level `context`, merged under each message's own (the message wins per key). */
  context?: unknown;
  /** For messages without `messageId`; default `randomUUID()`. */
  newMessageId?: () => string;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const present = (v: unknown) => v !== undefined && v !== null;

/** Library names (`context.library.name`) of Segment's browser and mobile SDKs. */
const BROWSER_LIBRARY = /analytics\.js|analytics-next|analytics-browser/i;
const MOBILE_LIBRARY = /ios|android|react-native|swift|kotlin|flutter|xamarin|unity/i;

/**
 * The channel of a message: `context.channel` when it names a Siyu channel; otherwise by the
 * sending library — browser SDKs (analytics.js / analytics-next) → `web`, mobile SDKs (iOS,
 * Android, React Native, Swift, Kotlin, Flutter, …) → `app`, anything else (server libraries such
 * as analytics-node, curl, no library) → `other`.
 */
export function segmentChannel(context: unknown): Channel {
  if (!isObject(context)) return 'other';
  if (isChannel(context.channel)) return context.channel;
  const library = isObject(context.library) && typeof context.library.name === 'string' ? context.library.name : '';
  if (BROWSER_LIBRARY.test(library)) return 'web';
  if (MOBILE_LIBRARY.test(library)) return 'app';
  return 'other';
}

/** The ends of JavaScript's date range: ±100,000,000 days around 1970. */
const MAX_DATE_MS = 8.64e15;

/**
 * Segment's clock-skew correction: the device clock may be wrong, but the difference between two
 * readings of it is not, so `timestamp + (receivedAt − sentAt)` is the time on the server's clock.
 * Without a usable `sentAt` the timestamp is kept as sent; an unparsable one is passed on unchanged
 * so that validation rejects it by name. A sum past either end of the date range (a timestamp or
 * `sentAt` near year ±275,760) becomes that end, so that validation rejects the message alone as
 * too far in the future or the past instead of the whole request failing.
 */
export function correctTimestamp(timestamp: unknown, sentAt: unknown, receivedAt: number): unknown {
  if (typeof timestamp !== 'string' || typeof sentAt !== 'string') return timestamp;
  const ts = parseTimestamp(timestamp);
  const sent = parseTimestamp(sentAt);
  if (Number.isNaN(ts) || Number.isNaN(sent)) return timestamp;
  return new Date(Math.min(MAX_DATE_MS, Math.max(-MAX_DATE_MS, ts + (receivedAt - sent)))).toISOString();
}

interface RawIdentifier {
  type: IdentifierType;
  namespace?: unknown;
  value: unknown;
}

/**
 * The identifiers a message carries, with the Segment field each came from:
 * `userId` → member_id; `anonymousId` → anonymous_id; alias `previousId` → anonymous_id;
 * identify `traits.phone` / `traits.email` → phone / email; `context.wechat.openid` →
 * wechat_openid (namespace `appid`); `context.wechat.unionid` → wechat_unionid (namespace
 * `openPlatformId`); `context.externalIds[]` whose `type` is a Siyu identifier type (namespace =
 * `collection` for namespaced types; entries with an `encoding` other than `none` are skipped,
 * because a hashed value cannot be normalised or matched). Values are passed as sent: malformed
 * ones, or a namespaced id without its namespace, are rejected by the pipeline.
 */
export function segmentIdentifiers(message: Json, type: string, context: Json | null): { identifiers: RawIdentifier[]; sources: IdentifierSource[]; usedExternalIds: Set<number> } {
  const identifiers: RawIdentifier[] = [];
  const sources: IdentifierSource[] = [];
  const usedExternalIds = new Set<number>();
  const add = (id: RawIdentifier, source: IdentifierSource) => {
    identifiers.push(id);
    sources.push(source);
  };
  if (present(message.userId)) add({ type: 'member_id', value: message.userId }, { value: 'userId' });
  if (present(message.anonymousId)) add({ type: 'anonymous_id', value: message.anonymousId }, { value: 'anonymousId' });
  if (type === 'alias' && present(message.previousId)) add({ type: 'anonymous_id', value: message.previousId }, { value: 'previousId' });
  if (type === 'identify' && isObject(message.traits)) {
    if (present(message.traits.phone)) add({ type: 'phone', value: message.traits.phone }, { value: 'traits.phone' });
    if (present(message.traits.email)) add({ type: 'email', value: message.traits.email }, { value: 'traits.email' });
  }
  const wechat = context?.wechat;
  if (isObject(wechat)) {
    if (present(wechat.openid)) {
      add({ type: 'wechat_openid', namespace: wechat.appid, value: wechat.openid }, { value: 'context.wechat.openid', namespace: 'context.wechat.appid' });
    }
    if (present(wechat.unionid)) {
      add(
        { type: 'wechat_unionid', namespace: wechat.openPlatformId, value: wechat.unionid },
        { value: 'context.wechat.unionid', namespace: 'context.wechat.openPlatformId' },
      );
    }
  }
  const externalIds = context?.externalIds;
  if (Array.isArray(externalIds)) {
    externalIds.forEach((x, i) => {
      if (!isObject(x) || !isIdentifierType(x.type) || !present(x.id)) return;
      if (present(x.encoding) && String(x.encoding).toLowerCase() !== 'none') return;
      const path = `context.externalIds.${i}`;
      const namespaced = IDENTIFIER_TYPES[x.type].namespaced;
      add(
        { type: x.type, ...(namespaced ? { namespace: x.collection } : {}), value: x.id },
        { type: `${path}.type`, value: `${path}.id`, ...(namespaced ? { namespace: `${path}.collection` } : {}) },
      );
      usedExternalIds.add(i);
    });
  }
  return { identifiers, sources, usedExternalIds };
}

/** Identify traits that become (encrypted, masked) identifiers rather than plain-text traits. */
const IDENTIFIER_TRAITS = ['phone', 'email'];

/**
 * Context as stored: the batch context under the message's own; `externalIds` entries that became
 * identifiers removed (they may hold phone numbers or e-mails, which Siyu stores only encrypted),
 * and so are `phone` and `email` in `context.traits`;
 * a Segment `context.referrer` (an object like `{ type: "dataxu", id }`) that is not a Siyu
 * identifier moved to `context.segmentReferrer`, because Siyu reads `context.referrer` as the
 * identifier of the person who referred this one.
 */
function storedContext(message: Json, batchContext: unknown, usedExternalIds: Set<number>): unknown {
  const own = message.context;
  if (present(own) && !isObject(own)) return own;
  if (!isObject(own) && !isObject(batchContext)) return undefined;
  const ctx: Json = { ...(isObject(batchContext) ? batchContext : {}), ...(isObject(own) ? own : {}) };
  if (Array.isArray(ctx.externalIds) && usedExternalIds.size) {
    const rest = ctx.externalIds.filter((_x, i) => !usedExternalIds.has(i));
    if (rest.length) ctx.externalIds = rest;
    else delete ctx.externalIds;
  }
  // RudderStack's SDKs copy identify traits into context.traits: phone and e-mail would be stored
  // there in plain text.
  if (isObject(ctx.traits) && IDENTIFIER_TRAITS.some((k) => k in (ctx.traits as Json))) {
    const rest = Object.fromEntries(Object.entries(ctx.traits).filter(([k]) => !IDENTIFIER_TRAITS.includes(k)));
    if (Object.keys(rest).length) ctx.traits = rest;
    else delete ctx.traits;
  }
  if (present(ctx.referrer) && !(isObject(ctx.referrer) && isIdentifierType(ctx.referrer.type))) {
    ctx.segmentReferrer = ctx.referrer;
    delete ctx.referrer;
  }
  return ctx;
}

/** Adds `extra` keys the properties do not already have; leaves a non-object for validation to reject. */
function withProperties(properties: unknown, extra: Json): unknown {
  if (present(properties) && !isObject(properties)) return properties;
  const defined = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined));
  const out = { ...defined, ...(isObject(properties) ? properties : {}) };
  return Object.keys(out).length ? out : undefined;
}

/**
 * One Segment message → one Siyu event.
 * - `type` from the endpoint, else the message's own (batch).
 * - name: track `event`; page/screen `name` (absent → no name: Siyu does not invent "Page Viewed",
 *   which could collide with a track event of that name); identify/group/alias none.
 * - properties: track/page/screen `properties`; page/screen also get `name` and `category` unless
 *   the properties already have them; group gets `{ groupId, groupTraits }` (group traits describe
 *   the company, not the person, so they never become profile traits).
 * - traits: identify only, without `phone` / `email` (those become identifiers). A track's
 *   `context.traits` stays in context (without `phone` / `email`).
 * - timestamp: `timestamp`, else `originalTimestamp`, clock-skew corrected with `sentAt`.
 * - messageId: as sent; absent → a random UUID (a retry of such a message is then not idempotent).
 */
export function segmentToRawEvent(message: unknown, opts: MapOptions): MappedEvent {
  const type = opts.type ?? (isObject(message) ? message.type : undefined);
  const nameField = type === 'track' ? 'event' : 'name';
  if (!isObject(message)) return { event: null, sources: { name: nameField, timestamp: 'timestamp', identifiers: [] } };

  const ownContext = isObject(message.context) ? message.context : null;
  const mergedContext = isObject(opts.context) ? { ...opts.context, ...(ownContext ?? {}) } : ownContext;
  const { identifiers, sources, usedExternalIds } = segmentIdentifiers(message, String(type), mergedContext);

  const timestampField = present(message.timestamp) ? 'timestamp' : present(message.originalTimestamp) ? 'originalTimestamp' : 'timestamp';
  const sentAt = present(message.sentAt) ? message.sentAt : opts.sentAt;
  const timestamp = correctTimestamp(message[timestampField], sentAt, opts.receivedAt);
  const skewCorrected = timestamp !== message[timestampField];

  let name: unknown;
  let properties: unknown;
  let traits: unknown;
  switch (type) {
    case 'track':
      name = message.event;
      properties = message.properties;
      break;
    case 'page':
    case 'screen':
      name = message.name;
      properties = withProperties(message.properties, { name: message.name ?? undefined, category: message.category ?? undefined });
      break;
    case 'identify':
      traits = isObject(message.traits)
        ? Object.fromEntries(Object.entries(message.traits).filter(([k]) => !IDENTIFIER_TRAITS.includes(k)))
        : message.traits;
      break;
    case 'group':
      properties = withProperties(undefined, { groupId: message.groupId ?? undefined, groupTraits: message.traits ?? undefined });
      break;
  }

  const event: RawEvent = {
    messageId: present(message.messageId) ? message.messageId : (opts.newMessageId ?? randomUUID)(),
    type,
    channel: segmentChannel(mergedContext),
    identifiers,
    ...(present(name) ? { name } : {}),
    ...(present(timestamp) ? { timestamp } : {}),
    ...(present(traits) ? { traits } : {}),
    ...(present(properties) ? { properties } : {}),
  };
  const context = storedContext(message, opts.context, usedExternalIds);
  if (present(context)) event.context = context;
  return { event, sources: { name: nameField, timestamp: timestampField, ...(skewCorrected ? { skewCorrected } : {}), identifiers: sources } };
}

/** A pipeline rejection, restated in Segment's terms: the field is the Segment field that caused it. */
export function segmentRejection(error: Rejection, sources: FieldSources): { field: string; message: string } {
  const { reason, field, message } = error;
  if (reason === 'NO_IDENTIFIER' || reason === 'NO_USABLE_IDENTIFIER') {
    return { field: 'userId', message: reason === 'NO_IDENTIFIER' ? 'a message needs a userId or an anonymousId' : message };
  }
  if (reason === 'TOO_MANY_IDENTIFIERS') return { field: 'context.externalIds', message };
  if (field === 'name') return { field: sources.name, message: reason === 'NAME_REQUIRED' ? 'a track message needs an event name (`event`)' : message };
  if (field === 'timestamp') {
    const corrected = sources.skewCorrected ? ' (after clock-skew correction: timestamp + receivedAt − sentAt)' : '';
    return { field: sources.timestamp, message: `${message}${corrected}` };
  }
  if (field === 'channel') return { field: 'context.channel', message };
  const m = /^identifiers\.(\d+)\.(type|namespace|value)$/.exec(field);
  const source = m ? sources.identifiers[Number(m[1])] : undefined;
  if (m && source) return { field: source[m[2] as keyof IdentifierSource] ?? source.value, message };
  return { field, message };
}
