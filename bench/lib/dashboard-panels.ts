import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The live KPI subscriptions the dashboard opens, read from its source so the benchmark measures
 * exactly what it sends: the `DashboardKpiUpdated` document (web/dashboard/operations/live.graphql,
 * which codegen turns into the string the browser sends) and the variables of each
 * `live('<panel>', { … })` call in web/dashboard/main.ts, with the `*_METRICS` constants they name
 * resolved. Throws when the source no longer has that shape: update this reader rather than
 * measure a stale copy.
 */

export interface DashboardPanel {
  /** The dashboard's name for the panel (`tiles`, `daily`, …). */
  panel: string;
  variables: { metrics: string[]; grain: string; periods: number; breakdown?: string };
}

export interface DashboardLive {
  /** The subscription document, as the dashboard sends it. */
  query: string;
  operationName: string;
  panels: DashboardPanel[];
}

const ROOT = path.resolve(__dirname, '..', '..', '..');
const DOCUMENT = 'web/dashboard/operations/live.graphql';
const MAIN = 'web/dashboard/main.ts';

export function readDashboardLive(root = ROOT): DashboardLive {
  const query = fs.readFileSync(path.join(root, DOCUMENT), 'utf8');
  const op = /subscription\s+(\w+)/.exec(query);
  if (!op) throw new Error(`${DOCUMENT}: no subscription found`);
  const file = path.join(root, MAIN);
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const constants = new Map<string, string[]>();
  const calls: ts.CallExpression[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer && ts.isArrayLiteralExpression(n.initializer)) {
      const items = n.initializer.elements;
      if (items.length && items.every(ts.isStringLiteral)) constants.set(n.name.text, items.map((e) => (e as ts.StringLiteral).text));
    }
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'live' && n.arguments.length === 2) calls.push(n);
    ts.forEachChild(n, visit);
  };
  visit(src);
  const panels = calls.map((call): DashboardPanel => {
    const [name, vars] = call.arguments;
    const where = `${MAIN}:${src.getLineAndCharacterOfPosition(call.getStart()).line + 1}`;
    if (!ts.isStringLiteral(name) || !ts.isObjectLiteralExpression(vars)) throw new Error(`${where}: expected live('<panel>', { … })`);
    const v: Record<string, unknown> = {};
    for (const p of vars.properties) {
      if (!ts.isPropertyAssignment(p) || !ts.isIdentifier(p.name)) throw new Error(`${where}: unexpected property ${p.getText()}`);
      const init = p.initializer;
      if (ts.isStringLiteral(init)) v[p.name.text] = init.text;
      else if (ts.isNumericLiteral(init)) v[p.name.text] = Number(init.text);
      else if (ts.isIdentifier(init) && constants.has(init.text)) v[p.name.text] = constants.get(init.text);
      else throw new Error(`${where}: cannot read ${p.getText()}`);
    }
    if (!Array.isArray(v.metrics) || typeof v.grain !== 'string' || typeof v.periods !== 'number') throw new Error(`${where}: expected metrics, grain and periods`);
    return { panel: name.text, variables: v as DashboardPanel['variables'] };
  });
  if (!panels.length) throw new Error(`${MAIN}: no live('<panel>', { … }) subscriptions found`);
  return { query, operationName: op[1], panels };
}
