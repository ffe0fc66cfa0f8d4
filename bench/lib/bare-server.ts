import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import { PII_TYPES, PiiCipher, maskEmail, maskPhone } from '../../src/modules/identities';
import { survivorOf } from '../../src/modules/profiles';

/**
 * The reference of the profile-360 case: a bare `node:http` + `pg` handler that answers the same
 * GraphQL request body with the same data, from one hand-written SQL statement (a prepared statement
 * with json aggregation in PostgreSQL). It does what any correct handler must: authenticate the key
 * (an in-memory map), resolve a merged id to its survivor, decrypt and mask phone/e-mail for a key
 * without `pii`, and serialise JSON. No GraphQL parsing/validation, no resolvers, no DataLoaders.
 */
export const PROFILE_360_SQL = `
SELECT p.id, p.traits,
  (SELECT coalesce(json_agg(json_build_array(i.type, i.namespace, i.value_key, i.value_enc) ORDER BY i.type, i.namespace, i.first_seen_at, i.value_key), '[]')
     FROM identifiers i WHERE i.workspace_id = $1 AND i.profile_id = p.id) AS identifiers,
  (SELECT coalesce(json_agg(t.tag_key ORDER BY t.tag_key), '[]')
     FROM profile_tags t JOIN tags d ON d.workspace_id = t.workspace_id AND d.key = t.tag_key
     WHERE t.workspace_id = $1 AND t.profile_id = p.id) AS tags,
  (SELECT coalesce(json_agg(s.key ORDER BY s.key), '[]')
     FROM segment_members m JOIN segments s ON s.workspace_id = m.workspace_id AND s.id = m.segment_id
     WHERE m.workspace_id = $1 AND m.profile_id = p.id) AS segments,
  (SELECT coalesce(json_agg(json_build_object('name', e.name, 'timestamp', to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
            ORDER BY e.ts DESC, e.message_id DESC), '[]')
     FROM (SELECT name, ts, message_id FROM events WHERE workspace_id = $1 AND profile_id = p.id
           ORDER BY ts DESC, message_id DESC LIMIT 20) e) AS events,
  (SELECT json_build_object('key', st.stage, 'enteredAt', to_char(st.entered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
     FROM profile_stages st WHERE st.workspace_id = $1 AND st.profile_id = p.id) AS stage,
  (SELECT json_build_object('score', h.score::float8, 'tier', upper(h.tier))
     FROM profile_health h WHERE h.workspace_id = $1 AND h.profile_id = p.id) AS health
FROM profiles q JOIN profiles p ON p.workspace_id = q.workspace_id AND p.id = ${survivorOf('q')}
WHERE q.workspace_id = $1 AND q.id = $2`;

interface Row {
  id: string;
  traits: Record<string, { value: unknown }>;
  identifiers: [string, string, string, string | null][];
  tags: string[];
  segments: string[];
  events: { name: string | null; timestamp: string }[];
  stage: { key: string; enteredAt: string } | null;
  health: { score: number; tier: string } | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface BareServer {
  url: string;
  close(): Promise<void>;
}

export async function startBareServer(opts: {
  databaseUrl: string;
  poolSize: number;
  cipher: PiiCipher;
  /** API key secret → workspace and whether it may see personal data. */
  keys: Map<string, { workspaceId: string; pii: boolean }>;
}): Promise<BareServer> {
  const pool = new Pool({ connectionString: opts.databaseUrl, max: opts.poolSize });
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const s = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(s) });
    res.end(s);
  };
  const error = (res: http.ServerResponse, status: number, code: string, message: string) =>
    send(res, status, { errors: [{ message, extensions: { code } }] });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, raw: string) => {
    const header = req.headers.authorization ?? '';
    const auth = header.startsWith('Bearer ') ? opts.keys.get(header.slice(7)) : undefined;
    if (!auth) return error(res, 401, 'UNAUTHENTICATED', 'The API key is missing, unknown or revoked.');
    let id: unknown;
    try {
      id = (JSON.parse(raw) as { variables?: { id?: unknown } }).variables?.id;
    } catch {
      return error(res, 400, 'BAD_USER_INPUT', 'malformed JSON');
    }
    if (typeof id !== 'string' || !UUID.test(id)) return error(res, 200, 'BAD_USER_INPUT', 'id must be a profile id (UUID)');
    const { rows } = await pool.query<Row>({ name: 'profile360', text: PROFILE_360_SQL, values: [auth.workspaceId, id] });
    const p = rows[0];
    if (!p) return error(res, 200, 'NOT_FOUND', `Profile ${id} does not exist in this workspace.`);
    send(res, 200, {
      data: {
        profile: {
          id: p.id,
          identifiers: p.identifiers.map(([type, namespace, valueKey, enc]) => {
            let value = valueKey;
            if (enc && PII_TYPES.has(type as never)) {
              const plain = opts.cipher.decrypt(enc);
              value = auth.pii ? plain : type === 'phone' ? maskPhone(plain) : maskEmail(plain);
            }
            return { type, namespace: namespace || null, value };
          }),
          traits: Object.entries(p.traits).map(([name, t]) => ({ name, value: t.value })),
          tags: p.tags.map((key) => ({ key })),
          segments: p.segments.map((key) => ({ key })),
          stage: p.stage,
          health: p.health,
          events: { edges: p.events.map((node) => ({ node })) },
        },
      },
    });
  };

  const server = http.createServer((req, res) => {
    if (req.method !== 'POST') return error(res, 405, 'BAD_REQUEST', 'POST only');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch(() => error(res, 500, 'INTERNAL_SERVER_ERROR', 'internal error'));
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}
