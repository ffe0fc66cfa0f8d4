import {
  GraphQLError,
  getNullableType,
  isListType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { AppError, ErrorClass } from '../errors';

export interface QueryLimits {
  maxDepth: number;
  maxComplexity: number;
}

/** Arguments that bound the length of a list field: its complexity is multiplied by their value. */
const PAGE_ARGS = ['first', 'last', 'limit', 'top'] as const;
/** Assumed length of a list field without a page argument (tags of a profile, segments, ...). */
export const UNBOUNDED_LIST_FACTOR = 10;
/**
 * Introspection-only operations (every root field is `__schema`, `__type` or `__typename`) may go
 * this deep and this complex, if the configured limits are lower: GraphiQL's and codegen's
 * introspection query is 15 levels deep with complexity about 52,000 by the estimator below, while a
 * cyclic introspection query (`fields { type { fields { type … } } }`) still exceeds it quickly.
 */
export const INTROSPECTION_LIMITS: QueryLimits = { maxDepth: 15, maxComplexity: 100_000 };
/** Selections (fields and fragments) walked at most; a larger document is refused as too complex. */
const MAX_QUERY_NODES = 10_000;

/**
 * Every field costs 1 plus its children; a field with `first`/`last`/`limit`/`top` multiplies its
 * children by that number, any other list field by UNBOUNDED_LIST_FACTOR. `edges`/`nodes` of a
 * connection are not multiplied again (the connection field already was).
 */
const estimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  const page = PAGE_ARGS.map((a) => args[a]).find((v): v is number => typeof v === 'number');
  if (page !== undefined) return 1 + childComplexity * Math.max(1, page);
  const list = isListType(getNullableType(field.type));
  const connectionList = field.name === 'edges' || field.name === 'nodes';
  return 1 + childComplexity * (list && !connectionList ? UNBOUNDED_LIST_FACTOR : 1);
};

function operationOf(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return operationName ? ops.find((o) => o.name?.value === operationName) : ops.length === 1 ? ops[0] : undefined;
}

/** Nesting depth of an operation: a root field is depth 1. Fragments count where they are spread. */
export function queryDepth(document: DocumentNode, operationName?: string | null): number {
  const op = operationOf(document, operationName);
  if (!op) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const walk = (set: SelectionSetNode, seen: ReadonlySet<string>): number => {
    let max = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) max = Math.max(max, 1 + (s.selectionSet ? walk(s.selectionSet, seen) : 0));
      else if (s.kind === Kind.INLINE_FRAGMENT) max = Math.max(max, walk(s.selectionSet, seen));
      else {
        const f = fragments.get(s.name.value);
        // A cycle is a validation error reported by graphql-js; do not loop on it here.
        if (f && !seen.has(f.name.value)) max = Math.max(max, walk(f.selectionSet, new Set([...seen, f.name.value])));
      }
    }
    return max;
  };
  return walk(op.selectionSet, new Set());
}

function tooComplex(complexity: number | null, max: number): AppError {
  const measured = complexity === null ? `more than ${MAX_QUERY_NODES} selections` : `complexity ${complexity}`;
  return new AppError(
    ErrorClass.BAD_USER_INPUT,
    'QUERY_TOO_COMPLEX',
    `The query is too complex: ${measured}, the limit is ${max}. Ask for fewer fields or smaller pages (first/last).`,
    [],
    { complexity: complexity ?? MAX_QUERY_NODES * UNBOUNDED_LIST_FACTOR, maxComplexity: max },
  );
}

function isIntrospectionOnly(op: OperationDefinitionNode | undefined): boolean {
  return !!op && op.selectionSet.selections.every((s) => s.kind === Kind.FIELD && s.name.value.startsWith('__'));
}

/**
 * Checks an operation against the depth and complexity limits; returns the error to report, or null.
 * Runs after validation and before execution, for HTTP and WebSocket alike. Introspection is not
 * exempt, it has limits of its own (INTROSPECTION_LIMITS) that fit the standard introspection query.
 */
export function checkQueryLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | null | undefined,
  configured: QueryLimits,
): AppError | null {
  const limits = isIntrospectionOnly(operationOf(document, operationName))
    ? {
        maxDepth: Math.max(configured.maxDepth, INTROSPECTION_LIMITS.maxDepth),
        maxComplexity: Math.max(configured.maxComplexity, INTROSPECTION_LIMITS.maxComplexity),
      }
    : configured;
  const depth = queryDepth(document, operationName);
  if (depth > limits.maxDepth) {
    return new AppError(
      ErrorClass.BAD_USER_INPUT,
      'QUERY_TOO_DEEP',
      `The query is nested ${depth} levels deep; the limit is ${limits.maxDepth}.`,
      [],
      { depth, maxDepth: limits.maxDepth },
    );
  }
  let complexity: number;
  try {
    complexity = getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      operationName: operationName ?? undefined,
      estimators: [estimator],
      maxQueryNodes: MAX_QUERY_NODES,
    });
  } catch (err) {
    if (err instanceof GraphQLError && /maximum allowed number of nodes/.test(err.message)) return tooComplex(null, limits.maxComplexity);
    // Invalid variables: execution reports them (typed BAD_USER_INPUT) and runs nothing.
    return null;
  }
  return complexity > limits.maxComplexity ? tooComplex(complexity, limits.maxComplexity) : null;
}

/** True when the operation is only `ingestEvents` (it counts against the ingest budget). */
export function isIngestOperation(document: DocumentNode, operationName?: string | null): boolean {
  const op = operationOf(document, operationName);
  if (!op || op.operation !== 'mutation') return false;
  return op.selectionSet.selections.every((s) => s.kind === Kind.FIELD && (s.name.value === 'ingestEvents' || s.name.value === '__typename'));
}
