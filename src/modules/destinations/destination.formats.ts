import { createHmac } from 'node:crypto';
import type { HttpResult } from './destination.network';

export type DestinationFormatKey = 'webhook' | 'wecom' | 'dingtalk' | 'feishu';
export type DeliveryKind = 'alert' | 'journey_trigger' | 'segment_change';

/** What one delivery carries: the outbox row's cause, and the person when the destination may receive personal data. */
export interface OutboundItem {
  id: string;
  workspaceId: string;
  kind: DeliveryKind;
  data: Record<string, unknown>;
  createdAt: Date;
  /** Set only for destinations with `allowPersonalData`. */
  profileId: string | null;
}

export interface OutboundRequest {
  url: URL;
  body: string;
  headers: Record<string, string>;
}

/** The webhook's event type of an item, e.g. `segment.entered`. */
export function eventType(item: Pick<OutboundItem, 'kind' | 'data'>): string {
  if (item.kind === 'alert') return item.data.escalation ? 'alert.escalated' : 'alert.raised';
  if (item.kind === 'journey_trigger') return 'journey.triggered';
  return item.data.change === 'left' ? 'segment.left' : 'segment.entered';
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the `X-Siyu-Signature` header. */
export function webhookSignature(secret: string, unixSeconds: number, body: string): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

/** DingTalk robot 加签: base64 HMAC-SHA256 of `"<timestamp ms>\n<secret>"` keyed by the secret. */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64');
}

/** Feishu bot 签名校验: base64 HMAC-SHA256 of an empty message keyed by `"<timestamp s>\n<secret>"`. */
export function feishuSign(secret: string, timestampSeconds: number): string {
  return createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
}

const LEVEL_TEXT: Record<string, string> = { normal: '一般 normal', important: '重要 important', urgent: '紧急 urgent' };

/** The human text of an item for the robots (markdown for WeCom and DingTalk, plain for Feishu). */
export function messageText(item: OutboundItem, markdown: boolean): { title: string; text: string } {
  const d = item.data;
  const b = (s: string) => (markdown ? `**${s}**` : s);
  const lines: string[] = [];
  let title: string;
  if (item.kind === 'alert') {
    const level = LEVEL_TEXT[String(d.level)] ?? String(d.level);
    title = d.escalation ? `KPI 告警升级 alert escalated [${level}] ×${String(d.escalation)}` : `KPI 告警 alert [${level}]`;
    lines.push(b(title), String(d.message ?? ''), `指标 metric: ${String(d.metric)} · 值 value: ${d.value ?? '—'} · 参考 reference: ${d.reference ?? '—'}`);
    if (d.escalation) lines.push(`超时 overdue: ${String(d.reason ?? '')}`);
  } else if (item.kind === 'journey_trigger') {
    title = `旅程触发 journey trigger: ${String(d.journeyName ?? d.journeyId)}`;
    lines.push(b(title), `步骤 step: ${String(d.stepKey)} · 第 ${String(d.entryNo)} 次进入 entry`);
  } else {
    const verb = d.change === 'left' ? '离开 left' : '进入 entered';
    title = `分群 segment ${verb}: ${String(d.segmentName ?? d.segmentKey ?? d.segmentId)}`;
    lines.push(b(title), `原因 cause: ${String(d.cause)}`);
  }
  if (item.profileId) lines.push(`用户 profile: ${item.profileId}`);
  lines.push(`Siyu #${item.id}`);
  return { title, text: lines.join(markdown ? '\n\n' : '\n') };
}

/** Builds the HTTP request of one delivery in the destination's format, signed at `now`. */
export function render(format: DestinationFormatKey, baseUrl: string, secret: string | null, item: OutboundItem, now: Date): OutboundRequest {
  const url = new URL(baseUrl);
  if (format === 'webhook') {
    const body = JSON.stringify({
      id: item.id,
      type: eventType(item),
      workspaceId: item.workspaceId,
      createdAt: item.createdAt.toISOString(),
      data: item.profileId ? { ...item.data, profileId: item.profileId } : item.data,
    });
    const t = Math.floor(now.getTime() / 1000);
    const headers: Record<string, string> = { 'x-siyu-delivery': item.id, 'x-siyu-event': eventType(item) };
    if (secret) headers['x-siyu-signature'] = webhookSignature(secret, t, body);
    return { url, body, headers };
  }
  if (format === 'wecom') {
    const { text } = messageText(item, true);
    return { url, body: JSON.stringify({ msgtype: 'markdown', markdown: { content: text } }), headers: {} };
  }
  if (format === 'dingtalk') {
    const { title, text } = messageText(item, true);
    if (secret) {
      const ts = now.getTime();
      url.searchParams.set('timestamp', String(ts));
      url.searchParams.set('sign', dingtalkSign(secret, ts));
    }
    return { url, body: JSON.stringify({ msgtype: 'markdown', markdown: { title, text } }), headers: {} };
  }
  const { text } = messageText(item, false);
  const payload: Record<string, unknown> = { msg_type: 'text', content: { text } };
  if (secret) {
    const ts = Math.floor(now.getTime() / 1000);
    payload.timestamp = String(ts);
    payload.sign = feishuSign(secret, ts);
  }
  return { url, body: JSON.stringify(payload), headers: {} };
}

/**
 * Whether the endpoint took the delivery: a 2xx, and for the robots a zero `errcode` (WeCom,
 * DingTalk) or `code` (Feishu) in the JSON answer. Returns the error to log otherwise.
 */
export function outcome(format: DestinationFormatKey, r: HttpResult): string | null {
  if (r.error) return r.error;
  if (r.status === null || r.status < 200 || r.status >= 300) return `HTTP ${r.status}${r.body ? `: ${r.body.slice(0, 200)}` : ''}`;
  if (format === 'webhook') return null;
  let answer: Record<string, unknown>;
  try {
    answer = JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    return `unreadable answer: ${r.body.slice(0, 200)}`;
  }
  const code = format === 'feishu' ? (answer.code ?? answer.StatusCode) : answer.errcode;
  if (code === 0 || code === undefined) return null;
  return `${format} answered ${String(code)}: ${String(answer.errmsg ?? answer.msg ?? answer.StatusMessage ?? '')}`.slice(0, 300);
}

/**
 * Retry delay after the `attempt`-th failure: exponential from `baseMs`, capped at `maxMs`, with
 * jitter (uniform in the upper half) so that destinations failing together do not retry together.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
