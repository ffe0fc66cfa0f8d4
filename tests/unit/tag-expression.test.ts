import { AppError, ErrorClass } from '../../src/platform/errors';
import {
  compileToSql,
  evaluate,
  ExpressionSyntaxError,
  FIELD_DOCS,
  parseExpression,
  referencedExperiments,
  referencedSegments,
  referencedTags,
  requirements,
  type ProfileFacts,
} from '../../src/modules/tags/expression';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const now = new Date('2026-03-01T12:00:00.000Z');
const ago = (days: number, hours = 0) => new Date(now.getTime() - days * DAY - hours * HOUR);

function facts(over: Partial<ProfileFacts> = {}): ProfileFacts {
  return {
    totalSpend: 0,
    orderCount: 0,
    eventCount: 0,
    firstSeenAt: null,
    lastSeenAt: null,
    lastOrderAt: null,
    channels: [],
    traits: {},
    tags: new Set(),
    events: [],
    ...over,
  };
}
const ev = (name: string | null, at: Date, properties: Record<string, unknown> | null = null) => ({ name, ts: at, properties });
const trait = (value: unknown) => ({ value, channel: 'wecom', at: '2026-01-01T00:00:00.000Z' });
const holds = (src: string, f: ProfileFacts) => evaluate(parseExpression(src), f, now);

const gt = (left: object, n: number): object => ({ kind: 'compare', op: '>', left, right: { kind: 'number', text: String(n), value: n } });

