import {
  GraphQLError,
  getNullableType,
  isListType,
  Kind,
  type DocumentNode,
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

/**
 * Tokens a GraphQL document may have (graphql-js `parse(…, { maxTokens })`): parsing stops there, so
 * a huge document costs at most this much before it is refused — parsing 20,000 tokens holds the
 * event loop for a few tens of milliseconds. Bulk data goes in variables (1,000 events in
 * `$events` cost no tokens); written inline, about 300 events fit.
 */
export const MAX_QUERY_TOKENS = 20_000;

/** What a selection set holds, fragments not expanded: its fields, spreads (with multiplicity) and nesting. */
interface SelectionSummary {
  fields: number;
  /** Fields at the top level of the set (inline fragments there included). */
  top: number;
  depth: number;
  /** Fragment name → how often it is spread here (`topCount` of them at the top level) and the deepest field nesting at which it is. */
  spreads: Map<string, { count: number; topCount: number; depth: number }>;
}

/** Walks one selection set without following spreads (iteratively: deep documents do not overflow the stack). */
function summarise(root: SelectionSetNode): SelectionSummary {
  const out: SelectionSummary = { fields: 0, top: 0, depth: 0, spreads: new Map() };
  const stack: [SelectionSetNode, number][] = [[root, 0]];
  while (stack.length) {
    const [set, level] = stack.pop()!;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        out.fields++;
        if (level === 0) out.top++;
        out.depth = Math.max(out.depth, level + 1);
        if (s.selectionSet) stack.push([s.selectionSet, level + 1]);
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        out.fields++;
        stack.push([s.selectionSet, level]);
      } else {
        out.fields++;
        const seen = out.spreads.get(s.name.value);
        const top = level === 0 ? 1 : 0;
        if (seen) {
          seen.count++;
          seen.topCount += top;
          seen.depth = Math.max(seen.depth, level);
        } else out.spreads.set(s.name.value, { count: 1, topCount: top, depth: level });
      }
    }
  }
  return out;
}

/**
 * Root fields an operation may ask for, aliases of the same field included: each root field is
 * resolved on its own (its own queries), which the complexity estimate (1 per field) does not see.
 */
export const MAX_ROOT_FIELDS = 100;

/** Size and depth of a document's operations as if fragments were expanded, computed without expanding them. */
export interface DocumentShape {
  /** Selections of the named (or only) operation with every spread expanded; capped just above MAX_QUERY_NODES. */
  selections: number;
  /** Its nesting depth (root field = 1), fragments counted where they are spread. */
  depth: number;
  /** Its root fields (aliases of one field each count), fragments expanded. */
  rootFields: number;
  /** A fragment that spreads itself (directly or through others), if any. */
  cycle: string | null;
}

/**
 * Measures a document in time linear in its size: each fragment's expanded size is computed once
 * (its own selections + Σ spreads × size of the spread fragment), so a fragment spread twice in
 * each of 30 levels costs 30 steps, not 2^30. Unknown fragments count as empty (validation reports
 * them); a cycle is reported instead of followed.
 */
export function documentShape(document: DocumentNode, operationName?: string | null): DocumentShape {
  const defs = new Map<string, SelectionSummary>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) defs.set(d.name.value, summarise(d.selectionSet));
  const cap = MAX_QUERY_NODES + 1;
  const done = new Map<string, { size: number; top: number; depth: number }>();
  const onPath = new Set<string>();
  let cycle: string | null = null;
  const combine = (own: SelectionSummary): { size: number; top: number; depth: number } => {
    let size = own.fields;
    let top = own.top;
    let depth = own.depth;
    for (const [name, at] of own.spreads) {
      const f = done.get(name);
      if (!f) continue;
      size = Math.min(cap, size + at.count * f.size);
      top = Math.min(cap, top + at.topCount * f.top);
      depth = Math.max(depth, at.depth + f.depth);
    }
    return { size, top, depth };
  };
  // Post-order over the fragment graph with an explicit stack (a chain of fragments can be long).
  for (const start of defs.keys()) {
    if (done.has(start)) continue;
    const stack: { name: string; pending: string[] }[] = [{ name: start, pending: [...defs.get(start)!.spreads.keys()] }];
    onPath.add(start);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = top.pending.pop();
      if (next === undefined) {
        done.set(top.name, combine(defs.get(top.name)!));
        onPath.delete(top.name);
        stack.pop();
      } else if (onPath.has(next)) {
        cycle ??= next;
      } else if (!done.has(next) && defs.has(next)) {
        onPath.add(next);
        stack.push({ name: next, pending: [...defs.get(next)!.spreads.keys()] });
      }
    }
  }
  const op = operationOf(document, operationName);
  const shape = op ? combine(summarise(op.selectionSet)) : { size: 0, top: 0, depth: 0 };
  return { selections: shape.size, depth: shape.depth, rootFields: shape.top, cycle };
}

