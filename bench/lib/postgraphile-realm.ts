import Module from 'node:module';
import path from 'node:path';

/**
 * npm installs PostGraphile 4.14.1 beside this project's graphql 16 with graphql 15 under
 * `postgraphile/node_modules` (used by postgraphile, postgraphile-core, graphile-build), but hoists
 * some of its dependencies to the top, where they find another copy: graphile-build-pg (its own
 * nested graphql 15) and graphql-parse-resolve-info / subscriptions-transport-ws (the top-level
 * graphql 16). Two copies of graphql in one schema fail at run time ("Cannot use
 * GraphQLObjectType "Profile" from another module or realm"). Imported before `postgraphile`, this
 * makes those packages resolve `graphql` to PostGraphile's copy — the layout PostGraphile has when
 * installed on its own. Siyu's modules are not affected. Only the bench loads it.
 */
const pglDir = path.dirname(require.resolve('postgraphile/package.json'));
const graphql15 = path.dirname(require.resolve('graphql/package.json', { paths: [pglDir] }));
const POSTGRAPHILE_DEPS = /[\\/]node_modules[\\/](graphile-build-pg|graphql-parse-resolve-info|subscriptions-transport-ws)[\\/]/;
const M = Module as unknown as { _resolveFilename(request: string, parent: { filename?: string } | undefined, ...rest: unknown[]): string };
const original = M._resolveFilename;
M._resolveFilename = function (request, parent, ...rest) {
  if ((request === 'graphql' || request.startsWith('graphql/')) && POSTGRAPHILE_DEPS.test(parent?.filename ?? '')) {
    return original.call(this, graphql15 + request.slice('graphql'.length), parent, ...rest);
  }
  return original.call(this, request, parent, ...rest);
};
