// Times the dashboard's live KPI computations (KpiService.current) and each catalogue KPI over 30 days.
import 'reflect-metadata';
const root = process.env.ROOT ?? '/work/main';
const { createApp } = await import(`${root}/dist/src/app.js`);
const { loadConfig } = await import(`${root}/dist/src/platform/config/index.js`).catch(() => import(`${root}/dist/src/platform/config.js`));
const { KpiMetric } = await import(`${root}/dist/src/modules/kpis/kpi.catalogue.js`);
const app = await createApp(loadConfig());
const ws = (await app.db.dataSource.query(`SELECT workspace_id AS w, count(*) n FROM events GROUP BY 1 ORDER BY 2 DESC LIMIT 1`))[0].w;
const k = app.services.kpis;
const time = async (label, f, reps = 3) => {
  const ts = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); await f(); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  console.log(`${label.padEnd(48)} median ${ts[Math.floor(ts.length / 2)].toFixed(0).padStart(7)} ms`);
};
const TILE = ['DAU', 'NEW_PROFILES', 'CONVERSION_RATE', 'GMV', 'RETENTION_D1', 'REPURCHASE_RATE'];
await time('live tiles (6 metrics, DAY, 3 periods)', () => k.current(ws, TILE, 'DAY', 3, 'NONE', {}));
await time('live daily (DAY, 30 periods)', () => k.current(ws, ['DAU', 'NEW_PROFILES', 'GMV'], 'DAY', 30, 'NONE', {}));
await time('live hourly (HOUR, 24)', () => k.current(ws, ['ACTIVE_USERS', 'ORDERS'], 'HOUR', 24, 'NONE', {}));
await time('live channels (DAY 1, CHANNEL)', () => k.current(ws, ['DAU', 'NEW_PROFILES', 'GMV'], 'DAY', 1, 'CHANNEL', {}));
const today = await k.today(ws);
const from = new Date(Date.parse(`${today}T00:00:00Z`) - 29 * 86400000).toISOString().slice(0, 10);
if (!process.env.SKIP_ALL) for (const m of Object.values(KpiMetric)) await time(`kpi ${m} 30 days DAY`, () => k.series(ws, [m], { from, to: today }, 'DAY', 'NONE', {}), 1);
await app.stop?.();
process.exit(0);