describe('parsing', () => {
  it('parses the operator examples', () => {
    expect(parseExpression('orders_90d >= 2 and total_spend >= 500')).toEqual({
      kind: 'and',
      args: [
        { kind: 'compare', op: '>=', left: { kind: 'window', measure: 'orders', days: 90 }, right: { kind: 'number', text: '2', value: 2 } },
        { kind: 'compare', op: '>=', left: { kind: 'profile', name: 'total_spend' }, right: { kind: 'number', text: '500', value: 500 } },
      ],
    });
    expect(parseExpression('last_seen_days > 30')).toEqual(gt({ kind: 'days_since', name: 'last_seen_days' }, 30));
    expect(parseExpression('channel in ("wecom", "wechat_mp") and traits.city == "上海"')).toEqual({
      kind: 'and',
      args: [
        { kind: 'in', value: { kind: 'channel' }, list: [{ kind: 'string', value: 'wecom' }, { kind: 'string', value: 'wechat_mp' }] },
        { kind: 'compare', op: '==', left: { kind: 'trait', name: 'city' }, right: { kind: 'string', value: '上海' } },
      ],
    });
    expect(parseExpression('count(event = "Product Viewed", within = "7d") >= 3 and not count(event = "Order Completed", within = "7d")')).toEqual({
      kind: 'and',
      args: [
        {
          kind: 'compare',
          op: '>=',
          left: { kind: 'count', event: 'Product Viewed', within: { amount: 7, unit: 'd' } },
          right: { kind: 'number', text: '3', value: 3 },
        },
        { kind: 'not', arg: { kind: 'truth', value: { kind: 'count', event: 'Order Completed', within: { amount: 7, unit: 'd' } } } },
      ],
    });
    expect(parseExpression('has_tag("vip") or tag("高价值")')).toEqual({
      kind: 'or',
      args: [
        { kind: 'truth', value: { kind: 'has_tag', key: 'vip' } },
        { kind: 'truth', value: { kind: 'has_tag', key: '高价值' } },
      ],
    });
    expect(parseExpression('sum(property = "quantity", event = "Product Added", within = "36h") > 5')).toEqual(
      gt({ kind: 'sum', property: 'quantity', event: 'Product Added', within: { amount: 36, unit: 'h' } }, 5),
    );
    expect(parseExpression('count() > 0')).toEqual(gt({ kind: 'count', event: null, within: null }, 0));
    expect(parseExpression('orders > 1')).toEqual(gt({ kind: 'profile', name: 'order_count' }, 1));
    expect(parseExpression('variant("hero") == "B" or variant(experiment = "hero") in ("C", null) or "A" != variant("hero")')).toEqual({
      kind: 'or',
      args: [
        { kind: 'compare', op: '==', left: { kind: 'variant', experiment: 'hero' }, right: { kind: 'string', value: 'B' } },
        { kind: 'in', value: { kind: 'variant', experiment: 'hero' }, list: [{ kind: 'string', value: 'C' }, { kind: 'null' }] },
        { kind: 'compare', op: '!=', left: { kind: 'string', value: 'A' }, right: { kind: 'variant', experiment: 'hero' } },
      ],
    });
    expect(parseExpression('spend_30d > 1 or events_7d > 1')).toEqual({
      kind: 'or',
      args: [gt({ kind: 'window', measure: 'spend', days: 30 }, 1), gt({ kind: 'window', measure: 'events', days: 7 }, 1)],
    });
  });

  it('binds and tighter than or, not tighter than and; parentheses override', () => {
    const a = gt({ kind: 'profile', name: 'order_count' }, 1);
    const b = gt({ kind: 'profile', name: 'total_spend' }, 2);
    const c = gt({ kind: 'profile', name: 'event_count' }, 3);
    expect(parseExpression('orders > 1 or total_spend > 2 and event_count > 3')).toEqual({ kind: 'or', args: [a, { kind: 'and', args: [b, c] }] });
    expect(parseExpression('orders > 1 and total_spend > 2 or event_count > 3')).toEqual({ kind: 'or', args: [{ kind: 'and', args: [a, b] }, c] });
    expect(parseExpression('(orders > 1 or total_spend > 2) and event_count > 3')).toEqual({ kind: 'and', args: [{ kind: 'or', args: [a, b] }, c] });
    expect(parseExpression('not orders > 1 and total_spend > 2')).toEqual({ kind: 'and', args: [{ kind: 'not', arg: a }, b] });
    expect(parseExpression('not (orders > 1 and total_spend > 2)')).toEqual({ kind: 'not', arg: { kind: 'and', args: [a, b] } });
    expect(parseExpression('not not orders > 1')).toEqual({ kind: 'not', arg: { kind: 'not', arg: a } });
    expect(parseExpression('((orders > 1))')).toEqual(a);
  });

  it('reads Chinese strings, quoted trait names, escapes, decimals, negatives and any keyword case', () => {
    expect(parseExpression('traits."城市" == "上海"')).toEqual({
      kind: 'compare',
      op: '==',
      left: { kind: 'trait', name: '城市' },
      right: { kind: 'string', value: '上海' },
    });
    expect(parseExpression('traits."first name" != "a \\"q\\" \\\\ b"')).toMatchObject({ left: { name: 'first name' }, right: { value: 'a "q" \\ b' } });
    expect(parseExpression('traits.score >= -12.50')).toMatchObject({ right: { kind: 'number', text: '-12.50', value: -12.5 } });
    expect(parseExpression('ORDERS_90D >= 2 AND Total_Spend >= 500 Or NOT Has_Tag("x") and traits.Vip == TRUE and traits.x == NULL')).toEqual(
      parseExpression('orders_90d >= 2 and total_spend >= 500 or not has_tag("x") and traits.Vip == true and traits.x == null'),
    );
    expect(parseExpression('traits.Vip')).toEqual({ kind: 'truth', value: { kind: 'trait', name: 'Vip' } });
    expect(parseExpression('channel\n  in ("wecom")\n  and\ttraits.a == false')).toMatchObject({ kind: 'and' });
    expect(parseExpression('count(EVENT = "x", Within = "24H") > 0')).toEqual(gt({ kind: 'count', event: 'x', within: { amount: 24, unit: 'h' } }, 0));
    expect(parseExpression('"wecom" == channel')).toMatchObject({ left: { kind: 'string' }, right: { kind: 'channel' } });
    expect(parseExpression('traits.level in (1, "gold", true, null)')).toMatchObject({ kind: 'in', list: [{ kind: 'number' }, { kind: 'string' }, { kind: 'boolean' }, { kind: 'null' }] });
    expect(parseExpression('x'.repeat(0) + 'orders > 1' + ' '.repeat(1990))).toEqual(gt({ kind: 'profile', name: 'order_count' }, 1));
  });
});

