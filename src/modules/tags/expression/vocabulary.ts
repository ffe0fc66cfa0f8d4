import type { DaysSince, ProfileNumber } from './ast';

/** One field or function of the expression language, for schema descriptions and the README. */
export interface FieldDoc {
  name: string;
  description: string;
  example: string;
}

export const MAX_EXPRESSION_LENGTH = 2000;
/** Windowed aggregates, `count`, `sum` and tag checks each become a subquery: at most this many. */
export const MAX_SUBQUERIES = 50;
export const MAX_WINDOW_DAYS = 3650;
export const MAX_WINDOW_HOURS = MAX_WINDOW_DAYS * 24;
/** The event whose count and revenue make orders and spend. */
export const ORDER_EVENT = 'Order Completed';

export const PROFILE_NUMBERS: Record<string, ProfileNumber> = {
  total_spend: 'total_spend',
  order_count: 'order_count',
  orders: 'order_count',
  event_count: 'event_count',
};

export const DAYS_SINCE: Record<string, DaysSince> = {
  last_seen_days: 'last_seen_days',
  first_seen_days: 'first_seen_days',
  last_order_days: 'last_order_days',
};

export const FUNCTIONS = ['count', 'sum', 'has_tag', 'tag', 'in_segment', 'variant'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** Names offered as "did you mean" suggestions for an unknown field. */
export const FIELD_NAMES = [...Object.keys(PROFILE_NUMBERS), ...Object.keys(DAYS_SINCE), 'channel', 'traits', 'orders_90d', 'spend_90d', 'events_30d', 'points', 'level'];

export const FIELD_DOCS: readonly FieldDoc[] = [
  { name: 'total_spend', description: 'Lifetime spend in CNY: the sum of `Order Completed` revenue (the profile aggregate).', example: 'total_spend >= 500' },
  { name: 'order_count', description: 'Lifetime number of `Order Completed` events. Alias: `orders`.', example: 'orders >= 3' },
  { name: 'event_count', description: 'Lifetime number of events of any kind.', example: 'event_count > 100' },
  {
    name: 'last_seen_days',
    description: 'Whole days since the latest event: floor((now − last_seen_at) / 24 h). Null (every comparison false) for a profile never seen.',
    example: 'last_seen_days > 30',
  },
  { name: 'first_seen_days', description: 'Whole days since the first event; null when never seen.', example: 'first_seen_days <= 7' },
  { name: 'last_order_days', description: 'Whole days since the latest `Order Completed`; null when the profile never ordered.', example: 'last_order_days > 90' },
  {
    name: 'channel',
    description:
      'The set of channels the profile has been seen on. `channel == "wecom"`: seen on wecom; `channel != "wecom"`: never seen on wecom; `channel in ("a", "b")`: seen on any of them. Compare with string literals only.',
    example: 'channel in ("wecom", "wechat_mp")',
  },
  {
    name: 'traits.<name>',
    description:
      'The current value of a trait. Numbers compare with numbers, strings with strings (by code point), booleans with == / !=; a missing trait or a type mismatch makes the comparison false, and `traits.x == null` is true when the trait is missing or null. Quote names outside [A-Za-z0-9_]: traits."城市".',
    example: 'traits.city == "上海"',
  },
  { name: 'orders_<N>d', description: 'Number of `Order Completed` events with ts ≥ now − N days (1 ≤ N ≤ 3650).', example: 'orders_90d >= 2' },
  {
    name: 'spend_<N>d',
    description: 'Sum of `properties.revenue` (or `properties.total` when revenue is absent or null) over the `Order Completed` events of the last N days; 0 when none. Non-numeric values count as 0.',
    example: 'spend_30d >= 1000',
  },
  { name: 'events_<N>d', description: 'Number of events of any kind with ts ≥ now − N days.', example: 'events_7d == 0' },
  {
    name: 'count(event = "<name>", within = "<N>d" | "<N>h")',
    description: 'Number of events, optionally only those with that name and only those within the last N days or hours. Without `within` it counts all time.',
    example: 'count(event = "Product Viewed", within = "7d") >= 3',
  },
  {
    name: 'sum(property = "<prop>", event = "<name>", within = "<N>d" | "<N>h")',
    description:
      'Sum of a numeric event property over the matching events (0 when none). JSON numbers and strings in plain decimal notation ("12.50") count; other values are ignored.',
    example: 'sum(property = "quantity", event = "Product Added", within = "30d") > 5',
  },
  {
    name: 'points',
    description: 'The membership points balance: Σ points of `Points Earned` − Σ points of `Points Redeemed` (may be negative); 0 without any points event.',
    example: 'points >= 1000',
  },
  {
    name: 'level',
    description:
      'The key of the membership level the person holds now (see `membershipRules`); null without any points event (under a SPEND ladder: any order) or below the first level; under a SPEND ladder it falls with time alone as spend leaves the window (due work, within about a second). Compare with == / != / in (…) against level keys in double quotes or null; like a trait, null makes `==`, `!=` and `in` false.',
    example: 'level in ("gold", "diamond")',
  },
  { name: 'has_tag("<key>")', description: 'True when the profile currently has that tag. Alias: `tag("<key>")`.', example: 'has_tag("vip") or tag("高价值")' },
  { name: 'in_segment("<key>")', description: 'True when the profile is currently a member of the segment with that key.', example: 'in_segment("high_value") and not has_tag("contacted")' },
  {
    name: 'variant("<experiment key>")',
    description:
      'The key of the variant of the profile\'s first exposure in that experiment (`Experiment Viewed` or `assignVariant`); null when the profile was never exposed or is contaminated (exposed to more than one variant, also through a merge). Compare with == / != / in (…) against variant keys in double quotes or null. Like a trait, null makes `==`, `!=` and `in` false: `variant("hero") != "A"` holds only for people exposed (cleanly) to another variant; `variant("hero") == null` selects the unexposed and contaminated.',
    example: 'variant("hero") == "B" and orders_30d >= 1',
  },
];
