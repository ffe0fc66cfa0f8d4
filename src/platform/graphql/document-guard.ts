import type { NextFunction, Request, Response } from 'express';
import { GraphQLError, parse, type DocumentNode } from 'graphql';
import { AppError } from '../errors';
import { checkDocumentSize, HTTP_STATUS, isTokenLimitError, MAX_QUERY_TOKENS, requestError, tooManyTokens, type QueryLimits } from '../limits';
import type { ErrorFormatter } from '../errors';

/**
 * Parses a GraphQL document within MAX_QUERY_TOKENS and measures it (fragments counted, not
 * expanded) before anything walks it: an AppError when it is too large or has a fragment cycle,
 * graphql-js's syntax error when it does not parse, else the document.
 */
export function parseBounded(query: string, operationName: string | null | undefined, limits: QueryLimits): DocumentNode | AppError | GraphQLError {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: MAX_QUERY_TOKENS });
  } catch (err) {
    if (isTokenLimitError(err)) return tooManyTokens();
    // A stack overflow on absurd nesting is a syntax problem of the document too.
    return err instanceof GraphQLError ? err : new GraphQLError(`Syntax Error: ${(err as Error).message}`, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
  }
  return checkDocumentSize(document, operationName, limits) ?? document;
}

/**
 * Express middleware in front of Apollo on `/graphql`: refuses a document that is too large (tokens,
 * or selections once fragments are counted), too deep or cyclic with a typed error (200 as
 * application/json, 400 as application/graphql-response+json), before Apollo validates it —
 * graphql-js validation walks fragments as spread and costs more than the parse, and Apollo offers
 * no hook that can refuse a request between parsing and validation. Syntax errors are left to Apollo.
 */
export function documentGuard(limits: QueryLimits, formatError: ErrorFormatter) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const source = req.method === 'GET' ? req.query : req.body;
    const query = (source as { query?: unknown } | undefined)?.query;
    const operationName = (source as { operationName?: unknown } | undefined)?.operationName;
    if (typeof query !== 'string') return next();
    const parsed = parseBounded(query, typeof operationName === 'string' ? operationName : null, limits);
    if (!(parsed instanceof AppError)) return next();
    const error = requestError(parsed);
    // GraphQL over HTTP, as for every other refused request: sent as application/json (the client
    // did not prefer application/graphql-response+json), a well-formed request answers 200.
    const status = HTTP_STATUS[parsed.errorClass];
    const json = req.accepts(['application/json', 'application/graphql-response+json']) === 'application/json';
    res.status(json && status >= 400 && status < 500 && status !== 429 ? 200 : status).json({ errors: [formatError(error.toJSON(), error)] });
  };
}