describe('errors', () => {
  const cases: [string, string][] = [
    ['(orders > 1', 'at 1:12: expected "and", "or" or ")" (to close the "(" at 1:1) but found end of expression'],
    ['totl_spend > 5', 'at 1:1: unknown field "totl_spend" (did you mean "total_spend"?)'],
    ['not totl_spend', 'at 1:5: unknown field "totl_spend" (did you mean "total_spend"?)'],
    ['orders_90days > 1', 'at 1:1: unknown field "orders_90days" (did you mean "orders_90d"?)'],
    ['cnt(event = "x") > 1', 'at 1:1: unknown function "cnt" (did you mean "count"?)'],
    ['total_spend() > 1', 'at 1:1: unknown function "total_spend" (total_spend is a field: leave out the parentheses)'],
    ['count(evnt = "x") > 1', 'at 1:7: unknown argument "evnt" of count() (did you mean "event"?)'],
    ['count(within = "7 days") > 1', 'at 1:16: within must be whole days or hours such as "7d" or "24h" but found string "7 days"'],
    ['count(within = 7d) > 1', 'at 1:16: within must be a string such as "7d" or "24h" but found number 7'],
    ['count(within = "3651d") > 1', 'at 1:16: within must be 1 to 3650 days (87600 hours) but found string "3651d"'],
    ['orders_0d > 1', 'at 1:1: window of orders_0d must be 1 to 3650 days'],
    ['spend_3651d > 1', 'at 1:1: window of spend_3651d must be 1 to 3650 days'],
    ['channel in "wecom"', 'at 1:12: expected "(" and a list of literals after "in", e.g. in ("a", "b") but found string "wecom"'],
    ['channel in ()', 'at 1:13: expected a literal (number, string, true, false or null) but found ")"'],
    ['orders > 1 foo', 'at 1:12: expected "and", "or" or end of expression but found "foo"'],
    ['orders > 1)', 'at 1:11: unexpected ")" without a matching "("'],
    ['orders foo', 'at 1:8: expected a comparison (==, !=, >, >=, <, <=, in), "and", "or" or end of expression but found "foo"'],
    ['', 'at 1:1: expected a value (number, string, field or function) but found end of expression'],
    ['orders_90d >= 2 and )', 'at 1:21: expected a value (number, string, field or function) but found ")"'],
    ['orders >', 'at 1:9: expected a value (number, string, field or function) but found end of expression'],
    ['x'.repeat(2001), 'at 1:1: expression is too long: 2001 characters (at most 2000)'],
    ['traits.city == "上海', 'at 1:16: unterminated string: expected a closing " but found end of expression'],
    ['traits.城市 == "上海"', 'at 1:8: unexpected character "城" (names with other characters must be quoted: traits."城市"; text values go in double quotes)'],
    ['traits."城市" == \'上海\'', 'at 1:16: unexpected character "\'" (strings use double quotes: "text")'],
    ['total_spend >= 500 && orders > 1', 'at 1:20: unexpected character "&" (write "and" / "or")'],
    ['orders = 1', 'at 1:8: unexpected "=": write "==" to compare'],
    ['total_spend > "500"', 'at 1:15: cannot compare a number with a string'],
    ['channel > "a"', 'at 1:9: channel can only be compared with == or != (or in (...)), not >'],
    ['channel == 1', 'at 1:12: channel must be compared with a channel name in double quotes, e.g. channel == "wecom"'],
    ['channel', 'at 1:1: channel is a set of channels: compare it with == "name", != "name" or in ("a", "b")'],
    ['has_tag(1)', 'at 1:9: key of has_tag() must be a tag key in double quotes'],
    ['tag()', 'at 1:5: tag() needs a tag key, e.g. tag("vip")'],
    ['in_segment("a", "b")', 'at 1:17: in_segment() takes one argument'],
    ['in_segmnt("a")', 'at 1:1: unknown function "in_segmnt" (did you mean "in_segment"?)'],
    ['variant("hero") > "A"', 'at 1:17: variant() can only be compared with == or != (or in (...)), not >'],
    ['variant("hero") == 1', 'at 1:20: variant() must be compared with a variant key in double quotes or null, e.g. variant("hero") == "B"'],
    ['variant("hero") == true', 'at 1:20: variant() must be compared with a variant key in double quotes or null, e.g. variant("hero") == "B"'],
    ['variant("hero") == traits.v', 'at 1:20: variant() must be compared with a variant key in double quotes or null, e.g. variant("hero") == "B"'],
    ['variant("a") == variant("b")', 'at 1:17: variant() must be compared with a variant key in double quotes or null, e.g. variant("hero") == "B"'],
    ['1 != variant("hero")', 'at 1:1: variant() must be compared with a variant key in double quotes or null, e.g. variant("hero") == "B"'],
    ['variant("hero") in ("A", 2)', 'at 1:26: variant() must be compared with a variant key in double quotes or null, e.g. variant("hero") == "B"'],
    ['variant("hero")', 'at 1:1: variant() is a variant key or null: compare it, e.g. variant("hero") == "B" or variant("hero") != null'],
    ['variant("hero") and orders > 1', 'at 1:1: variant() is a variant key or null: compare it, e.g. variant("hero") == "B" or variant("hero") != null'],
    ['variant() == "A"', 'at 1:9: variant() needs an experiment key, e.g. variant("hero")'],
    ['variant("") == "A"', 'at 1:9: experiment of variant() must not be empty'],
    ['variant(hero) == "A"', 'at 1:9: expected a literal (number, string, true, false or null) but found "hero"'],
    ['variant("a", "b") == "A"', 'at 1:14: variant() takes one argument'],
    ['variant(key = "a") == "A"', 'at 1:9: unknown argument "key" of variant() (it takes experiment)'],
    ['variant == "A"', 'at 1:1: variant is a function: variant("experiment key")'],
    ['varaint("hero") == "A"', 'at 1:1: unknown function "varaint" (did you mean "variant"?)'],
    ['sum(event = "x") > 1', 'at 1:16: sum() needs property = "<name>", e.g. sum(property = "revenue")'],
    ['count("x") > 1', 'at 1:7: count() takes named arguments, e.g. count(event = "Order Completed", within = "30d")'],
    ['count(event = "a", event = "b") > 1', 'at 1:20: argument "event" of count() is given twice'],
    ['traits.a.b == 1', 'at 1:9: traits.<name> takes one name; quote a name with dots: traits."a.b"'],
    ['traits > 1', 'at 1:1: traits needs a trait name: traits.city or traits."城市"'],
    ['has_tag("x") > true', 'at 1:14: true/false can only be compared with == or !=, not >'],
    ['orders < null', 'at 1:8: null can only be compared with == or !=, not <'],
    ['count > 1', 'at 1:1: count is a function: count(event = "…", within = "7d")'],
    ['orders > 1 and\n  totl > 2', 'at 2:3: unknown field "totl"'],
    ['traits."城市" == "上海" and bogus', 'at 1:25: unknown field "bogus"'],
    [Array.from({ length: 51 }, (_, i) => `orders_${i + 1}d > 0`).join(' or '), 'at 1:892: too many windowed aggregates and function calls (at most 50)'],
  ];

  it.each(cases)('%j', (src, message) => {
    let err: unknown;
    try {
      parseExpression(src);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExpressionSyntaxError);
    expect(err).toBeInstanceOf(AppError);
    const e = err as ExpressionSyntaxError;
    expect(e.message).toBe(message);
    expect(e.errorClass).toBe(ErrorClass.BAD_USER_INPUT);
    expect(e.reason).toBe('EXPRESSION_INVALID');
    expect(e.fields).toEqual([{ field: 'expression', message }]);
    expect(message.startsWith(`at ${e.detail.line}:${e.detail.column}: `)).toBe(true);
  });

  it('carries a structured detail: line, column (in characters), offset, expected and found', () => {
    try {
      parseExpression('traits."城市" == "上海" and\n  (orders > 1 or )');
      throw new Error('should not parse');
    } catch (e) {
      expect((e as ExpressionSyntaxError).detail).toEqual({
        line: 2,
        column: 18,
        offset: 41,
        expected: 'a value (number, string, field or function)',
        found: '")"',
      });
    }
    try {
      parseExpression('traits."城市" == "上海" and totl_spend > 1');
      throw new Error('should not parse');
    } catch (e) {
      expect((e as ExpressionSyntaxError).detail).toEqual({ line: 1, column: 25, offset: 24, expected: 'a known field', found: '"totl_spend"' });
    }
    // Columns count characters; offsets are string indexes (an emoji is two UTF-16 units).
    try {
      parseExpression('traits.a == "😀" ?');
      throw new Error('should not parse');
    } catch (e) {
      expect((e as ExpressionSyntaxError).detail).toMatchObject({ line: 1, column: 17, offset: 17, found: '"?"' });
    }
  });

  it('allows exactly 50 windowed aggregates and calls and 2,000 characters', () => {
    expect(() => parseExpression(Array.from({ length: 50 }, (_, i) => `orders_${i + 1}d > 0`).join(' or '))).not.toThrow();
    expect(() => parseExpression('orders > 1' + ' '.repeat(1990))).not.toThrow();
    expect(() => parseExpression('traits.a == "' + '上'.repeat(1985) + '"')).not.toThrow();
  });
});

