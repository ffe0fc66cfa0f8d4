import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Role, parseAuthorization, type AuthInfo } from '../../platform/auth';
import { AppError, ErrorClass, isDatabaseUnavailable, type FieldError } from '../../platform/errors';
import { HTTP_STATUS, errorHeaders, type RateLimits } from '../../platform/limits';
import type { Logger } from '../../platform/logging';
import type { WorkspaceService } from '../workspaces';
import { MAX_EVENTS_PER_BATCH, type RawEvent } from './event-validation';
import type { IngestService } from './ingest.service';
import { segmentRejection, segmentToRawEvent, type MappedEvent, type SegmentType } from './segment.mapping';

/** The services the Segment-compatible HTTP API uses; the app's services object provides them. */
export interface SegmentRouterDeps {
  readonly ingest: IngestService;
  readonly workspaces: WorkspaceService;
}

/** Segment's limit for one request (a batch); single events are held to 32 KB by the pipeline. */
export const SEGMENT_BODY_LIMIT_BYTES = 500 * 1024;

/** Endpoint → type. The one-letter paths are the ones analytics.js (analytics-next) posts to. */
const SINGLE_PATHS: Record<string, SegmentType> = {
  track: 'track',
  t: 'track',
  identify: 'identify',
  i: 'identify',
  page: 'page',
  p: 'page',
  screen: 'screen',
  s: 'screen',
  group: 'group',
  g: 'group',
  alias: 'alias',
  a: 'alias',
};
const BATCH_PATHS = ['batch', 'import', 'b'];
const ALLOWED_ROLES: readonly Role[] = [Role.INGEST, Role.ADMIN];

interface ErrorBody {
  errors: { message: string; extensions: { code: string; reason?: string; fields?: FieldError[]; correlationId?: string; [detail: string]: unknown } }[];
}

