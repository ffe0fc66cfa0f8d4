import {
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
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