describe('evaluation', () => {
  const rich = facts({
    totalSpend: 512.3,
    orderCount: 3,
    eventCount: 40,
    firstSeenAt: ago(100, 1),
    lastSeenAt: ago(31, 23),
    lastOrderAt: null,
    channels: ['wecom', 'web'],
    traits: {
      city: trait('上海'),
      age: trait(31),
      vip: trait(true),
      nothing: trait(null),
      empty: trait(''),
      zero: trait(0),
      tags: trait(['a']),
      城市: trait('北京'),
    },
    tags: new Set(['vip', '高价值']),
    events: [
      ev('Order Completed', ago(1), { revenue: 12.34 }),
      ev('Order Completed', ago(2), { revenue: 56.78 }),
      ev('Order Completed', ago(10), { total: '100.50' }),
      ev('Order Completed', ago(20), { revenue: null, total: 7 }),
      ev('Order Completed', ago(40), { revenue: 'n/a', total: 1000 }),
      ev('Order Completed', ago(50), null),
      ev('Product Viewed', ago(0, 5), { sku: 'A', quantity: 2 }),
      ev('Product Viewed', ago(1, 1), { sku: 'B', quantity: '3' }),
      ev('Product Viewed', ago(3), { sku: 'C', quantity: 'three' }),
      ev('Product Viewed', ago(8), { quantity: 1.5 }),
      ev(null, ago(9)),
    ],
  });

  const cases: [string, ProfileFacts, boolean][] = [
    // profile aggregates
    ['total_spend >= 512.3', rich, true],
    ['total_spend > 512.30', rich, false],
    ['order_count == 3 and orders == 3', rich, true],
    ['event_count > 39 and event_count < 41', rich, true],
    ['total_spend', facts(), false],
    ['total_spend', facts({ totalSpend: 0.01 }), true],
    // days since: floor, and null compares false except == null
    ['last_seen_days == 31', rich, true],
    ['last_seen_days > 31', rich, false],
    ['first_seen_days == 100', rich, true],
    ['last_order_days > 0', rich, false],
    ['last_order_days < 1000000', rich, false],
    ['last_order_days != 5', rich, false],
    ['last_order_days == null', rich, true],
    ['last_seen_days == null', rich, false],
    ['last_seen_days != null', rich, true],
    ['not last_order_days > 30', rich, true],
    ['last_seen_days == 0', facts({ lastSeenAt: ago(0, 23) }), true],
    ['last_seen_days == -1', facts({ lastSeenAt: new Date(now.getTime() + 1000) }), true],
    // channels
    ['channel == "wecom"', rich, true],
    ['"wecom" == channel', rich, true],
    ['channel == "wechat_mp"', rich, false],
    ['channel != "wechat_mp"', rich, true],
    ['channel != "web"', rich, false],
    ['channel in ("wechat_mp", "web")', rich, true],
    ['channel in ("wechat_mp", "app")', rich, false],
    ['channel != "web"', facts(), true],
    // traits
    ['traits.city == "上海"', rich, true],
    ['traits."城市" == "北京"', rich, true],
    ['traits.city != "北京"', rich, true],
    ['traits.city > "上"', rich, true],
    ['traits.city < "北京"', rich, true],
    ['traits.age >= 31 and traits.age < 31.0001', rich, true],
    ['traits.age == "31"', rich, false],
    ['traits.age != "31"', rich, false],
    ['traits.city > 5', rich, false],
    ['traits.city != 5', rich, false],
    ['traits.missing == "x"', rich, false],
    ['traits.missing != "x"', rich, false],
    ['traits.missing == null', rich, true],
    ['traits.nothing == null', rich, true],
    ['traits.city == null', rich, false],
    ['traits.city != null', rich, true],
    ['traits.missing != null', rich, false],
    ['traits.vip', rich, true],
    ['traits.vip == true', rich, true],
    ['traits.vip != false', rich, true],
    ['traits.vip == 1', rich, false],
    ['traits.city', rich, true],
    ['traits.empty', rich, false],
    ['traits.zero', rich, false],
    ['traits.age', rich, true],
    ['traits.tags', rich, false],
    ['traits.tags == null', rich, false],
    ['traits.missing', rich, false],
    ['traits.age in (30, 31)', rich, true],
    ['traits.city in ("北京", "上海")', rich, true],
    ['traits.city in (31, true)', rich, false],
    ['traits.missing in ("x", null)', rich, true],
    ['traits.age == traits.age', rich, true],
    ['traits.age == traits.city', rich, false],
    ['traits.missing == traits.missing', rich, false],
    ['traits.toString == null', rich, true],
    ['traits.constructor', rich, false],
    // windows: orders = Order Completed within N days; spend = revenue, else total; exact decimals
    ['orders_7d == 2', rich, true],
    ['orders_30d == 4', rich, true],
    ['orders_3650d == 6', rich, true],
    ['spend_7d == 69.12', rich, true],
    ['spend_15d == 169.62', rich, true],
    ['spend_30d == 176.62', rich, true],
    ['spend_45d == 176.62', rich, true],
    ['spend_1d == 12.34', rich, true],
    ['spend_1d', facts({ events: [ev('Order Completed', ago(1, 1), { revenue: 5 })] }), false],
    ['events_1d == 2', rich, true],
    ['events_2d == 4', rich, true],
    ['events_10d == 8', rich, true],
    ['orders_90d', facts(), false],
    // count and sum
    ['count() == 11', rich, true],
    ['count(event = "Product Viewed") == 4', rich, true],
    ['count(event = "Product Viewed", within = "7d") >= 3', rich, true],
    ['count(event = "Product Viewed", within = "6h") == 1', rich, true],
    ['count(event = "Product Viewed", within = "24h") == 1', rich, true],
    ['count(event = "Product Viewed", within = "25h") == 2', rich, true],
    ['count(event = "product viewed") == 0', rich, true],
    ['count(within = "1d") == 2', rich, true],
    ['not count(event = "Order Completed", within = "7d")', rich, false],
    ['not count(event = "Order Completed", within = "7d")', facts(), true],
    ['sum(property = "quantity") == 6.5', rich, true],
    ['sum(property = "quantity", within = "2d") == 5', rich, true],
    ['sum(property = "quantity", event = "Order Completed") == 0', rich, true],
    ['sum(property = "revenue", event = "Order Completed") == 69.12', rich, true],
    ['sum(property = "total") == 1107.5', rich, true],
    ['sum(property = "sku") == 0', rich, true],
    // tags
    ['has_tag("vip")', rich, true],
    ['tag("高价值")', rich, true],
    ['has_tag("churned")', rich, false],
    ['has_tag("vip") == true and has_tag("x") == false', rich, true],
    ['has_tag("vip") or tag("高价值")', facts(), false],
    ['in_segment("高价值客户")', facts({ segments: new Set(['高价值客户']) }), true],
    ['in_segment("高价值客户")', facts({ segments: new Set(['other']) }), false],
    ['in_segment("x") == false', facts(), true],
    // variant: null (never exposed, or contaminated: left out of the facts) compares like a missing trait
    ['variant("hero") == "B"', facts({ variants: new Map([['hero', 'B']]) }), true],
    ['variant("hero") == "B"', facts({ variants: new Map([['hero', 'A']]) }), false],
    ['variant("hero") == "B"', facts({ variants: new Map([['other', 'B']]) }), false],
    ['variant("hero") == "b"', facts({ variants: new Map([['hero', 'B']]) }), false],
    ['"B" == variant("hero")', facts({ variants: new Map([['hero', 'B']]) }), true],
    ['variant("hero") != "A"', facts({ variants: new Map([['hero', 'B']]) }), true],
    ['variant("hero") != "A"', facts({ variants: new Map([['hero', 'A']]) }), false],
    ['variant("hero") != "A"', facts(), false],
    ['variant("hero") != "A"', facts({ variants: new Map() }), false],
    ['not variant("hero") == "A"', facts(), true],
    ['variant("hero") in ("B", "C")', facts({ variants: new Map([['hero', 'C']]) }), true],
    ['variant("hero") in ("B", "C")', facts({ variants: new Map([['hero', 'A']]) }), false],
    ['variant("hero") in ("B", "C")', facts(), false],
    ['variant("hero") in ("B", null)', facts(), true],
    ['variant("hero") == null', facts(), true],
    ['variant("hero") == null', facts({ variants: new Map([['hero', 'A']]) }), false],
    ['variant("hero") != null', facts({ variants: new Map([['hero', 'A']]) }), true],
    ['variant("hero") != null', facts({ variants: new Map([['other', 'A']]) }), false],
    ['variant("实验一") == "对照组"', facts({ variants: new Map([['实验一', '对照组']]) }), true],
    ['VARIANT(experiment = "hero") == "B" and has_tag("vip")', facts({ variants: new Map([['hero', 'B']]), tags: new Set(['vip']) }), true],
    // literals and combinations
    ['true', facts(), true],
    ['0', facts(), false],
    ['""', facts(), false],
    ['"x"', facts(), true],
    ['null', facts(), false],
    ['null == null', facts(), true],
    ['1 == 1.00', facts(), true],
    ['"a" < "b"', facts(), true],
    ['"\uFFFD" < "😀"', facts(), true],
    ['orders_90d >= 2 and total_spend >= 500', rich, true],
    ['channel in ("wecom", "wechat_mp") and traits.city == "上海"', rich, true],
    ['orders > 5 or total_spend > 500 and not channel == "app"', rich, true],
    ['(orders > 5 or total_spend > 500) and channel == "app"', rich, false],
  ];

  it.each(cases)('%s', (src, f, expected) => {
    expect(holds(src, f)).toBe(expected);
  });

  it('agrees with the decimal, not the float, sum', () => {
    const f = facts({ events: [ev('Order Completed', ago(1), { revenue: 0.1 }), ev('Order Completed', ago(1), { revenue: 0.2 })] });
    expect(0.1 + 0.2 === 0.3).toBe(false);
    expect(holds('spend_7d == 0.3', f)).toBe(true);
    expect(holds('sum(property = "revenue") <= 0.3', f)).toBe(true);
  });
});