/** Nesting depth of an operation: a root field is depth 1. Fragments count where they are spread. */
export function queryDepth(document: DocumentNode, operationName?: string | null): number {
  return documentShape(document, operationName).depth;
}

/**
 * Checks a parsed document before validation (whose rules walk expanded fragments, and whose cost
 * grows with the document): a fragment cycle, nesting deeper than any operation may go, or more
 * than MAX_QUERY_NODES selections in the operation with fragments expanded or in the document as
 * written, is refused here.
 */
export function checkDocumentSize(document: DocumentNode, operationName: string | null | undefined, configured: QueryLimits): AppError | null {
  const shape = documentShape(document, operationName);
  // Deeper than even introspection may go: refused before validation walks it.
  const maxDepth = Math.max(configured.maxDepth, INTROSPECTION_LIMITS.maxDepth);
  if (shape.depth > maxDepth) return tooDeep(shape.depth, maxDepth);
  if (shape.cycle !== null) {
    return AppError.badInput('FRAGMENT_CYCLE', shape.cycle, `Fragment "${shape.cycle}" spreads itself (directly or through other fragments).`);
  }
  let written = 0;
  for (const d of document.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION) written += summarise(d.selectionSet).fields;
  }
  if (shape.selections > MAX_QUERY_NODES || written > MAX_QUERY_NODES) return tooComplex(null, configured.maxComplexity);
  // Validation compares same-named fields pairwise (OverlappingFieldsCanBeMerged): a wide root is refused before it.
  if (shape.rootFields > MAX_ROOT_FIELDS) return tooManyRootFields(shape.rootFields);
  return null;
}

function tooManyRootFields(rootFields: number): AppError {
  return new AppError(
    ErrorClass.BAD_USER_INPUT,
    'TOO_MANY_ROOT_FIELDS',
    `The operation asks for ${rootFields} root fields (aliases count); the limit is ${MAX_ROOT_FIELDS}. Each is served on its own; split the operation.`,
    [],
    { rootFields, maxRootFields: MAX_ROOT_FIELDS },
  );
}

/** The error for a document over MAX_QUERY_TOKENS (graphql-js stopped parsing it). */
export function tooManyTokens(): AppError {
  return new AppError(
    ErrorClass.BAD_USER_INPUT,
    'QUERY_TOO_LARGE',
    `The GraphQL document has more than ${MAX_QUERY_TOKENS} tokens. Send fewer fields, and values as variables.`,
    [],
    { maxTokens: MAX_QUERY_TOKENS },
  );
}

/** True for graphql-js's error when `parse` stopped at `maxTokens`. */
export function isTokenLimitError(err: unknown): boolean {
  return err instanceof Error && /Document contains more th(?:at|an) \d+ tokens/.test(err.message);
}

function tooDeep(depth: number, maxDepth: number): AppError {
  return new AppError(ErrorClass.BAD_USER_INPUT, 'QUERY_TOO_DEEP', `The query is nested ${depth} levels deep; the limit is ${maxDepth}.`, [], { depth, maxDepth });
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
  const shape = documentShape(document, operationName);
  const depth = shape.depth;
  if (depth > limits.maxDepth) return tooDeep(depth, limits.maxDepth);
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
    complexity = 0;
  }
  if (complexity > limits.maxComplexity) return tooComplex(complexity, limits.maxComplexity);
  if (shape.rootFields > MAX_ROOT_FIELDS) return tooManyRootFields(shape.rootFields);
  return null;
}

/** True when the operation is only `ingestEvents` (it counts against the ingest budget). */
export function isIngestOperation(document: DocumentNode, operationName?: string | null): boolean {
  const op = operationOf(document, operationName);
  if (!op || op.operation !== 'mutation') return false;
  return op.selectionSet.selections.every((s) => s.kind === Kind.FIELD && (s.name.value === 'ingestEvents' || s.name.value === '__typename'));
}
