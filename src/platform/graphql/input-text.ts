import {
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { findUnstorableText, UNSTORABLE_TEXT_MESSAGE } from '../../shared/text';
import { AppError, ErrorClass } from '../errors';

/**
 * Field extension (type-graphql `@Extensions({ [TEXT_CHECKED_PER_ITEM]: true })`) of an operation
 * whose arguments are lists of independent items that it checks itself, item by item
 * (`ingestEvents`: one event with bad text is rejected alone, the others land).
 */
export const TEXT_CHECKED_PER_ITEM = 'textCheckedPerItem';

/**
 * Field extension (`@Extensions({ [OWN_LIST_LIMIT]: true })`) of an operation that bounds its list
 * arguments itself with a typed error (`tagProfiles`: 10,000 profile ids, TOO_MANY_PROFILES): the
 * generic MAX_LIST_VALUES does not apply to the variables it takes.
 */
export const OWN_LIST_LIMIT = 'ownListLimit';

/** Items a list in the variables may have, unless the field taking it bounds it itself (above; `ingestEvents` too). */
export const MAX_LIST_VALUES = 1000;

/** Names of the variables the operation passes to fields that bound their own lists. */
function ownLimitVariables(schema: GraphQLSchema, document: DocumentNode, op: OperationDefinitionNode): Set<string> {
  const out = new Set<string>();
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      OperationDefinition: (node) => (node === op ? undefined : false),
      Field(node) {
        const def = typeInfo.getFieldDef();
        if (!def || !(def.extensions?.[OWN_LIST_LIMIT] || def.extensions?.[TEXT_CHECKED_PER_ITEM])) return;
        visit(node, { Variable: (v) => void out.add(v.name.value) });
        return false;
      },
    }),
  );
  return out;
}

/** The path of the first list in `value` longer than MAX_LIST_VALUES, or null (walked iteratively: values may be deep). */
function overlongList(value: unknown): string | null {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      if (v.length > MAX_LIST_VALUES) return path;
      v.forEach((x, i) => stack.push({ v: x, path: path ? `${path}.${i}` : String(i) }));
    } else for (const [k, x] of Object.entries(v)) stack.push({ v: x, path: path ? `${path}.${k}` : k });
  }
  return null;
}

/**
 * Every argument of every field of the operation, as execution will see it (literals and variables
 * coerced by graphql-js), checked once before anything runs: a NUL character or a lone surrogate
 * anywhere in a string, a JSON value or a JSON key is refused as INVALID_TEXT naming the field
 * (`profileByIdentifier(identifier.value)`), instead of reaching PostgreSQL, which cannot store it.
 * Invalid variables or arguments are left to execution, which reports them.
 */
export function checkArgumentText(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | null | undefined,
  operationName: string | null | undefined,
): AppError | null {
  const op = getOperationAST(document, operationName);
  if (!op) return null;
  // A huge list costs in coercion and in the database before anything could refuse it.
  const own = variables && Object.keys(variables).length ? ownLimitVariables(schema, document, op) : new Set<string>();
  const long = overlongList(Object.fromEntries(Object.entries(variables ?? {}).filter(([k]) => !own.has(k))));
  if (long !== null) {
    const message = `$${long} has more than ${MAX_LIST_VALUES} items.`;
    return new AppError(ErrorClass.BAD_USER_INPUT, 'TOO_MANY_VALUES', message, [{ field: long, message }], { maxItems: MAX_LIST_VALUES });
  }
  const coerced = getVariableValues(schema, op.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) return null;
  const typeInfo = new TypeInfo(schema);
  let found: AppError | null = null;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      // Fragments are walked where they are defined (each once); other operations are not run.
      OperationDefinition: (node) => (node === op ? undefined : false),
      Field(node) {
        if (found || !node.arguments?.length) return;
        const def = typeInfo.getFieldDef();
        if (!def || def.extensions?.[TEXT_CHECKED_PER_ITEM]) return;
        let args: Record<string, unknown>;
        try {
          args = getArgumentValues(def, node, coerced.coerced);
        } catch {
          return;
        }
        const path = findUnstorableText(args);
        if (path === null) return;
        const message = `${def.name}(${path}) ${UNSTORABLE_TEXT_MESSAGE}.`;
        found = new AppError(ErrorClass.BAD_USER_INPUT, 'INVALID_TEXT', message, [{ field: path, message }], { operationField: def.name });
      },
    }),
  );
  return found;
}
