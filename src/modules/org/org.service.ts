import type { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../../platform/errors';
import { Topics, type SiyuPubSub } from '../../platform/pubsub';
import type { BatchContext, Projection, ProjectionOutput } from '../events';
import { AuditService, type AuditActor } from '../compliance';
import { OrgRepository, type OrgNodeRow, type OwnerRow, type StaffRow, type TouchpointRow } from './org.repository';
import { OrgErrorCode } from './org.errors';
import { checkEventOrgNode, eventOrgNode, eventStaff, eventTouchpoint, MAX_CHILDREN, MAX_DEPTH, MAX_NODES, ORG_KEY } from './org.rules';

export const MAX_PAGE = 500;
const MAX_ASSIGN = 500;

/** A node of the tree with what hangs on it. */
export interface OrgNodeView extends OrgNodeRow {
  /** Keys from the top-level node down to this one. */
  path: string[];
  children: string[];
}

export interface SaveOrgNode {
  key: string;
  name: string;
  parentKey?: string | null;
}

/** A whole tree to set up at once (the demo's): nodes parents first, touchpoint → node, staff id → node. */
export interface OrgTreeSpec {
  nodes: { key: string; name: string; parentKey: string | null }[];
  touchpoints: Record<string, string>;
  staff: Record<string, string>;
}

export interface SaveStaff {
  staffId: string;
  name?: string | null;
  nodeKey?: string | null;
}

const bad = (reason: string, field: string, message: string) => AppError.badInput(reason, field, message);

/**
 * The organisation (总部统筹-区域协同-终端执行): the org tree, the touchpoints and staff that belong
 * to its nodes, and each person's current staff owner, carried at ingest. KPIs read the tree
 * through the touchpoints (kpis/kpi.org.ts) and the owners through `profile_owners`.
 */
export class OrgService {
  private readonly repo = new OrgRepository();
  private readonly audit: AuditService;

  constructor(
    private readonly ds: DataSource,
    /** Tree changes tell live KPIs to read every bucket again (an ORG_NODE answer moves with the tree). */
    private readonly pubSub?: SiyuPubSub,
  ) {
    this.audit = new AuditService(ds);
  }

  /** After a committed tree change: every live KPI of the workspace reads all its buckets again. */
  private treeChanged(ws: string): void {
    this.pubSub?.publish(Topics.kpisChanged(ws), {});
  }

  /** The read model: touchpoint and staff registries, nodes named by events, and each person's owner. */
  readonly projection: Projection = {
    name: 'org',
    after: [],
    validate: checkEventOrgNode,
    apply: (b) => this.afterBatch(b),
    // Events moved between these people (an unmerge): each one's owner is their latest WeCom staff again.
    refresh: (r) => this.repo.replay(r.em, r.workspaceId, r.profileIds),
    rebuild: (em, ws, ids) => this.repo.replay(em, ws, ids),
    sweep: { skip: 'owners and the tree change only with events and admin changes, never with time alone' },
    due: { skip: 'nothing about the organisation is scheduled' },
    prefetch: { skip: 'the owner is read through its own loader (`Profile.owner`)' },
  };

  private async afterBatch(b: BatchContext): Promise<ProjectionOutput | void> {
    const { em, workspaceId: ws } = b;
    await this.repo.moveMerged(em, ws, b.merged);
    const named = new Set<string>();
    const touchpoints = new Map<string, string | null>();
    const staff = new Map<string, string | null>();
    const owners: OwnerRow[] = [];
    for (const e of b.events) {
      const node = eventOrgNode(e);
      if (node) named.add(node);
      const t = eventTouchpoint(e);
      // The first node an event of the batch names for an unassigned touchpoint (or staff member) is the one it takes.
      if (!touchpoints.get(t)) touchpoints.set(t, t ? node : null);
      const s = eventStaff(e);
      if (s) {
        if (!staff.get(s)) staff.set(s, node);
        owners.push({ profileId: e.profileId, staffId: s, since: e.ts, messageId: e.messageId });
      }
    }
    await this.repo.ensureNodes(em, ws, [...named]);
    const assigned = await this.repo.registerTouchpoints(em, ws, [...touchpoints].map(([t, n]) => ({ t, n })));
    await this.repo.registerStaff(em, ws, [...staff].map(([s, n]) => ({ s, n })));
    await this.repo.offer(em, ws, owners);
    // A touchpoint that took a node from event context moves its whole history: live KPIs read every bucket again.
    if (assigned) return { afterCommit: () => this.treeChanged(ws) };
  }

  // ---- the tree ----------------------------------------------------------------------------

  /** Every node with its path and children, in depth-first order (siblings by key). */
  async tree(ws: string, em: EntityManager = this.ds.manager): Promise<OrgNodeView[]> {
    return arrange(await this.repo.nodes(em, ws));
  }

  async node(ws: string, key: string): Promise<OrgNodeView | null> {
    return (await this.tree(ws)).find((n) => n.key === key) ?? null;
  }

  /**
   * Creates a node or changes its name and parent (moving its whole subtree). Refused with the
   * offending field: a bad key or name, an unknown parent, a parent inside the node's own subtree,
   * a tree deeper than MAX_DEPTH, more than MAX_CHILDREN children or MAX_NODES nodes.
   */
  async saveNode(actor: AuditActor, input: SaveOrgNode): Promise<OrgNodeView> {
    const ws = actor.workspaceId;
    const key = input.key;
    const parentKey = input.parentKey ?? null;
    if (typeof key !== 'string' || !ORG_KEY.test(key)) throw bad(OrgErrorCode.INVALID_ORG_NODE, 'input.key', 'a key is 1–64 letters, digits, _, -, . or :, starting with a letter or digit');
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (!name || name.length > 100) throw bad(OrgErrorCode.INVALID_ORG_NODE, 'input.name', 'a name is 1–100 characters');
    await this.ds.transaction(async (em) => {
      await this.repo.lockTree(em, ws);
      const nodes = await this.tree(ws, em);
      const byKey = new Map(nodes.map((n) => [n.key, n]));
      const existing = byKey.get(key);
      if (!existing && nodes.length >= MAX_NODES) throw bad(OrgErrorCode.INVALID_ORG_NODE, 'input.key', `a workspace has at most ${MAX_NODES} org nodes`);
      if (parentKey !== null) {
        const parent = byKey.get(parentKey);
        if (!parent) throw bad(OrgErrorCode.INVALID_ORG_NODE, 'input.parentKey', `no org node ${parentKey}`);
        if (parent.path.includes(key)) throw bad(OrgErrorCode.INVALID_ORG_NODE, 'input.parentKey', `${parentKey} is inside ${key}'s own subtree: a node cannot move under itself`);
        const siblings = parent.children.filter((c) => c !== key).length;
        if (siblings >= MAX_CHILDREN) throw bad(OrgErrorCode.INVALID_ORG_NODE, 'input.parentKey', `${parentKey} already has ${MAX_CHILDREN} children, the most a node may have`);
        const height = existing ? subtreeHeight(byKey, key) : 1;
        if (parent.path.length + height > MAX_DEPTH) throw bad(OrgErrorCode.INVALID_ORG_NODE, 'input.parentKey', `the tree would be deeper than ${MAX_DEPTH} levels`);
      }
      await this.repo.saveNode(em, ws, key, name, parentKey);
      await this.audit.record(em, actor, { action: existing ? 'org_node.update' : 'org_node.create', targetType: 'org_node', targetId: key, details: { parentKey, moved: existing ? existing.parentKey !== parentKey : false } });
    });
    this.treeChanged(ws);
    return (await this.node(ws, key))!;
  }

  /** Deletes a node without children that no alert rule or target is scoped to; its touchpoints and staff become unassigned. */
  async deleteNode(actor: AuditActor, key: string): Promise<boolean> {
    const ws = actor.workspaceId;
    await this.ds.transaction(async (em) => {
      await this.repo.lockTree(em, ws);
      const node = (await this.tree(ws, em)).find((n) => n.key === key);
      if (!node) throw AppError.notFound(OrgErrorCode.ORG_NODE_NOT_FOUND, `no org node ${key}`);
      if (node.children.length) throw AppError.conflict(OrgErrorCode.ORG_NODE_HAS_CHILDREN, `org node ${key} has ${node.children.length} children: move or delete them first`);
      const uses = await this.repo.scopedUses(em, ws, [key]);
      if (uses) throw AppError.conflict(OrgErrorCode.ORG_NODE_IN_USE, `${uses} alert rules or targets are scoped to org node ${key}: change or delete them first`);
      await this.repo.deleteNode(em, ws, key);
      await this.audit.record(em, actor, { action: 'org_node.delete', targetType: 'org_node', targetId: key, details: {} });
    });
    this.treeChanged(ws);
    return true;
  }

  /** Sets `spec` up when the workspace has no org node yet (seeding); false when it had a tree, which is left as it is. */
  async seedTree(ws: string, spec: OrgTreeSpec): Promise<boolean> {
    return this.ds.transaction(async (em) => {
      await this.repo.lockTree(em, ws);
      if ((await this.repo.nodes(em, ws)).length) return false;
      for (const n of spec.nodes) await this.repo.saveNode(em, ws, n.key, n.name, n.parentKey);
      const byNode = new Map<string, string[]>();
      for (const [t, n] of Object.entries(spec.touchpoints)) byNode.set(n, [...(byNode.get(n) ?? []), t]);
      for (const [n, ts] of byNode) await this.repo.assignTouchpoints(em, ws, ts, n);
      for (const [s, n] of Object.entries(spec.staff)) await this.repo.saveStaff(em, ws, s, null, n);
      return true;
    });
  }

  // ---- touchpoints and staff ---------------------------------------------------------------

  async touchpoints(ws: string, nodeKey: string | null, unassignedOnly: boolean, first: number, after: string | null): Promise<TouchpointRow[]> {
    return this.repo.touchpoints(this.ds.manager, ws, nodeKey, unassignedOnly, checkFirst(first), after);
  }

  /** Assigns touchpoints to a node (null: unassigns them); touchpoints not seen yet are registered. */
  async assignTouchpoints(actor: AuditActor, touchpoints: string[], nodeKey: string | null): Promise<TouchpointRow[]> {
    const ws = actor.workspaceId;
    if (!Array.isArray(touchpoints) || !touchpoints.length || touchpoints.length > MAX_ASSIGN) throw bad(OrgErrorCode.INVALID_TOUCHPOINT, 'touchpoints', `give 1–${MAX_ASSIGN} touchpoints`);
    touchpoints.forEach((t, i) => {
      if (typeof t !== 'string' || !t || t.length > 200) throw bad(OrgErrorCode.INVALID_TOUCHPOINT, `touchpoints.${i}`, 'a touchpoint is 1–200 characters (as `context.touchpoint` carries it)');
    });
    const list = [...new Set(touchpoints)];
    await this.ds.transaction(async (em) => {
      await this.repo.lockTree(em, ws);
      if (nodeKey !== null && !(await this.repo.nodes(em, ws)).some((n) => n.key === nodeKey)) throw bad(OrgErrorCode.INVALID_ORG_NODE, 'nodeKey', `no org node ${nodeKey}`);
      await this.repo.assignTouchpoints(em, ws, list, nodeKey);
      await this.audit.record(em, actor, { action: 'org_touchpoints.assign', targetType: 'org_node', targetId: nodeKey ?? '', details: { touchpoints: list.length } });
    });
    this.treeChanged(ws);
    return this.repo.touchpointsNamed(this.ds.manager, ws, list);
  }

  async staff(ws: string, nodeKey: string | null, first: number, after: string | null): Promise<StaffRow[]> {
    return this.repo.staff(this.ds.manager, ws, nodeKey, checkFirst(first), after);
  }

  /** Declares a staff member (name, node) or changes one; staff seen in events are registered by ingest. */
  async saveStaff(actor: AuditActor, input: SaveStaff): Promise<StaffRow> {
    const ws = actor.workspaceId;
    const id = typeof input.staffId === 'string' ? input.staffId.trim() : '';
    if (!id || id.length > 128) throw bad(OrgErrorCode.INVALID_STAFF, 'input.staffId', 'a staff id is the WeCom user id: 1–128 characters');
    const name = input.name == null ? null : input.name.trim();
    if (name !== null && (!name || name.length > 100)) throw bad(OrgErrorCode.INVALID_STAFF, 'input.name', 'a name is 1–100 characters');
    const nodeKey = input.nodeKey ?? null;
    await this.ds.transaction(async (em) => {
      await this.repo.lockTree(em, ws);
      if (nodeKey !== null && !(await this.repo.nodes(em, ws)).some((n) => n.key === nodeKey)) throw bad(OrgErrorCode.INVALID_ORG_NODE, 'input.nodeKey', `no org node ${nodeKey}`);
      await this.repo.saveStaff(em, ws, id, name, nodeKey);
      await this.audit.record(em, actor, { action: 'org_staff.save', targetType: 'staff', targetId: id, details: { nodeKey } });
    });
    return (await this.repo.staffNamed(this.ds.manager, ws, [id]))[0];
  }

  /** The current staff owner of each person (null: none). */
  async ownersOf(ws: string, ids: readonly string[]): Promise<(OwnerRow | null)[]> {
    const m = await this.repo.ownersOf(this.ds.manager, ws, ids);
    return ids.map((id) => m.get(id) ?? null);
  }
}

function checkFirst(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw bad('INVALID_PAGE', 'first', `first is 1–${MAX_PAGE}`);
  return first;
}

/** Nodes in depth-first order (siblings by key) with their paths and children. */
export function arrange(rows: OrgNodeRow[]): OrgNodeView[] {
  const children = new Map<string | null, OrgNodeRow[]>();
  for (const r of rows) {
    const list = children.get(r.parentKey) ?? [];
    list.push(r);
    children.set(r.parentKey, list);
  }
  const out: OrgNodeView[] = [];
  const visit = (r: OrgNodeRow, path: string[]) => {
    const p = [...path, r.key];
    const kids = (children.get(r.key) ?? []).sort((a, b) => (a.key < b.key ? -1 : 1));
    out.push({ ...r, path: p, children: kids.map((k) => k.key) });
    for (const k of kids) visit(k, p);
  };
  for (const r of (children.get(null) ?? []).sort((a, b) => (a.key < b.key ? -1 : 1))) visit(r, []);
  return out;
}

/** Levels from `key` down to its deepest descendant (1 for a leaf). */
function subtreeHeight(byKey: Map<string, OrgNodeView>, key: string): number {
  const n = byKey.get(key);
  if (!n) return 1;
  return 1 + Math.max(0, ...n.children.map((c) => subtreeHeight(byKey, c)));
}
