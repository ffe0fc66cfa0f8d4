import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type ContainerType, type ResolverData } from 'type-graphql';
import { authChecker } from '../auth';
import type { SiyuPubSub } from '../pubsub';
import { registerSchemaServices } from './services-for';

/** A resolver class: constructed with the app's services object (its constructor names the part it uses). */
export type ResolverClass<S> = new (services: S) => unknown;

/** Resolvers are constructed with the app's services: one instance per resolver class per app. */
function createContainer<S>(services: S): ContainerType {
  const instances = new Map<unknown, unknown>();
  return {
    get(cls: ResolverClass<S>, _data: ResolverData<object>) {
      let i = instances.get(cls);
      if (!i) {
        i = new cls(services);
        instances.set(cls, i);
      }
      return i;
    },
  } as ContainerType;
}

/**
 * `resolvers` and `services` come from the composition root (src/app.ts): platform knows no module.
 * `extraResolvers`: only for benchmark builds (e.g. a no-op mutation as a reference); the public schema never has them.
 */
export async function buildAppSchema<S>(
  resolvers: readonly ResolverClass<S>[],
  services: S,
  pubSub: SiyuPubSub,
  extraResolvers: readonly Function[] = [],
): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: [...resolvers, ...extraResolvers] as unknown as [Function, ...Function[]],
    container: createContainer(services),
    authChecker,
    authMode: 'error',
    pubSub,
    // No global middleware: it would wrap every field (scalars included) in an async chain, one
    // promise per field of every list item. Subscriptions get fresh loaders per event in ws.ts.
    validate: { forbidUnknownValues: false, validationError: { target: false, value: false } },
  });
  registerSchemaServices(schema, services);
  return schema;
}

export const SCHEMA_HEADER =
  '# Siyu GraphQL schema — emitted by `npm run schema:emit`. Do not edit: change the code and re-emit.\n\n';

/** The committed form of the schema: sorted, so that the drift check is independent of file order. */
export function printAppSchema(schema: GraphQLSchema): string {
  return SCHEMA_HEADER + printSchema(lexicographicSortSchema(schema)) + '\n';
}
