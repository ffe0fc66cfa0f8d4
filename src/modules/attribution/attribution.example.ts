import { RULE_MODELS, pathSet, pathsOf, ruleCredit, shapleyShares, valuesOf, type PersonEvent, type SetCount } from './attribution.models';

const DAY = 86_400_000;
const T0 = Date.parse('2026-06-10T02:00:00Z');
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/**
 * The worked example of docs/reference.md, computed by the module's own functions (so the page
 * cannot drift from the code): one person's path, each rule-based model's split of their order, and
 * Shapley credit over a small population of paths.
 */
export function attributionWorkedExample(): string[] {
  const touch = (day: number, channel: string, touchpoint: string | null, campaign: string | null): PersonEvent => ({
    at: T0 + day * DAY,
    id: `e${day}`,
    conversions: new Map(),
    touch: { at: T0 + day * DAY, values: [channel, touchpoint, campaign] },
  });
  const events: PersonEvent[] = [
    touch(0, 'xiaohongshu', 'note_spring', '618'),
    touch(2, 'wecom', 'qr_store_sh01', null),
    touch(4, 'douyin', 'live_0618', '618'),
    { at: T0 + 5 * DAY, id: 'order', conversions: new Map([['order', 300]]), touch: null },
  ];
  const { paths } = pathsOf(events, ['order'], 7 * DAY, -Infinity, T0 + 30 * DAY);
  const order = paths.find((p) => p.conversionId === 'order')!;
  const channels = valuesOf(order.touches, 0);
  const lines = [
    '## Attribution: a worked example',
    '',
    'Computed by the attribution module\'s own functions when this page is generated. Settings: lookback 7 days, TIME_DECAY half-life 7 days.',
    '',
    'One person (after identity resolution: three ids, one profile) touched the brand three times and then paid ¥300 in the mini program:',
    '',
    '| day | event | channel | touchpoint | campaign |',
    '|---:|---|---|---|---|',
    '| 0 | Content Viewed (a note) | `xiaohongshu` | `note_spring` | `618` |',
    '| 2 | QR Code Scanned | `wecom` | `qr_store_sh01` | — |',
    '| 4 | Live Watched | `douyin` | `live_0618` | `618` |',
    '| 5 | Order Completed, revenue 300 | `wechat_mp` | — | — |',
    '',
    `The order's path is the ${channels.length} touches in the 7 days before it (the order itself is a conversion, never a touch). Each rule-based model splits the one conversion and its ¥300:`,
    '',
    '| model | xiaohongshu | wecom | douyin |',
    '|---|---:|---:|---:|',
  ];
  for (const m of RULE_MODELS) {
    const c = ruleCredit(m, channels, order.anchorAt, 7 * DAY);
    lines.push(`| \`${m}\` | ${['xiaohongshu', 'wecom', 'douyin'].map((v) => `${pct(c.get(v) ?? 0)} (¥${(300 * (c.get(v) ?? 0)).toFixed(2)})`).join(' | ')} |`);
  }
  // Shapley needs the population: paths (converting or not) per channel set over the range.
  const population: SetCount[] = [
    { values: ['xiaohongshu'], paths: 200, conversions: 4, revenue: 1200 },
    { values: ['wecom'], paths: 150, conversions: 9, revenue: 2700 },
    { values: ['douyin'], paths: 300, conversions: 6, revenue: 1800 },
    { values: ['wecom', 'xiaohongshu'], paths: 60, conversions: 6, revenue: 1800 },
    { values: ['douyin', 'wecom'], paths: 50, conversions: 4, revenue: 1200 },
    { values: ['douyin', 'xiaohongshu'], paths: 80, conversions: 3, revenue: 900 },
    { values: pathSet(channels), paths: 40, conversions: 6, revenue: 1800 },
  ];
  const v = (vs: string[]) => {
    const p = population.find((x) => x.values.join() === [...vs].sort().join());
    return p ? p.conversions / p.paths : 0;
  };
  const full = pathSet(channels);
  const shares = shapleyShares(full, v);
  lines.push(
    '',
    'Shapley (`SHAPLEY`) reads the range\'s paths instead of one path. Say the range holds these paths per channel set (converting ÷ all = v(S), the set\'s conversion rate):',
    '',
    '| channel set S | paths | converting | v(S) |',
    '|---|---:|---:|---:|',
    ...population.map((p) => `| {${p.values.join(', ')}} | ${p.paths} | ${p.conversions} | ${(p.conversions / p.paths).toFixed(3)} |`),
    '',
    `The 6 conversions of the set {${full.join(', ')}} (our person's among them) are split by each channel's Shapley value φ in v restricted to that set, divided by v of the whole set (${v(full).toFixed(3)}); our person's ¥300 is split the same way:`,
    '',
    '| channel | φ | share φ ÷ v | of the set\'s 6 conversions | of our person\'s ¥300 |',
    '|---|---:|---:|---:|---:|',
    ...[...shares].map(([c, x]) => `| \`${c}\` | ${(x * v(full)).toFixed(4)} | ${pct(x)} | ${(6 * x).toFixed(2)} | ¥${(300 * x).toFixed(2)} |`),
    '',
    'How to read them: FIRST_TOUCH answers "what brought people in", LAST_TOUCH "what closed the sale"; LINEAR, TIME_DECAY and POSITION_BASED share by rule; SHAPLEY shares by what each channel adds to the conversion rate of the channel sets the range actually saw (wecom converts best alone and adds most with others, so it earns most here, although it was neither first nor last).',
    '',
  );
  return lines;
}
