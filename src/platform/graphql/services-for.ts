import type { GraphQLResolveInfo, GraphQLSchema } from 'graphql';
import type { AppServices } from '../../services';

/** The services each built schema runs on (several apps may live in one process, e.g. in tests). */
const servicesBySchema = new WeakMap<GraphQLSchema, AppServices>();

export function registerSchemaServices(schema: GraphQLSchema, services: AppServices): void {
  servicesBySchema.set(schema, services);
}

/**
 * The app services, for code that runs outside a resolver instance: a `@Subscription`'s
 * `subscribe` function (e.g. to subscribe to `services.live`) gets only resolver data.
 */
export function servicesFor(info: GraphQLResolveInfo): AppServices {
  const s = servicesBySchema.get(info.schema);
  if (!s) throw new TypeError('schema was not built by buildAppSchema');
  return s;
}