function errorBody(code: string, reason: string, message: string, fields: FieldError[] = [], details: Record<string, unknown> = {}): ErrorBody {
  return { errors: [{ message, extensions: { code, reason, ...(fields.length ? { fields } : {}), ...details } }] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Segment sends the write key as the Basic username (empty password); a Siyu Bearer key works too. */
export function segmentKeyFromHeader(header: string): string | null {
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header.trim());
  if (!basic) return parseAuthorization(header);
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return (colon < 0 ? decoded : decoded.slice(0, colon)).trim() || null;
}

/**
 * The Segment-compatible tracking API (docs/segment.md): `/track`, `/identify`, `/page`, `/screen`,
 * `/group`, `/alias` and `/batch` (= `/import`), mounted at `/v1`. A thin adapter: authenticate,
 * map each message (segment.mapping.ts), hand the events to the ingest pipeline, answer after it
 * committed.
 */
export function createSegmentRouter(services: SegmentRouterDeps, log: Logger, rateLimits: RateLimits): express.Router {
  const router = express.Router();
  // JSON up to 500 KB after decompression: gzip/deflate/br bodies are inflated as a stream and the
  // limit counts inflated bytes, so a compression bomb stops at the limit (413 BODY_TOO_LARGE).
  // analytics.js sends its JSON as text/plain so that browsers skip the CORS preflight; the
  // RudderStack Node SDK sends gzipped JSON labelled application/x-www-form-urlencoded (axios's
  // default for a Buffer). Both are read as JSON, as Segment and RudderStack do; a body that is not
  // JSON gets 400 MALFORMED_JSON.
  const json = express.json({
    limit: SEGMENT_BODY_LIMIT_BYTES,
    type: ['application/json', 'application/*+json', 'text/plain', 'application/x-www-form-urlencoded'],
  });

  const authorize = async (key: string | null, res: Response): Promise<AuthInfo> => {
    const auth = key ? await services.workspaces.authenticate(key) : null;
    if (!auth) throw AppError.unauthenticated('The write key is missing, unknown or revoked. Send it as the HTTP Basic username.');
    if (!ALLOWED_ROLES.includes(auth.role)) {
      throw AppError.forbidden(`Sending events needs an INGEST or ADMIN key; this key has ${auth.role.toUpperCase()}.`);
    }
    // Every request counts against the key's ingest budget (before its body is used).
    await rateLimits.consume(auth, 'ingest');
    res.locals.auth = auth;
    return auth;
  };
  // A key in the Authorization header is checked before the body is read; without one, the key
  // may come in the body as `writeKey` (analytics.js), so it is checked after parsing.
  const authFromHeader = async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    if (header !== undefined) await authorize(segmentKeyFromHeader(header), res);
    next();
  };
  const authFromBody = async (req: Request, res: Response, next: NextFunction) => {
    if (!res.locals.auth) await authorize(isObject(req.body) && typeof req.body.writeKey === 'string' ? req.body.writeKey.trim() : null, res);
    next();
  };

  const ingest = async (req: Request, res: Response, mapped: MappedEvent[], single: boolean) => {
    const auth = res.locals.auth as AuthInfo;
    // A null event (a batch item that is not an object) is rejected by the pipeline as INVALID_EVENT.
    const outcome = await services.ingest.ingest(auth.workspaceId, mapped.map((m) => m.event as RawEvent));
    const results = outcome.results.map((r) => {
      const error = r.error ? { code: ErrorClass.BAD_USER_INPUT, reason: r.error.reason, ...segmentRejection(r.error, mapped[r.index].sources) } : null;
      return { index: r.index, messageId: r.messageId, status: r.status, profileId: r.profileId, droppedIdentifiers: r.droppedIdentifiers, error };
    });
    log.debug({ workspaceId: auth.workspaceId, path: req.path, accepted: outcome.accepted, duplicates: outcome.duplicates, rejected: outcome.rejected }, 'segment ingest');
    const rejectedError = single ? results[0]?.error : null;
    if (rejectedError) {
      const { reason, field, message } = rejectedError;
      res.status(400).json(errorBody(ErrorClass.BAD_USER_INPUT, reason, `${field ? `${field}: ` : ''}${message}`, [{ field, message }]));
      return;
    }
    const { accepted, duplicates, rejected, droppedIdentifiers } = outcome;
    res.json({ success: true, accepted, duplicates, rejected, droppedIdentifiers, results });
  };

  const requireObjectBody = (body: unknown): Record<string, unknown> => {
    if (!isObject(body)) throw AppError.badInput('INVALID_BODY', '', 'the body must be a JSON object (sent as application/json, text/plain or application/x-www-form-urlencoded)');
    return body;
  };

  router.use((req, res, next) => {
    // The write key is not a cookie, so any origin may send (browsers cannot read other replies).
    res.set('Access-Control-Allow-Origin', '*');
    if (req.method !== 'OPTIONS') return next();
    res.set({
      'Access-Control-Allow-Methods': 'POST, OPTIONS',
      'Access-Control-Allow-Headers': 'Authorization, Content-Type, Content-Encoding',
      'Access-Control-Max-Age': '86400',
    });
    res.status(204).end();
  });

  for (const [path, type] of Object.entries(SINGLE_PATHS)) {
    router.post(`/${path}`, authFromHeader, json, authFromBody, async (req, res) => {
      const body = requireObjectBody(req.body);
      await ingest(req, res, [segmentToRawEvent(body, { type, receivedAt: Date.now() })], true);
    });
  }
  for (const path of BATCH_PATHS) {
    router.post(`/${path}`, authFromHeader, json, authFromBody, async (req, res) => {
      const receivedAt = Date.now();
      const body = requireObjectBody(req.body);
      if (!Array.isArray(body.batch)) throw AppError.badInput('INVALID_BATCH', 'batch', 'batch must be an array of messages');
      if (body.batch.length > MAX_EVENTS_PER_BATCH) {
        throw AppError.badInput('BATCH_TOO_LARGE', 'batch', `at most ${MAX_EVENTS_PER_BATCH} messages per batch; got ${body.batch.length}`);
      }
      const mapped = body.batch.map((m) => segmentToRawEvent(m, { receivedAt, sentAt: body.sentAt, context: body.context }));
      await ingest(req, res, mapped, false);
    });
  }

  router.use((req, res) => {
    res.status(404).json(errorBody(ErrorClass.NOT_FOUND, 'ROUTE_NOT_FOUND', `No endpoint ${req.method} ${req.baseUrl}${req.path}. Send POST to /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group, /v1/alias or /v1/batch.`));
  });

  router.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const known = err instanceof AppError ? err : isDatabaseUnavailable(err) ? AppError.unavailable() : null;
    if (known) {
      res.status(HTTP_STATUS[known.errorClass] ?? 500).set(errorHeaders(known)).json(errorBody(known.errorClass, known.reason, known.message, known.fields, known.details));
      return;
    }
    const status = err.status ?? 500;
    if (status >= 500) {
      const correlationId = randomUUID();
      log.error({ err, correlationId }, 'segment api: unexpected error');
      res.status(500).json({ errors: [{ message: `Internal server error. Quote correlation id ${correlationId}.`, extensions: { code: ErrorClass.INTERNAL_SERVER_ERROR, correlationId } }] });
      return;
    }
    // body-parser errors: the request as a whole is unusable.
    if (err.type === 'entity.too.large') {
      res.status(413).json(errorBody(ErrorClass.BAD_USER_INPUT, 'BODY_TOO_LARGE', `The request body is larger than ${SEGMENT_BODY_LIMIT_BYTES / 1024} KB; send smaller batches.`));
      return;
    }
    const reason = err.type === 'entity.parse.failed' ? 'MALFORMED_JSON' : err.type === 'encoding.unsupported' ? 'UNSUPPORTED_ENCODING' : 'BAD_REQUEST';
    res.status(status).json(errorBody(ErrorClass.BAD_USER_INPUT, reason, err.message));
  });

  return router;
}
