import type { Rejection } from '../../platform/errors';
import type { BatchEvent } from '../events';
import { OrgErrorCode } from './org.errors';

/** An org node key: 1–64 letters, digits, `_`, `-`, `.` or `:`, starting with a letter or digit (store codes, region codes). */
export const ORG_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** Deepest a tree may go (headquarters at depth 1). */
export const MAX_DEPTH = 12;
/** Most nodes a workspace may have. */
export const MAX_NODES = 10_000;
/** Most children one node may have: a breakdown by org node reads one group per child. */
export const MAX_CHILDREN = 200;

/** The touchpoint of an event as the KPI rollups key it: `context.touchpoint` when a string (first 200 characters), else ''. */
export function eventTouchpoint(e: Pick<BatchEvent, 'context'>): string {
  const t = e.context?.touchpoint;
  return typeof t === 'string' ? t.slice(0, 200) : '';
}

/** The WeCom staff owner an event names (`context.staff` on channel wecom, trimmed), or null. */
export function eventStaff(e: Pick<BatchEvent, 'channel' | 'context'>): string | null {
  const s = e.context?.staff;
  return e.channel === 'wecom' && typeof s === 'string' && s.trim() && s.length <= 128 ? s.trim() : null;
}

/** The org node an event names (`context.orgNode`), or null. */
export function eventOrgNode(e: Pick<BatchEvent, 'context'>): string | null {
  const n = e.context?.orgNode;
  return typeof n === 'string' ? n : null;
}

/** Ingest check: `context.orgNode`, when present, is a node key. */
export function checkEventOrgNode(e: Pick<BatchEvent, 'context'>): Rejection | null {
  const n = e.context?.orgNode;
  if (n === undefined || n === null) return null;
  if (typeof n !== 'string' || !ORG_KEY.test(n)) {
    return { reason: OrgErrorCode.INVALID_ORG_NODE, field: 'context.orgNode', message: 'context.orgNode must be an org node key: 1–64 letters, digits, _, -, . or :, starting with a letter or digit' };
  }
  return null;
}
