import { Field, InputType } from 'type-graphql';

/** A range of local dates, shared by the KPI and attribution queries (GraphQL name kept from where it began). */
@InputType('KpiRangeInput', { description: 'Local dates in the workspace time zone, both inclusive.' })
export class KpiRangeInput {
  @Field({ description: 'First day, YYYY-MM-DD.' })
  from: string;
  @Field({ description: 'Last day, YYYY-MM-DD (inclusive).' })
  to: string;
}
