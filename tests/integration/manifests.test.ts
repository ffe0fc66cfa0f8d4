import fs from 'node:fs';
import path from 'node:path';
import { bootApp, type TestApp } from '../support/app';
import { MODULES } from '../../src/modules/registry';
import { isSkip, ProjectionPhases, PROJECTION_PHASES, type Projection } from '../../src/modules/events';

/**
 * Every read model is declared once, in its module's manifest, and every phase list of the app is
 * derived from the manifests: a projection that leaves a phase out (neither implements it nor says
 * why it skips it) fails here, as does a module folder without a manifest.
 */
let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

const projections = (): Projection[] => [...t.app.services.phases.ordered];

describe('module manifests', () => {
  it('every module folder has a manifest in the registry', () => {
    const dir = path.join(__dirname, '../../src/modules');
    const folders = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(MODULES.map((m) => m.name).sort()).toEqual(folders);
  });

  it('every manifest projection is ordered once, and declares every phase (implemented or skipped with a reason)', () => {
    const declared = MODULES.flatMap((m) => ('projection' in m ? [m.name] : []));
    expect(declared.length).toBeGreaterThanOrEqual(6);
    expect(projections().map((p) => p.name).sort()).toEqual([...declared].sort());
    for (const p of projections()) {
      for (const phase of PROJECTION_PHASES) {
        const v = p[phase];
        if (isSkip(v as never)) expect({ projection: p.name, phase, reason: (v as { skip: string }).skip.trim().length > 10 }).toEqual({ projection: p.name, phase, reason: true });
        else expect({ projection: p.name, phase, kind: typeof v }).toEqual({ projection: p.name, phase, kind: phase === 'prefetch' ? 'object' : 'function' });
      }
    }
  });

  it('ingest, unmerge, rebuild, sweep and the profile read take their lists from the projections', () => {
    const s = t.app.services;
    const implementing = (phase: (typeof PROJECTION_PHASES)[number]) => projections().filter((p) => !isSkip(p[phase] as never)).map((p) => p.name);
    expect(s.phases.list('apply').map((x) => x.name)).toEqual(implementing('apply'));
    expect(s.phases.list('refresh').map((x) => x.name)).toEqual(implementing('refresh'));
    expect(s.recompute.parts).toEqual(implementing('rebuild'));
    expect(s.sweepSteps.map((x) => x.name)).toEqual(implementing('sweep'));
    // Every prefetch part of a projection is served by the single-statement profile read.
    const fields = projections().flatMap((p) => (isSkip(p.prefetch as never) ? [] : (p.prefetch as readonly { field: string }[]).map((x) => x.field)));
    expect(fields.length).toBeGreaterThan(0);
    for (const f of fields) expect(s.profiles.prefetch.has(f)).toBe(true);
  });

  it('tags run after the projections that return system tags and after experiments; journeys after compliance (consent) and stages', () => {
    const order = projections().map((p) => p.name);
    const before = (a: string, b: string) => expect({ a, b, ok: order.indexOf(a) < order.indexOf(b) }).toEqual({ a, b, ok: true });
    before('stages', 'tags');
    before('health', 'tags');
    // variant() in rules reads the batch's exposures.
    before('experiments', 'tags');
    before('stages', 'health');
    before('compliance', 'journeys');
    before('stages', 'journeys');
  });

  it('a projection that leaves a phase out, or skips it without a reason, is refused at start-up', () => {
    for (const phase of PROJECTION_PHASES) {
      const [first, ...rest] = projections();
      const broken = { ...first } as Record<string, unknown>;
      delete broken[phase];
      expect(() => new ProjectionPhases([broken as unknown as Projection, ...rest])).toThrow(`projection ${first.name} declares nothing for phase ${phase}`);
    }
    const [first, ...rest] = projections();
    expect(() => new ProjectionPhases([{ ...first, sweep: { skip: ' ' } }, ...rest])).toThrow(`projection ${first.name} skips sweep without a reason`);
    expect(() => new ProjectionPhases([{ ...first, after: ['nowhere'] }, ...rest])).toThrow('which no module declares');
  });

  it('the database takes any rebuild part the manifests declare (no second list in a CHECK)', async () => {
    const { workspaceId } = await t.newWorkspace();
    for (const part of t.app.services.recompute.parts) {
      await t.app.db.dataSource.query(`INSERT INTO recompute_state (workspace_id, part) VALUES ($1, $2)`, [workspaceId, part]);
    }
    const rows = await t.app.db.dataSource.query(`SELECT part FROM recompute_state WHERE workspace_id = $1`, [workspaceId]);
    expect(rows).toHaveLength(t.app.services.recompute.parts.length);
    await t.app.db.dataSource.query(`DELETE FROM recompute_state WHERE workspace_id = $1`, [workspaceId]);
  });
});
