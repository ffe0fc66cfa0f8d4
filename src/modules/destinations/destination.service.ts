import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { AppError, ErrorClass } from '../../platform/errors';
import type { ModuleDeps } from '../../platform/module';
import { systemActor, type AuditActor, type AuditService } from '../compliance';
import { UUID } from '../../shared/uuid';
import { DestinationErrorCode as Code } from './destination.errors';
import { backoffMs, outcome, render, type DeliveryKind, type DestinationFormatKey } from './destination.formats';
import { hostOf, isPrivateAddress, post, resolveHost } from './destination.network';
import { DestinationRepository, type DeliveryRow, type DeliveryStatusKey, type DestinationRow, type DestinationSettings } from './destination.repository';

/** A destination's settings as the API gives them (create: all required ones; update: omitted ones stay). */
export interface DestinationInputLike {
  name?: string | null;
  format?: DestinationFormatKey | null;
  url?: string | null;
  secret?: string | null;
  events?: DeliveryKind[] | null;
  segmentIds?: string[] | null;
  journeyIds?: string[] | null;
  minAlertLevel?: 'normal' | 'important' | 'urgent' | null;
  enabled?: boolean | null;
  allowPersonalData?: boolean | null;
  allowPrivateNetwork?: boolean | null;
  maxAttempts?: number | null;
  timeoutMs?: number | null;
}

/** What delivery reports on `/metrics` (see `createMetrics`). */
export interface DestinationMetrics {
  destinationDeliveries: { inc(labels: { format: string; outcome: string }, n?: number): void };
  destinationAttempts: { inc(labels: { format: string; result: string }, n?: number): void };
}

/** The collaborators the composition root wires in: consent (compliance) and the audit log. */
export interface DestinationCollaborators {
  /** The people of `ids` who may receive marketing (PIPL), under the workspace's consent policy. */
  marketingAllowed(ws: string, ids: readonly string[]): Promise<Set<string>>;
  audit: AuditService;
}

/** Seals and opens signing secrets at rest (the PII cipher: AES-256-GCM under the workspace deployment's data key). */
export interface SecretSealer {
  encrypt(plain: string): string;
  decrypt(sealed: string): string;
}

export interface DeliveryOptions {
  /** First retry delay; doubles per failed attempt (with jitter) up to `backoffMaxMs`. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** Items one worker sends for a destination per lease before it lets others have a turn. */
const ITEMS_PER_LEASE = 100;
/** Destinations one worker sends to at once. */
const CONCURRENCY = 8;
const MAX_PAGE = 200;

const bad = (reason: Code, field: string, message: string) => AppError.badInput(reason, field, message);
const notFound = (id: string) => new AppError(ErrorClass.NOT_FOUND, Code.DESTINATION_NOT_FOUND, `No destination ${id} in this workspace.`, [{ field: 'id', message: 'no destination has this id' }]);
const cursorOf = (id: string) => Buffer.from(`d:${id}`, 'utf8').toString('base64url');
const PERSONAL_KINDS: readonly DeliveryKind[] = ['journey_trigger', 'segment_change'];

/**
 * Outbound destinations: their settings (ADMIN), the outbox the causes' transactions fill (see the
 * migration `Destinations`), and the worker that delivers it — at least once, in order per
 * destination, one sender per destination across instances (a lease), retries with exponential
 * backoff and jitter, then the dead letter.
 */
export class DestinationService {
  private readonly repo = new DestinationRepository();
  private readonly owner = `${process.pid}:${randomUUID()}`;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopping = false;
  metrics?: DestinationMetrics;

  constructor(
    private readonly ctx: ModuleDeps,
    private readonly collaborators: DestinationCollaborators,
    private readonly sealer: SecretSealer,
    private readonly options: DeliveryOptions = { backoffBaseMs: 2000, backoffMaxMs: 3_600_000 },
  ) {}

  /**
   * Seals the secrets of destinations created before secrets were sealed (run at start; a
   * migration has no key). Returns how many it sealed.
   */
  async sealLegacySecrets(): Promise<number> {
    const rows = await this.repo.plainSecrets(this.ctx.ds.manager);
    for (const r of rows) await this.repo.sealSecret(this.ctx.ds.manager, r.workspace_id, r.id, r.secret, this.sealer.encrypt(r.secret));
    if (rows.length) this.ctx.log.info({ sealed: rows.length }, 'sealed destination secrets stored in plain text');
    return rows.length;
  }

  /** The signing secret in clear, for signing one request. */
  private openSecret(d: DestinationRow): string | null {
    if (d.secret === null) return null;
    return d.secret_sealed ? this.sealer.decrypt(d.secret) : d.secret;
  }

  // ---- settings ------------------------------------------------------------------------------

