/**
 * The rule-tag / segment expression language: lexer, parser and checker.
 *
 * Grammar (keywords `and or not in true false null` are case-insensitive, so are field and
 * function names; trait names are exact):
 *
 * ```
 * expr       := or
 * or         := and ("or" and)*
 * and        := unary ("and" unary)*
 * unary      := "not" unary | primary
 * primary    := "(" expr ")" | comparison
 * comparison := value ( ("==" | "!=" | ">" | ">=" | "<" | "<=") value
 *                     | "in" "(" literal ("," literal)* ")" )?
 * value      := number | string | "true" | "false" | "null" | field | call
 * field      := ident ("." (ident | string))*
 * call       := ident "(" [arg ("," arg)*] ")"
 * arg        := ident "=" literal | literal
 * literal    := number | string | "true" | "false" | "null"
 * ident      := [A-Za-z_][A-Za-z0-9_]*
 * number     := "-"? [0-9]+ ("." [0-9]+)?
 * string     := '"' (any character but '"' and '\', or '\"', or '\\')* '"'
 * ```
 *
 * Fields: `total_spend`, `order_count` (alias `orders`), `event_count`, `last_seen_days`,
 * `first_seen_days`, `last_order_days`, `channel`, `traits.<name>` (or `traits."<any name>"`),
 * `orders_<N>d`, `spend_<N>d`, `events_<N>d`, `points`, `level` (a string or null, compared like
 * `variant`). Functions: `count(event =, within =)`,
 * `sum(property =, event =, within =)`, `has_tag("<key>")` / `tag("<key>")`, `in_segment("<key>")`,
 * `variant("<experiment key>")` (a string or null, compared only with ==, != or in against string
 * literals or null). See `FIELD_DOCS`.
 *
 * A value without a comparison is true when it is a number ≠ 0, `true`, or a non-empty string.
 * Comparisons never yield null: a null or missing value, or values of different types, make every
 * comparison false, except `x == null` (true when x is null or missing) and `x != null`.
 *
 * Limits: 2,000 characters, 50 windowed aggregates / function calls, windows of 1..3650 days
 * (`within` also takes hours: 1..87600h).
 * Every error is an `ExpressionSyntaxError` (`BAD_USER_INPUT`, `EXPRESSION_INVALID`) whose message
 * starts with the position: `at 1:17: expected a value (number, string, field or function) but found ")"`.
 */
import { isLiteral, typeOf, type CompareOp, type Expr, type Field, type Literal, type Value, type Window } from './ast';
import { expressionError, positionOf } from './errors';
import {
  DAYS_SINCE,
  FIELD_NAMES,
  FUNCTIONS,
  MAX_EXPRESSION_LENGTH,
  MAX_SUBQUERIES,
  MAX_WINDOW_DAYS,
  MAX_WINDOW_HOURS,
  PROFILE_NUMBERS,
  type FunctionName,
} from './vocabulary';

type Token =
  | { t: 'ident'; text: string; offset: number }
  | { t: 'number'; text: string; offset: number }
  | { t: 'string'; value: string; raw: string; offset: number }
  | { t: 'op'; text: CompareOp; offset: number }
  | { t: 'punct'; text: '(' | ')' | ',' | '.' | '='; offset: number }
  | { t: 'eof'; offset: number };

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'true', 'false', 'null']);
const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;
const DIGIT = /[0-9]/;
const VALUE_EXPECTED = 'a value (number, string, field or function)';
const LITERAL_EXPECTED = 'a literal (number, string, true, false or null)';

