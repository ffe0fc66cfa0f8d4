import express from 'express';
import { Role, parseAuthorization } from '../../platform/auth';
import { AppError, ErrorClass } from '../../platform/errors';
import { HTTP_STATUS } from '../../platform/limits';
import type { Logger } from '../../platform/logging';
import type { AuditService } from '../compliance';
import { IDENTIFIER_TYPES, isIdentifierType } from '../identities';
import type { ProfileService } from '../profiles';
import type { WorkspaceService } from '../workspaces';
import type { TagService } from './tag.service';

/** The services the segment export uses; the app's services object provides them. */
export interface SegmentExportDeps {
  readonly tags: TagService;
  readonly profiles: ProfileService;
  readonly workspaces: WorkspaceService;
  readonly audit: AuditService;
}

const PAGE = 1000;

/**
 * Consent check for activation (PIPL): which of these profiles may be exported for `purpose` under
 * the workspace's consent policy (the compliance module's `allowed`); the others are left out.
 */
export type ExportConsentFilter = (workspaceId: string, profileIds: string[], purpose: string) => Promise<Set<string>>;

/**
 * `GET /export/segments/:id?identifiers=phone,wechat_openid&purpose=marketing` streams a segment's
 * members as NDJSON (`{"profileId", "identifiers": [{type, namespace, value, masked}]}` per line),
 * page by page, so any size streams in bounded memory. READ or ADMIN key; phone/e-mail masked unless
 * the key has the PII scope.
 */
export function createSegmentExportRouter(services: SegmentExportDeps, log: Logger, consent: ExportConsentFilter): express.Router {
  const router = express.Router();
  router.get('/segments/:id', async (req, res) => {
    try {
      const key = parseAuthorization(req.headers.authorization);
      const auth = key ? await services.workspaces.authenticate(key) : null;
      if (!auth) throw AppError.unauthenticated();
      if (auth.role !== Role.READ && auth.role !== Role.ADMIN) throw AppError.forbidden('Exporting members needs a READ or ADMIN key.');
      const segment = await services.tags.getSegment(auth.workspaceId, req.params.id);
      const wanted = String(req.query.identifiers ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = wanted.find((w) => !isIdentifierType(w));
      if (bad) throw AppError.badInput('UNKNOWN_IDENTIFIER_TYPE', 'identifiers', `unknown identifier type ${bad}; expected some of ${Object.keys(IDENTIFIER_TYPES).join(', ')}`);
      const purpose = String(req.query.purpose ?? 'marketing');
      await consent(auth.workspaceId, [], purpose); // an unknown purpose fails here, before streaming starts
      res.status(200).type('application/x-ndjson');
      res.setHeader('Content-Disposition', `attachment; filename="segment-${segment.key}.ndjson"`);
      let after: string | null = null;
      let n = 0;
      for (;;) {
        const page: Awaited<ReturnType<typeof services.profiles.list>> = await services.profiles.list(auth.workspaceId, { segment: segment.id }, Math.min(PAGE, 100), after);
        const ids = page.rows.map((r) => r.id);
        const allowed = await consent(auth.workspaceId, ids, purpose);
        const identifiers = wanted.length ? await services.profiles.identifiersOf(auth.workspaceId, ids) : ids.map(() => []);
        let chunk = '';
        page.rows.forEach((r, i) => {
          if (!allowed.has(r.id)) return;
          const ids2 = identifiers[i]
            .filter((x) => wanted.includes(x.type))
            .map((x) => ({ type: x.type, namespace: x.namespace || null, ...services.profiles.displayValue(x, auth.pii) }));
          chunk += JSON.stringify({ profileId: r.id, identifiers: ids2 }) + '\n';
          n++;
        });
        if (chunk && !res.write(chunk)) await new Promise((r) => res.once('drain', r));
        if (!page.hasNext) break;
        after = Buffer.from(`p:${page.rows.at(-1)!.seq}`, 'utf8').toString('base64url');
      }
      await services.audit.read({ workspaceId: auth.workspaceId, apiKeyId: auth.apiKeyId, role: auth.role, requestId: String(req.headers['x-request-id'] ?? '') || null }, { action: 'segment.export', targetType: 'segment', targetId: segment.id, details: { purpose, exported: n, identifierTypes: wanted, unmasked: auth.pii } });
      log.info({ workspaceId: auth.workspaceId, segmentId: segment.id, exported: n, purpose }, 'segment exported');
      res.end();
    } catch (err) {
      if (res.headersSent) {
        res.destroy(err as Error);
        return;
      }
      // Nothing sent yet (the first page failed): an error body, not the export's headers.
      res.removeHeader('Content-Disposition');
      res.type('application/json');
      if (err instanceof AppError) {
        res.status(HTTP_STATUS[err.errorClass]).json({ errors: [{ message: err.message, extensions: { code: err.errorClass, reason: err.reason, fields: err.fields, ...err.details } }] });
        return;
      }
      log.error({ err }, 'segment export failed');
      res.status(500).json({ errors: [{ message: 'Internal server error.', extensions: { code: ErrorClass.INTERNAL_SERVER_ERROR } }] });
    }
  });
  return router;
}