  list(ws: string): Promise<DestinationRow[]> {
    return this.repo.list(this.ctx.ds.manager, ws);
  }

  async create(actor: AuditActor, input: DestinationInputLike): Promise<DestinationRow> {
    const settings = await this.settings(null, input);
    return this.ctx.ds.transaction(async (em) => {
      const row = await this.repo.insert(em, actor.workspaceId, settings);
      await this.collaborators.audit.record(em, actor, { action: 'destination.create', targetType: 'destination', targetId: row.id, details: this.auditDetails(row) });
      return row;
    });
  }

  async update(actor: AuditActor, id: string, input: DestinationInputLike): Promise<DestinationRow> {
    if (!UUID.test(id)) throw notFound(id);
    const current = await this.repo.get(this.ctx.ds.manager, actor.workspaceId, id);
    if (!current) throw notFound(id);
    const settings = await this.settings(current, input);
    return this.ctx.ds.transaction(async (em) => {
      const row = await this.repo.update(em, actor.workspaceId, id, settings);
      if (!row) throw notFound(id);
      await this.collaborators.audit.record(em, actor, { action: 'destination.update', targetType: 'destination', targetId: id, details: this.auditDetails(row) });
      return row;
    });
  }

  async delete(actor: AuditActor, id: string): Promise<boolean> {
    if (!UUID.test(id)) throw notFound(id);
    return this.ctx.ds.transaction(async (em) => {
      if (!(await this.repo.delete(em, actor.workspaceId, id))) throw notFound(id);
      await this.collaborators.audit.record(em, actor, { action: 'destination.delete', targetType: 'destination', targetId: id });
      return true;
    });
  }

  private auditDetails(r: DestinationRow): Record<string, unknown> {
    return { format: r.format, host: new URL(r.url).host, events: r.events, enabled: r.enabled, allowPersonalData: r.allow_personal_data, allowPrivateNetwork: r.allow_private_network };
  }

  /** Validates the input against the current settings (null: a new destination); nothing is written. */
  private async settings(current: DestinationRow | null, input: DestinationInputLike): Promise<DestinationSettings> {
    const pick = <T>(v: T | null | undefined, old: T | undefined, dflt: T): T => (v !== undefined && v !== null ? v : old !== undefined ? old : dflt);
    const name = pick(input.name?.trim(), current?.name, '');
    if (name.length < 1 || name.length > 200) throw bad(Code.INVALID_DESTINATION_NAME, 'input.name', 'name must be 1–200 characters');
    const format = pick(input.format, current?.format, 'webhook');
    const events = pick(input.events, current?.events, []);
    if (!events.length || new Set(events).size !== events.length) throw bad(Code.INVALID_EVENTS, 'input.events', 'events must list at least one kind of item, each once');
    const segmentIds = input.segmentIds === undefined ? (current?.segment_ids ?? null) : input.segmentIds;
    segmentIds?.forEach((s, i) => {
      if (!UUID.test(s)) throw bad(Code.INVALID_FILTER, `input.segmentIds.${i}`, 'a segment id (UUID)');
    });
    const journeyIds = input.journeyIds === undefined ? (current?.journey_ids ?? null) : input.journeyIds;
    journeyIds?.forEach((s, i) => {
      if (!UUID.test(s)) throw bad(Code.INVALID_FILTER, `input.journeyIds.${i}`, 'a journey id (UUID)');
    });
    const maxAttempts = pick(input.maxAttempts, current?.max_attempts, 10);
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 50) throw bad(Code.INVALID_MAX_ATTEMPTS, 'input.maxAttempts', 'maxAttempts must be 1–50');
    const timeoutMs = pick(input.timeoutMs, current?.timeout_ms, 5000);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 30_000) throw bad(Code.INVALID_TIMEOUT, 'input.timeoutMs', 'timeoutMs must be 100–30000');

    // A secret given replaces the stored one (an empty string removes it); a webhook must keep one
    // (its receivers verify it). Stored sealed; the stored one is kept as it is when none is given.
    const given = input.secret !== undefined && input.secret !== null;
    const plain = given && input.secret !== '' ? (input.secret as string) : null;
    if (plain !== null && (plain.length < 16 || plain.length > 200)) throw bad(Code.INVALID_SECRET, 'input.secret', 'secret must be 16–200 characters');
    let keep = !given && !!current?.secret;
    if (format === 'webhook' && !plain && !keep) throw bad(Code.INVALID_SECRET, 'input.secret', 'a WEBHOOK destination needs a signing secret (16–200 characters)');
    if (format === 'wecom' && (plain || keep)) {
      if (plain) throw bad(Code.INVALID_SECRET, 'input.secret', 'WeCom group robots are not signed: leave secret empty');
      keep = false;
    }
    const secret = plain !== null ? this.sealer.encrypt(plain) : keep ? current!.secret : null;
    const secretSealed = plain !== null ? true : keep ? current!.secret_sealed : false;