describe('requirements and referenced tags', () => {
  it('reports the event window, tag use and time dependence', () => {
    expect(requirements(parseExpression('total_spend > 1 and traits.a == 1'))).toEqual({ windowDays: 0, usesTags: false, usesSegments: false, usesVariants: false, usesMembership: false, timeDependent: false });
    expect(requirements(parseExpression('last_seen_days > 30'))).toEqual({ windowDays: 0, usesTags: false, usesSegments: false, usesVariants: false, usesMembership: false, timeDependent: true });
    expect(requirements(parseExpression('orders_90d > 1 or spend_30d > 1'))).toEqual({ windowDays: 90, usesTags: false, usesSegments: false, usesVariants: false, usesMembership: false, timeDependent: true });
    expect(requirements(parseExpression('count(within = "36h") > 1 and has_tag("x")'))).toEqual({ windowDays: 2, usesTags: true, usesSegments: false, usesVariants: false, usesMembership: false, timeDependent: true });
    expect(requirements(parseExpression('count(event = "x") > 1 and orders_90d > 1'))).toEqual({ windowDays: 'all', usesTags: false, usesSegments: false, usesVariants: false, usesMembership: false, timeDependent: true });
    expect(requirements(parseExpression('sum(property = "x") > 1'))).toEqual({ windowDays: 'all', usesTags: false, usesSegments: false, usesVariants: false, usesMembership: false, timeDependent: false });
  });

  it('reports segment use', () => {
    expect(requirements(parseExpression('in_segment("high_value")'))).toEqual({ windowDays: 0, usesTags: false, usesSegments: true, usesVariants: false, usesMembership: false, timeDependent: false });
  });

  it('reports variant use and lists each referenced experiment once', () => {
    expect(requirements(parseExpression('variant("hero") == "B"'))).toEqual({ windowDays: 0, usesTags: false, usesSegments: false, usesVariants: true, usesMembership: false, timeDependent: false });
    expect(referencedExperiments(parseExpression('variant("hero") == "B" or (variant("登录页") in ("A", null) and variant("hero") != null)'))).toEqual(['hero', '登录页']);
    expect(referencedExperiments(parseExpression('in_segment("hero")'))).toEqual([]);
  });

  it('reads the membership balance and level: points is a number (0 without a balance), level a key or null compared like variant()', () => {
    expect(requirements(parseExpression('points >= 100 or level == "gold"'))).toEqual({ windowDays: 0, usesTags: false, usesSegments: false, usesVariants: false, usesMembership: true, timeDependent: false });
    const gold = facts({ membership: { points: 5200.5, level: 'gold' } });
    const broke = facts({ membership: { points: -30, level: null } });
    expect(holds('points >= 5200.5 and level == "gold"', gold)).toBe(true);
    expect(holds('level in ("silver", "gold")', gold)).toBe(true);
    expect(holds('level != "gold"', gold)).toBe(false);
    expect(holds('points < 0 and level == null', broke)).toBe(true);
    // Like a trait, null makes == / != / in false.
    expect(holds('level != "gold"', broke)).toBe(false);
    expect(holds('points == 0 and level == null', facts())).toBe(true);
    for (const [src, message] of [
      ['level > "gold"', 'at 1:7: level can only be compared with == or != (or in (...)), not >'],
      ['level == 1', 'at 1:10: level must be compared with a level key in double quotes or null, e.g. level == "gold"'],
      ['level', 'at 1:1: level is a level key or null: compare it, e.g. level == "gold" or level != null'],
      ['points == "many"', 'at 1:11: cannot compare a number with a string'],
      ['points() > 1', 'at 1:1: unknown function "points" (points is a field: leave out the parentheses)'],
    ]) {
      expect(() => parseExpression(src)).toThrow(message);
    }
  });

  it('lists each referenced tag and segment once', () => {
    expect(referencedSegments(parseExpression('in_segment("a") and (in_segment("b") or not in_segment("a")) and has_tag("a")'))).toEqual(['a', 'b']);
    expect(referencedSegments(parseExpression('has_tag("a")'))).toEqual([]);
    expect(referencedTags(parseExpression('has_tag("vip") or (tag("高价值") and not has_tag("vip"))'))).toEqual(['vip', '高价值']);
    expect(referencedTags(parseExpression('orders > 1'))).toEqual([]);
  });

  it('documents every field and function', () => {
    const names = FIELD_DOCS.map((d) => d.name.split(/[(.]/)[0]);
    expect(names).toEqual(
      expect.arrayContaining(['total_spend', 'order_count', 'event_count', 'last_seen_days', 'first_seen_days', 'last_order_days', 'channel', 'traits', 'orders_<N>d', 'spend_<N>d', 'events_<N>d', 'count', 'sum', 'has_tag', 'in_segment', 'variant', 'points', 'level']),
    );
    for (const d of FIELD_DOCS) expect(() => parseExpression(d.example)).not.toThrow();
  });
});

describe('SQL compilation', () => {
  it('passes every literal as a parameter and returns placeholders', () => {
    const params: unknown[] = ['ws', now];
    const sql = compileToSql(
      parseExpression(`traits."城市" == "'; DROP TABLE profiles; --" and channel in ("wecom") and has_tag("vip") and count(event = "x", within = "7d") > 2.5`),
      { profileAlias: 'p', workspaceParam: '$1', nowParam: '$2' },
      params,
    );
    expect(sql).not.toContain('DROP');
    expect(sql).not.toContain('城市');
    expect(sql).not.toContain('vip');
    expect(params).toEqual(['ws', now, '城市', "'; DROP TABLE profiles; --", ['wecom'], 'vip', 'x', 168, '2.5']);
    expect(sql).toContain('EXISTS (SELECT 1 FROM profile_tags pt WHERE pt.workspace_id = $1 AND pt.profile_id = p.id AND pt.tag_key = $6::text)');
    expect(sql).toContain('FROM events e WHERE e.workspace_id = $1 AND e.profile_id = p.id AND e.name = $7::text AND e.ts >= $2::timestamptz - make_interval(hours => $8::int)');
  });

  it('compiles variant() to a subquery on the clean exposures, the key as a parameter', () => {
    const params: unknown[] = ['ws', now];
    const sql = compileToSql(parseExpression('variant("\'; DROP --") in ("B", null)'), { profileAlias: 'p', workspaceParam: '$1', nowParam: '$2' }, params);
    expect(sql).not.toContain('DROP');
    expect(params).toEqual(['ws', now, "'; DROP --", ['B']]);
    expect(sql).toContain('(SELECT xe.variant_key FROM experiment_exposures xe WHERE xe.workspace_id = $1 AND xe.profile_id = p.id AND xe.experiment_key = $3::text AND NOT xe.contaminated)');
    expect(() => compileToSql(parseExpression('variant("a") == "B"'), { profileAlias: 'xe', workspaceParam: '$1', nowParam: '$2' }, [])).toThrow(AppError);
  });

  it('always mentions the now placeholder, so a caller can pass it for any expression', () => {
    const opts = { profileAlias: 'p', workspaceParam: '$1', nowParam: '$2' };
    expect(compileToSql(parseExpression('traits.a == 1'), opts, ['ws', now])).toMatch(/^\(\$2::timestamptz IS NOT NULL AND /);
    expect(compileToSql(parseExpression('first_seen_days == null'), opts, ['ws', now])).toMatch(/^\(\$2::timestamptz IS NOT NULL AND /);
    expect(compileToSql(parseExpression('first_seen_days > 1'), opts, ['ws', now])).not.toMatch(/IS NOT NULL AND/);
  });

  it('rejects unsafe options', () => {
    const e = parseExpression('has_tag("x")');
    expect(() => compileToSql(e, { profileAlias: 'p; --', workspaceParam: '$1', nowParam: '$2' }, [])).toThrow(AppError);
    expect(() => compileToSql(e, { profileAlias: 'p', workspaceParam: '1', nowParam: '$2' }, [])).toThrow(AppError);
    expect(() => compileToSql(e, { profileAlias: 'p', workspaceParam: '$1', nowParam: '$2', tagTable: 'x y' }, [])).toThrow(AppError);
    expect(compileToSql(e, { profileAlias: 'p', workspaceParam: '$1', nowParam: '$2', tagTable: 'tags.current' }, [])).toContain('FROM tags.current pt');
  });
});