function describe(tok: Token): string {
  switch (tok.t) {
    case 'eof':
      return 'end of expression';
    case 'string':
      return `string ${tok.raw}`;
    case 'number':
      return `number ${tok.text}`;
    default:
      return `"${tok.text}"`;
  }
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function lex(src: string): Token[] {
  const out: Token[] = [];
  const fail = (offset: number, expected: string, found: string, message: string) => expressionError(src, offset, expected, found, message);
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (IDENT_START.test(c)) {
      while (i < src.length && IDENT_PART.test(src[i])) i++;
      out.push({ t: 'ident', text: src.slice(start, i), offset: start });
    } else if (DIGIT.test(c) || (c === '-' && DIGIT.test(src[i + 1] ?? ''))) {
      i++;
      while (i < src.length && DIGIT.test(src[i])) i++;
      if (src[i] === '.' && DIGIT.test(src[i + 1] ?? '')) {
        i++;
        while (i < src.length && DIGIT.test(src[i])) i++;
      }
      out.push({ t: 'number', text: src.slice(start, i), offset: start });
    } else if (c === '"') {
      i++;
      let value = '';
      for (;;) {
        if (i >= src.length) throw fail(start, 'a closing "', 'end of expression', 'unterminated string: expected a closing " but found end of expression');
        const d = src[i];
        if (d === '"') break;
        if (d === '\\') {
          const e = src[i + 1];
          if (e !== '"' && e !== '\\') {
            const found = e === undefined ? 'end of expression' : `"\\${e}"`;
            throw fail(i, '\\" or \\\\', found, `expected an escape \\" or \\\\ in a string but found ${found}`);
          }
          value += e;
          i += 2;
        } else {
          value += d;
          i++;
        }
      }
      i++;
      out.push({ t: 'string', value, raw: src.slice(start, i), offset: start });
    } else if ('=!<>'.includes(c)) {
      const two = src.slice(i, i + 2);
      if (two === '==' || two === '!=' || two === '>=' || two === '<=') {
        out.push({ t: 'op', text: two, offset: start });
        i += 2;
      } else if (c === '>' || c === '<') {
        out.push({ t: 'op', text: c, offset: start });
        i++;
      } else if (c === '=') {
        out.push({ t: 'punct', text: '=', offset: start });
        i++;
      } else {
        throw fail(start, 'an operator', '"!"', 'unexpected character "!" (write "not" to negate, "!=" for not equal)');
      }
    } else if ('(),.'.includes(c)) {
      out.push({ t: 'punct', text: c as '(' | ')' | ',' | '.', offset: start });
      i++;
    } else {
      const ch = String.fromCodePoint(src.codePointAt(i)!);
      let hint = '';
      if (c === "'") hint = ' (strings use double quotes: "text")';
      else if (c === '&' || c === '|') hint = ' (write "and" / "or")';
      else if (ch.codePointAt(0)! > 0x7f) hint = ' (names with other characters must be quoted: traits."城市"; text values go in double quotes)';
      throw fail(start, 'a token', `"${ch}"`, `unexpected character "${ch}"${hint}`);
    }
  }
  out.push({ t: 'eof', offset: src.length });
  return out;
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

function suggest(name: string, candidates: readonly string[]): string {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = distance(name, c);
    if (dd < bestD) {
      best = c;
      bestD = dd;
    }
  }
  return best !== null && bestD < name.length && bestD <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

const WINDOW_FIELD = /^(orders|spend|events)_([0-9]+)d$/;
const WINDOW_LIKE = /^(orders?|spend|events?)_?([0-9]+)_?(d|days?)?$/;
const WITHIN = /^([0-9]+)([dh])$/;

const FUNCTION_ARGS: Record<FunctionName, string[]> = {
  count: ['event', 'within'],
  sum: ['property', 'event', 'within'],
  has_tag: ['key'],
  tag: ['key'],
  in_segment: ['key'],
  variant: ['experiment'],
};

class Parser {
  private pos = 0;
  private subqueries = 0;
  /** Set when the last comparison parsed was a bare value, to word the next error. */
  private lastBare = false;

  constructor(
    private readonly src: string,
    private readonly toks: Token[],
  ) {}

  private get tok(): Token {
    return this.toks[this.pos];
  }

  private fail(offset: number, expected: string, found: string, message: string): never {
    throw expressionError(this.src, offset, expected, found, message);
  }

  private expected(expected: string, tok = this.tok): never {
    const found = describe(tok);
    this.fail(tok.offset, expected, found, `expected ${expected} but found ${found}`);
  }

  private isKeyword(word: string, tok = this.tok): boolean {
    return tok.t === 'ident' && tok.text.toLowerCase() === word;
  }

  private isPunct(p: string, tok = this.tok): boolean {
    return tok.t === 'punct' && tok.text === p;
  }

  parse(): Expr {
    const e = this.parseOr();
    if (this.tok.t !== 'eof') {
      if (this.isPunct(')')) this.fail(this.tok.offset, '"and", "or" or end of expression', '")"', 'unexpected ")" without a matching "("');
      this.expected(this.lastBare ? 'a comparison (==, !=, >, >=, <, <=, in), "and", "or" or end of expression' : '"and", "or" or end of expression');
    }
    return e;
  }

  private parseOr(): Expr {
    const args = [this.parseAnd()];
    while (this.isKeyword('or')) {
      this.pos++;
      args.push(this.parseAnd());
    }
    return args.length === 1 ? args[0] : { kind: 'or', args };
  }

  private parseAnd(): Expr {
    const args = [this.parseUnary()];
    while (this.isKeyword('and')) {
      this.pos++;
      args.push(this.parseUnary());
    }
    return args.length === 1 ? args[0] : { kind: 'and', args };
  }

  private parseUnary(): Expr {
    if (this.isKeyword('not')) {
      this.pos++;
      return { kind: 'not', arg: this.parseUnary() };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Expr {
    if (this.isPunct('(')) {
      const open = this.tok.offset;
      this.pos++;
      const e = this.parseOr();
      if (!this.isPunct(')')) {
        const at = positionOf(this.src, open);
        const expectation = this.lastBare ? 'a comparison, "and", "or" or ")"' : '"and", "or" or ")"';
        const found = describe(this.tok);
        this.fail(this.tok.offset, expectation, found, `expected ${expectation} (to close the "(" at ${at.line}:${at.column}) but found ${found}`);
      }
      this.pos++;
      this.lastBare = false;
      return e;
    }
    return this.parseComparison();
  }

  private parseComparison(): Expr {
    const leftTok = this.tok;
    const left = this.parseValue();
    const tok = this.tok;
    if (tok.t === 'op') {
      this.pos++;
      const rightTok = this.tok;
      const right = this.parseValue();
      this.checkCompare(tok.text, left, right, tok, leftTok, rightTok);
      this.lastBare = false;
      return { kind: 'compare', op: tok.text, left, right };
    }
    if (this.isKeyword('in')) {
      this.pos++;
      if (!this.isPunct('(')) this.expected('"(" and a list of literals after "in", e.g. in ("a", "b")');
      this.pos++;
      const list: { lit: Literal; tok: Token }[] = [];
      for (;;) {
        const litTok = this.tok;
        list.push({ lit: this.parseLiteral(), tok: litTok });
        if (this.isPunct(',')) {
          this.pos++;
          continue;
        }
        if (this.isPunct(')')) break;
        this.expected('"," or ")"');
      }
      this.pos++;
      for (const { lit, tok: litTok } of list) this.checkCompare('==', left, lit, litTok, leftTok, litTok);
      this.lastBare = false;
      return { kind: 'in', value: left, list: list.map((x) => x.lit) };
    }
    if (tok.t === 'punct' && tok.text === '=') this.fail(tok.offset, 'a comparison operator', '"="', 'unexpected "=": write "==" to compare');
    if (left.kind === 'channel') {
      this.fail(leftTok.offset, 'a comparison', describe(tok), 'channel is a set of channels: compare it with == "name", != "name" or in ("a", "b")');
    }
    if (left.kind === 'level') {
      this.fail(leftTok.offset, 'a comparison', describe(tok), 'level is a level key or null: compare it, e.g. level == "gold" or level != null');
    }
    if (left.kind === 'variant') {
      this.fail(leftTok.offset, 'a comparison', describe(tok), `variant() is a variant key or null: compare it, e.g. variant(${quote(left.experiment)}) == "B" or variant(${quote(left.experiment)}) != null`);
    }
    this.lastBare = true;
    return { kind: 'truth', value: left };
  }

  private checkCompare(op: CompareOp, left: Value, right: Value, opTok: Token, leftTok: Token, rightTok: Token): void {
    const lt = typeOf(left);
    const rt = typeOf(right);
    const fail = (tok: Token, message: string, expected: string) => this.fail(tok.offset, expected, describe(tok), message);
    if (lt === 'channels' || rt === 'channels') {
      const [other, otherTok] = lt === 'channels' ? [right, rightTok] : [left, leftTok];
      if (op !== '==' && op !== '!=') fail(opTok, `channel can only be compared with == or != (or in (...)), not ${op}`, '== or !=');
      if (other.kind !== 'string') fail(otherTok, `channel must be compared with a channel name in double quotes, e.g. channel == "wecom"`, 'a string');
      return;
    }
    if (left.kind === 'variant' || right.kind === 'variant') {
      const [other, otherTok] = left.kind === 'variant' ? [right, rightTok] : [left, leftTok];
      if (op !== '==' && op !== '!=') fail(opTok, `variant() can only be compared with == or != (or in (...)), not ${op}`, '== or !=');
      if (other.kind !== 'string' && other.kind !== 'null') {
        fail(otherTok, 'variant() must be compared with a variant key in double quotes or null, e.g. variant("hero") == "B"', 'a string or null');
      }
      return;
    }
    if (left.kind === 'level' || right.kind === 'level') {
      const [other, otherTok] = left.kind === 'level' ? [right, rightTok] : [left, leftTok];
      if (op !== '==' && op !== '!=') fail(opTok, `level can only be compared with == or != (or in (...)), not ${op}`, '== or !=');
      if (other.kind !== 'string' && other.kind !== 'null') fail(otherTok, 'level must be compared with a level key in double quotes or null, e.g. level == "gold"', 'a string or null');
      return;
    }
    if (lt === 'null' || rt === 'null') {
      if (op !== '==' && op !== '!=') fail(opTok, `null can only be compared with == or !=, not ${op}`, '== or !=');
      return;
    }
    if (op !== '==' && op !== '!=' && (lt === 'boolean' || rt === 'boolean')) {
      fail(opTok, `true/false can only be compared with == or !=, not ${op}`, '== or !=');
    }
    if (lt !== 'json' && rt !== 'json' && lt !== rt) {
      const where = isLiteral(right) || !isLiteral(left) ? rightTok : leftTok;
      fail(where, `cannot compare ${article(lt)} with ${article(rt)}`, article(lt));
    }
  }

  private parseLiteral(): Literal {
    const tok = this.tok;
    if (tok.t === 'number') {
      this.pos++;
      return { kind: 'number', text: tok.text, value: Number(tok.text) };
    }
    if (tok.t === 'string') {
      this.pos++;
      return { kind: 'string', value: tok.value };
    }
    if (tok.t === 'ident') {
      const w = tok.text.toLowerCase();
      if (w === 'true' || w === 'false') {
        this.pos++;
        return { kind: 'boolean', value: w === 'true' };
      }
      if (w === 'null') {
        this.pos++;
        return { kind: 'null' };
      }
    }
    return this.expected(LITERAL_EXPECTED);
  }

  private parseValue(): Value {
    const tok = this.tok;
    if (tok.t === 'number' || tok.t === 'string') return this.parseLiteral();
    if (tok.t !== 'ident') {
      if (tok.t === 'punct' && tok.text === '(') {
        this.fail(tok.offset, VALUE_EXPECTED, '"("', `expected ${VALUE_EXPECTED} but found "(" (parentheses group conditions, not values)`);
      }
      return this.expected(VALUE_EXPECTED);
    }
    const word = tok.text.toLowerCase();
    if (word === 'true' || word === 'false' || word === 'null') return this.parseLiteral();
    if (KEYWORDS.has(word)) return this.expected(VALUE_EXPECTED);
    this.pos++;
    if (this.isPunct('(')) return this.parseCall(tok);
    const parts: { name: string; quoted: boolean; offset: number }[] = [{ name: tok.text, quoted: false, offset: tok.offset }];
    while (this.isPunct('.')) {
      this.pos++;
      const p = this.tok;
      if (p.t === 'ident') parts.push({ name: p.text, quoted: false, offset: p.offset });
      else if (p.t === 'string') parts.push({ name: p.value, quoted: true, offset: p.offset });
      else this.expected('a name after "." (letters, digits and _, or a "quoted name")');
      this.pos++;
    }
    return this.resolveField(parts);
  }

  private countSubquery(offset: number, name: string): void {
    if (++this.subqueries > MAX_SUBQUERIES) {
      this.fail(offset, `at most ${MAX_SUBQUERIES} windowed aggregates and function calls`, `"${name}"`, `too many windowed aggregates and function calls (at most ${MAX_SUBQUERIES})`);
    }
  }

  private resolveField(parts: { name: string; quoted: boolean; offset: number }[]): Field {
    const head = parts[0];
    const lower = head.name.toLowerCase();
    const full = parts.map((p) => (p.quoted ? quote(p.name) : p.name)).join('.');
    if (lower === 'traits') {
      if (parts.length === 1) this.fail(head.offset, 'traits.<name>', '"traits"', 'traits needs a trait name: traits.city or traits."城市"');
      if (parts.length > 2) {
        this.fail(parts[2].offset - 1, 'end of the trait name', `"${full}"`, `traits.<name> takes one name; quote a name with dots: traits.${quote(parts.slice(1).map((p) => p.name).join('.'))}`);
      }
      if (parts[1].name === '') this.fail(parts[1].offset, 'a trait name', '""', 'the trait name must not be empty');
      return { kind: 'trait', name: parts[1].name };
    }
    if (parts.length > 1) {
      const quotedPart = parts.find((p) => p.quoted);
      const msg = quotedPart ? `unknown field "${full}" (only traits."<name>" takes a quoted name)` : `unknown field "${full}"${suggest(lower, FIELD_NAMES)}`;
      this.fail(head.offset, 'a known field', `"${full}"`, msg);
    }
    if (lower in PROFILE_NUMBERS) return { kind: 'profile', name: PROFILE_NUMBERS[lower] };
    if (lower in DAYS_SINCE) return { kind: 'days_since', name: DAYS_SINCE[lower] };
    if (lower === 'channel') return { kind: 'channel' };
    if (lower === 'points') return { kind: 'points' };
    if (lower === 'level') return { kind: 'level' };
    const w = WINDOW_FIELD.exec(lower);
    if (w) {
      const days = Number(w[2]);
      if (days < 1 || days > MAX_WINDOW_DAYS) {
        this.fail(head.offset, `a window of 1 to ${MAX_WINDOW_DAYS} days`, `"${head.name}"`, `window of ${head.name} must be 1 to ${MAX_WINDOW_DAYS} days`);
      }
      this.countSubquery(head.offset, head.name);
      return { kind: 'window', measure: w[1] as 'orders' | 'spend' | 'events', days };
    }
    if ((FUNCTIONS as readonly string[]).includes(lower)) {
      const usage =
        lower === 'count' ? 'count(event = "…", within = "7d")' : lower === 'sum' ? 'sum(property = "…", event = "…", within = "7d")' : lower === 'variant' ? 'variant("experiment key")' : `${lower}("key")`;
      this.fail(head.offset, 'a field', `"${head.name}"`, `${lower} is a function: ${usage}`);
    }
    const like = WINDOW_LIKE.exec(lower);
    let hint = suggest(lower, FIELD_NAMES);
    if (like) {
      const measure = like[1].startsWith('order') ? 'orders' : like[1].startsWith('event') ? 'events' : 'spend';
      hint = ` (did you mean "${measure}_${Number(like[2])}d"?)`;
    }
    return this.fail(head.offset, 'a known field', `"${head.name}"`, `unknown field "${head.name}"${hint}`);
  }

  private parseCall(nameTok: Token & { t: 'ident' }): Field {
    const fn = nameTok.text.toLowerCase();
    if (!(FUNCTIONS as readonly string[]).includes(fn)) {
      const isField = fn in PROFILE_NUMBERS || fn in DAYS_SINCE || fn === 'channel' || fn === 'traits' || fn === 'points' || fn === 'level' || WINDOW_FIELD.test(fn);
      const hint = isField ? ` (${fn} is a field: leave out the parentheses)` : suggest(fn, FUNCTIONS);
      this.fail(nameTok.offset, `a known function (${FUNCTIONS.join(', ')})`, `"${nameTok.text}"`, `unknown function "${nameTok.text}"${hint}`);
    }
    const name = fn as FunctionName;
    this.countSubquery(nameTok.offset, nameTok.text);
    this.pos++; // (
    const allowed = FUNCTION_ARGS[name];
    const args = new Map<string, { lit: Literal; tok: Token }>();
    let positional = 0;
    if (!this.isPunct(')')) {
      for (;;) {
        const tok = this.tok;
        let argName: string;
        if (tok.t === 'ident' && this.isPunct('=', this.toks[this.pos + 1])) {
          argName = tok.text.toLowerCase();
          if (!allowed.includes(argName)) {
            this.fail(tok.offset, `an argument of ${name}(): ${allowed.join(', ')}`, `"${tok.text}"`, `unknown argument "${tok.text}" of ${name}()${suggest(argName, allowed) || ` (it takes ${allowed.join(', ')})`}`);
          }
          this.pos += 2;
        } else {
          if (name === 'count' || name === 'sum') {
            if (tok.t === 'ident' && !KEYWORDS.has(tok.text.toLowerCase())) this.expected('"=" after the argument name', this.toks[this.pos + 1]);
            this.fail(tok.offset, `a named argument (${allowed.join(', ')})`, describe(tok), `${name}() takes named arguments, e.g. ${name === 'count' ? 'count(event = "Order Completed", within = "30d")' : 'sum(property = "revenue", event = "Order Completed")'}`);
          }
          if (positional >= allowed.length) this.fail(tok.offset, '")"', describe(tok), `${name}() takes one argument`);
          argName = allowed[positional++];
        }
        if (args.has(argName)) this.fail(tok.offset, '")"', describe(tok), `argument "${argName}" of ${name}() is given twice`);
        const litTok = this.tok;
        const lit = this.parseLiteral();
        if (argName === 'within' && lit.kind === 'number') {
          this.fail(litTok.offset, 'a window such as "7d" or "24h"', describe(litTok), `within must be a string such as "7d" or "24h" but found ${describe(litTok)}`);
        }
        args.set(argName, { lit, tok: litTok });
        if (this.isPunct(',')) {
          this.pos++;
          continue;
        }
        if (this.isPunct(')')) break;
        this.expected('"," or ")"');
      }
    }
    const close = this.tok;
    this.pos++;

    const str = (arg: string, what: string): string | null => {
      const a = args.get(arg);
      if (!a) return null;
      if (a.lit.kind !== 'string') this.fail(a.tok.offset, `${what} in double quotes`, describe(a.tok), `${arg} of ${name}() must be ${what} in double quotes`);
      if (a.lit.value === '') this.fail(a.tok.offset, `a non-empty ${what}`, describe(a.tok), `${arg} of ${name}() must not be empty`);
      return a.lit.value;
    };
    const within = (): Window | null => {
      const a = args.get('within');
      if (!a) return null;
      const bad = (found: string) =>
        this.fail(a.tok.offset, 'a window such as "7d" or "24h"', found, `within must be whole days or hours such as "7d" or "24h" but found ${found}`);
      if (a.lit.kind !== 'string') return bad(describe(a.tok));
      const m = WITHIN.exec(a.lit.value.trim().toLowerCase());
      if (!m) return bad(describe(a.tok));
      const amount = Number(m[1]);
      const unit = m[2] as 'd' | 'h';
      const max = unit === 'd' ? MAX_WINDOW_DAYS : MAX_WINDOW_HOURS;
      if (amount < 1 || amount > max) {
        this.fail(a.tok.offset, `1 to ${max}${unit}`, describe(a.tok), `within must be 1 to ${MAX_WINDOW_DAYS} days (${MAX_WINDOW_HOURS} hours) but found ${describe(a.tok)}`);
      }
      return { amount, unit };
    };
    switch (name) {
      case 'count':
        return { kind: 'count', event: str('event', 'an event name'), within: within() };
      case 'sum': {
        const property = str('property', 'a property name');
        if (property === null) this.fail(close.offset, 'property = "<name>"', '")"', 'sum() needs property = "<name>", e.g. sum(property = "revenue")');
        return { kind: 'sum', property, event: str('event', 'an event name'), within: within() };
      }
      case 'variant': {
        const experiment = str('experiment', 'an experiment key');
        if (experiment === null) this.fail(close.offset, 'an experiment key', '")"', 'variant() needs an experiment key, e.g. variant("hero")');
        return { kind: 'variant', experiment };
      }
      case 'in_segment': {
        const key = str('key', 'a segment key');
        if (key === null) this.fail(close.offset, 'a segment key', '")"', 'in_segment() needs a segment key, e.g. in_segment("high_value")');
        return { kind: 'in_segment', key };
      }
      default: {
        const key = str('key', 'a tag key');
        if (key === null) this.fail(close.offset, 'a tag key', '")"', `${name}() needs a tag key, e.g. ${name}("vip")`);
        return { kind: 'has_tag', key };
      }
    }
  }
}

function article(t: string): string {
  switch (t) {
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true/false';
    default:
      return t;
  }
}

/** Parses and checks an expression; throws `ExpressionSyntaxError` with the position on any error. */
export function parseExpression(src: string): Expr {
  const length = [...src].length;
  if (length > MAX_EXPRESSION_LENGTH) {
    throw expressionError(src, 0, `at most ${MAX_EXPRESSION_LENGTH} characters`, `${length} characters`, `expression is too long: ${length} characters (at most ${MAX_EXPRESSION_LENGTH})`);
  }
  return new Parser(src, lex(src)).parse();
}
