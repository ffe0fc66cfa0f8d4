import fs from 'node:fs';
import path from 'node:path';
import { fmt, summarize, type Summary } from './stats';
import type { MachineFacts } from './machine';

/** One row of the results table: Siyu against a reference measured in the same run. */
export interface Comparison {
  case: string;
  metric: string;
  /** events/s, requests/s: higher is better. Latency: lower is better (the ratio is then reference/Siyu). */
  higherIsBetter: boolean;
  siyuName: string;
  siyu: Summary;
  referenceName: string;
  reference: Summary;
  /** Speed ratio of the medians: Siyu/reference for rates, reference/Siyu for latencies (> 1: Siyu faster). */
  ratio: number;
  /** The same ratio per repetition (paired), min and max. */
  ratioMin: number;
  ratioMax: number;
  target: number | null;
  /** Whether the target is met at this size (the ingest target applies at full size). */
  meets: boolean | null;
  targetNote?: string;
}

export function compare(
  c: Omit<Comparison, 'siyu' | 'reference' | 'ratio' | 'ratioMin' | 'ratioMax' | 'meets'> & { siyu: number[]; reference: number[] },
): Comparison {
  const siyu = summarize(c.siyu);
  const reference = summarize(c.reference);
  const r = (s: number, ref: number) => (c.higherIsBetter ? s / ref : ref / s);
  const paired = c.siyu.map((s, i) => r(s, c.reference[i]));
  const ratio = r(siyu.median, reference.median);
  return {
    ...c,
    siyu,
    reference,
    ratio,
    ratioMin: Math.min(...paired),
    ratioMax: Math.max(...paired),
    meets: c.target === null ? null : ratio >= c.target,
  };
}

export interface Report {
  title: string;
  date: string;
  size: string;
  parameters: Record<string, unknown>;
  machine: MachineFacts;
  comparisons: Comparison[];
  /** How costs grow with the data: the same requests at two sizes (rendered after the comparisons). */
  scaling?: Scaling[];
  /** Further tables and facts, already as Markdown sections (title → lines). */
  sections: { title: string; lines: string[] }[];
  /** Raw measurements and facts, for the JSON only. */
  details: Record<string, unknown>;
  durationSec: number;
}

/** One side (one data size) of a scaling row: latencies of sequential requests. */
export interface ScalingSide {
  /** Request latencies, ms, in order (warm-up excluded). */
  samples: number[];
  p50: number | null;
  p95: number | null;
  /** A request ran past the per-request limit (`Scaling.timeoutMs`): no further requests were sent. */
  timeout: boolean;
  /** The request failed otherwise (GraphQL error code and message). */
  error?: string;
}

/** The same request at two data sizes. */
export interface ScalingRow {
  /** What is asked (a KPI, or a named query). */
  subject: string;
  /** How it is asked (the GraphQL field and its arguments). */
  route: string;
  small: ScalingSide;
  large: ScalingSide;
  /** large ÷ small of p50 and p95; with a timeout at the large size, a lower bound (timeout ÷ small). */
  ratioP50: number | null;
  ratioP95: number | null;
  lowerBound: boolean;
  /** How the answers compare (e.g. `×10`, `×1`: counts grow with the data, rates stay). */
  answers: string;
}

/** Costs at two data sizes, `factor` apart: "data × factor → cost × r". */
export interface Scaling {
  title: string;
  /** Markdown lines before the table. */
  intro: string[];
  factor: number;
  smallName: string;
  largeName: string;
  timeoutMs: number;
  rows: ScalingRow[];
}

