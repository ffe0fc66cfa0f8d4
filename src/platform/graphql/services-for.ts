import type { GraphQLResolveInfo, GraphQLSchema } from 'graphql';

/** The services each built schema runs on (several apps may live in one process, e.g. in tests). */
const servicesBySchema = new WeakMap<GraphQLSchema, unknown>();

export function registerSchemaServices(schema: GraphQLSchema, services: unknown): void {
  servicesBySchema.set(schema, services);
}

/**
 * The app services, for code that runs outside a resolver instance: a `@Subscription`'s
 * `subscribe` function (e.g. to subscribe to `services.live`) gets only resolver data.
 * Platform does not know the modules' services: a module narrows this to its own deps type.
 */
export function servicesFor(info: GraphQLResolveInfo): unknown {
  const s = servicesBySchema.get(info.schema);
  if (!s) throw new TypeError('schema was not built by buildAppSchema');
  return s;
}