    const allowPrivateNetwork = pick(input.allowPrivateNetwork, current?.allow_private_network, false);
    const url = pick(input.url?.trim(), current?.url, '');
    if (!current || url !== current.url || allowPrivateNetwork !== current.allow_private_network) await this.checkUrl(url, allowPrivateNetwork);
    return {
      name,
      format,
      url,
      secret,
      secret_sealed: secretSealed,
      events,
      segment_ids: segmentIds,
      journey_ids: journeyIds,
      min_alert_level: pick(input.minAlertLevel, current?.min_alert_level, 'normal'),
      enabled: pick(input.enabled, current?.enabled, true),
      allow_personal_data: pick(input.allowPersonalData, current?.allow_personal_data, false),
      allow_private_network: allowPrivateNetwork,
      max_attempts: maxAttempts,
      timeout_ms: timeoutMs,
    };
  }

  /** An http(s) URL without credentials whose host resolves to public addresses only (unless private networks are allowed). */
  private async checkUrl(raw: string, allowPrivate: boolean): Promise<void> {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw bad(Code.INVALID_DESTINATION_URL, 'input.url', 'url must be an absolute http:// or https:// URL');
    }
    if (raw.length > 2000 || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw bad(Code.INVALID_DESTINATION_URL, 'input.url', 'url must be an http:// or https:// URL of at most 2000 characters');
    if (u.username || u.password) throw bad(Code.INVALID_DESTINATION_URL, 'input.url', 'url must not carry a user name or password');
    if (allowPrivate) return;
    const addresses = await resolveHost(hostOf(u));
    if (!addresses.length) throw bad(Code.UNRESOLVABLE_HOST, 'input.url', `the host ${u.hostname} does not resolve`);
    const priv = addresses.find(isPrivateAddress);
    if (priv) throw bad(Code.PRIVATE_NETWORK_URL, 'input.url', `the host ${u.hostname} is a loopback, private or link-local address (${priv}); an ADMIN may set allowPrivateNetwork to allow it`);
  }

  // ---- the log and the dead letter ---------------------------------------------------------

  async deliveries(ws: string, f: { destinationId?: string | null; status?: DeliveryStatusKey | null; deadOnly?: boolean }, first: number, after: string | null): Promise<{ rows: DeliveryRow[]; hasNext: boolean; endCursor: string | null }> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw bad(Code.INVALID_PAGE_SIZE, 'first', `first must be between 1 and ${MAX_PAGE}`);
    if (f.destinationId && !UUID.test(f.destinationId)) throw bad(Code.INVALID_FILTER, 'destination', 'destination must be a destination id (UUID)');
    let beforeId: string | null = null;
    if (after) {
      const m = /^d:(\d{1,19})$/.exec(Buffer.from(after, 'base64url').toString('utf8'));
      if (!m) throw bad(Code.INVALID_CURSOR, 'after', 'after must be a cursor from endCursor');
      beforeId = m[1];
    }
    const rows = await this.repo.deliveries(this.ctx.ds.manager, ws, { destinationId: f.destinationId ?? null, status: f.status ?? null, deadOnly: !!f.deadOnly, beforeId, limit: first + 1 });
    const page = rows.slice(0, first);
    return { rows: page, hasNext: rows.length > first, endCursor: page.length ? cursorOf(page[page.length - 1].id) : null };
  }

  /** Replays dead letters (by id, or all of a destination's): each is queued again at the end of its destination's queue. */
  async replay(actor: AuditActor, f: { ids?: string[] | null; destinationId?: string | null }): Promise<DeliveryRow[]> {
    const ws = actor.workspaceId;
    f.ids?.forEach((id, i) => {
      if (!/^\d{1,19}$/.test(id)) throw new AppError(ErrorClass.NOT_FOUND, Code.DELIVERY_NOT_FOUND, `No delivery ${id} in this workspace.`, [{ field: f.ids!.length > 1 ? `ids.${i}` : 'id', message: 'no delivery has this id' }]);
    });
    if (f.destinationId && !UUID.test(f.destinationId)) throw notFound(f.destinationId);
    return this.ctx.ds.transaction(async (em) => {
      if (f.ids?.length === 1) {
        const d = await this.repo.delivery(em, ws, f.ids[0]);
        if (!d) throw new AppError(ErrorClass.NOT_FOUND, Code.DELIVERY_NOT_FOUND, `No delivery ${f.ids[0]} in this workspace.`, [{ field: 'id', message: 'no delivery has this id' }]);
        if (d.status !== 'dead' || d.replayed_at) throw AppError.conflict(Code.NOT_A_DEAD_LETTER, `Delivery ${d.id} is ${d.replayed_at ? 'already replayed' : d.status}, not in the dead letter.`);
      }
      if (f.destinationId && !(await this.repo.get(em, ws, f.destinationId))) throw notFound(f.destinationId);
      const rows = await this.repo.replay(em, ws, { ids: f.ids ?? null, destinationId: f.destinationId ?? null });
      await this.collaborators.audit.record(em, actor, { action: 'destination.replay', targetType: 'destination', targetId: f.destinationId ?? rows[0]?.destination_id ?? null, details: { deliveries: rows.map((r) => r.replay_of) } });
      return rows;
    });
  }

  // ---- the worker ----------------------------------------------------------------------------

  /** Delivers on a timer every `intervalMs` (0 = off), like the sweeper and the due scheduler. */
  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.stopping = false;
    const tick = async () => {
      this.running = this.runOnce().catch((err) => this.ctx.log.warn({ err: (err as Error).message }, 'destination delivery pass failed'));
      await this.running;
      this.running = null;
      if (!this.stopping) this.timer = setTimeout(tick, intervalMs);
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass: leases destinations with a due item and sends for each, in order. Returns the attempts made. */
  async runOnce(): Promise<number> {
    let total = 0;
    for (let round = 0; round < 10 && !this.stopping; round++) {
      const claimed = await this.repo.claim(this.ctx.ds.manager, this.owner, CONCURRENCY);
      if (!claimed.length) break;
      const counts = await Promise.all(claimed.map((d) => this.sendFor(d)));
      total += counts.reduce((a, b) => a + b, 0);
    }
    return total;
  }

  /** Sends a leased destination's due items in order until one must wait (a retry) or the lease's share is used. */
  private async sendFor(d: DestinationRow): Promise<number> {
    const ws = d.workspace_id;
    const em = this.ctx.ds.manager;
    let attempts = 0;
    try {
      for (let n = 0; n < ITEMS_PER_LEASE && !this.stopping; n++) {
        const { row, now } = await this.repo.head(em, ws, d.id);
        if (!row || new Date(row.next_attempt_at) > new Date(now)) break;
        // Marketing (PIPL): items about a person go out only while they allow marketing.
        if (row.profile_id && PERSONAL_KINDS.includes(row.kind)) {
          const ok = await this.collaborators.marketingAllowed(ws, [row.profile_id]);
          if (!ok.has(row.profile_id)) {
            await this.repo.finish(em, ws, row.id, 'suppressed', null, 'no marketing consent');
            this.metrics?.destinationDeliveries.inc({ format: d.format, outcome: 'suppressed' });
            continue;
          }
        }
        const person = d.allow_personal_data && row.profile_id ? row.profile_id : null;
        // The attempt is counted, the lease renewed and personal data audited before anything leaves.
        const attempt = await this.ctx.ds.transaction(async (tx: EntityManager) => {
          if (!(await this.repo.renew(tx, ws, d.id, this.owner))) return 0;
          const a = await this.repo.startAttempt(tx, ws, row.id);
          if (a && person) {
            await this.collaborators.audit.record(tx, systemActor(ws), {
              action: 'destination.deliver_personal_data',
              targetType: 'profile',
              targetId: person,
              details: { destinationId: d.id, deliveryId: row.id, attempt: a, kind: row.kind },
            });
          }
          return a;
        });
        if (!attempt) break;
        attempts++;
        const req = render(d.format, d.url, this.openSecret(d), { id: row.id, workspaceId: ws, kind: row.kind, data: row.data, createdAt: new Date(row.created_at), profileId: person }, new Date());
        const res = await post(req.url, req.body, req.headers, d.timeout_ms, d.allow_private_network);
        const error = outcome(d.format, res);
        this.metrics?.destinationAttempts.inc({ format: d.format, result: error ? 'failed' : 'ok' });
        if (!error) {
          await this.repo.finish(em, ws, row.id, 'delivered', res.status, null);
          this.metrics?.destinationDeliveries.inc({ format: d.format, outcome: 'delivered' });
          continue;
        }
        if (attempt >= d.max_attempts) {
          await this.repo.finish(em, ws, row.id, 'dead', res.status, error);
          this.metrics?.destinationDeliveries.inc({ format: d.format, outcome: 'dead' });
          continue;
        }
        await this.repo.retryLater(em, ws, row.id, backoffMs(attempt, this.options.backoffBaseMs, this.options.backoffMaxMs), res.status, error);
        this.metrics?.destinationDeliveries.inc({ format: d.format, outcome: 'retry' });
        break;
      }
    } catch (err) {
      this.ctx.log.warn({ err: (err as Error).message, destinationId: d.id }, 'destination delivery stopped');
    } finally {
      await this.repo.release(em, ws, d.id, this.owner).catch(() => undefined);
    }
    return attempts;
  }
}