const limit = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${fmt(ms, 0)} ms`);
const ms = (x: number | null) => (x === null ? '—' : fmt(x, 1));
const side = (s: ScalingSide, timeoutMs: number) =>
  s.error ? `error: ${s.error.replace(/\|/g, '\\|').slice(0, 80)}` : s.timeout && !s.samples.length ? `**timeout** (> ${limit(timeoutMs)})` : `${ms(s.p50)} / ${ms(s.p95)}${s.timeout ? ' then **timeout**' : ''} (${s.samples.length})`;
const times = (r: number | null, lowerBound: boolean) => (r === null ? '—' : `${lowerBound ? '> ' : ''}×${fmt(r, r < 10 ? 2 : 1)}`);

export function scalingMarkdown(s: Scaling): string[] {
  return [
    ...s.intro,
    '',
    `| subject | route | ${s.smallName}: p50 / p95 ms (n) | ${s.largeName}: p50 / p95 ms (n) | data ×${s.factor} → cost × (p50) | (p95) | answers ${s.largeName} ÷ ${s.smallName} |`,
    '|---|---|---:|---:|---:|---:|---|',
    ...s.rows.map(
      (r) => `| ${r.subject} | ${r.route} | ${side(r.small, s.timeoutMs)} | ${side(r.large, s.timeoutMs)} | **${times(r.ratioP50, r.lowerBound)}** | ${times(r.ratioP95, r.lowerBound)} | ${r.answers} |`,
    ),
  ];
}

const range = (s: Summary, digits = 1) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

export function markdown(r: Report): string {
  const m = r.machine;
  const lines: string[] = [
    `# ${r.title}`,
    '',
    `Run ${r.date}, size \`${r.size}\`, ${fmt(r.durationSec, 0)} s. Speeds are ratios against a reference measured in the same run on the same machine; the absolute numbers only describe this machine.`,
    '',
    `- **Machine:** ${m.cpuModel}, ${m.cores} cores, ${fmt(m.memoryGiB, 1)} GiB memory, ${m.os}; 1-min load average ${fmt(m.loadAverage.start, 2)} at the start, ${fmt(m.loadAverage.end ?? NaN, 2)} at the end`,
    `- **Node** ${m.node}, **PostgreSQL** ${m.postgres} (${Object.entries(m.postgresSettings).map(([k, v]) => `${k}=${v}`).join(', ')})`,
    `- **Parameters:** ${Object.entries(r.parameters).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ')}`,
  ];
  if (r.comparisons.length) {
    lines.push(
      '',
      '| case | metric | Siyu | Siyu median (min–max) | reference | reference median (min–max) | speed ratio (per-rep min–max) | target |',
      '|---|---|---|---:|---|---:|---:|---|',
    );
  }
  for (const c of r.comparisons) {
    const digits = c.higherIsBetter ? 0 : 1;
    const target = c.target === null ? '—' : `≥ ${c.target}: ${c.meets ? 'met' : 'not met'}${c.targetNote ? ` here (the target applies ${c.targetNote})` : ''}`;
    lines.push(
      `| ${c.case} | ${c.metric} | ${c.siyuName} | ${range(c.siyu, digits)} | ${c.referenceName} | ${range(c.reference, digits)} | **${fmt(c.ratio, 2)}** (${fmt(c.ratioMin, 2)}–${fmt(c.ratioMax, 2)}) | ${target} |`,
    );
  }
  if (r.comparisons.length) lines.push('', 'Speed ratio: Siyu/reference for rates, reference/Siyu for latencies; above 1 means Siyu is faster.');
  for (const s of r.scaling ?? []) lines.push('', `## ${s.title}`, '', ...scalingMarkdown(s));
  for (const s of r.sections) lines.push('', `## ${s.title}`, '', ...s.lines);
  return lines.join('\n') + '\n';
}

/** Writes `<out>/<name>.json` and `.md`, prints the markdown; returns the path without extension. */
export function saveReport(out: string, name: string, report: Report): string {
  fs.mkdirSync(out, { recursive: true });
  const file = path.join(out, name);
  fs.writeFileSync(`${file}.json`, JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(`${file}.md`, markdown(report));
  process.stdout.write(markdown(report));
  return file;
}

/** Runs a standalone bench's `main` and exits: 0, or 1 with the error on stderr. */
export function runStandalone(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
