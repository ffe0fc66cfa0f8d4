import { Field, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'How one identifier type takes part in resolution.' })
export class IdentifierRuleType {
  @Field({ description: 'Identifier type.' })
  type: string;

  @Field(() => Int, { description: '1 is highest: decides the target profile and the order links are tried.' })
  priority: number;

  @Field(() => Int, { description: 'How many one person may hold (per namespace for namespaced types). A link that would exceed it is refused and recorded as a conflict.' })
  maxPerProfile: number;

  @Field({ description: 'Whether values are unique only inside a namespace (app id, corp id, …).' })
  namespaced: boolean;

  @Field({ description: 'What the type is.' })
  description: string;
}

@ObjectType({ description: "The workspace's identity-resolution rules." })
export class IdentityRulesType {
  @Field(() => [IdentifierRuleType], { description: 'One rule per identifier type, by priority.' })
  types: IdentifierRuleType[];

  @Field(() => [String], { description: 'Values (trimmed, case-insensitive) that never identify anyone.' })
  blockedValues: string[];

  @Field(() => [String], { description: 'Regular expressions (case-insensitive) for values that never identify anyone.' })
  blockedPatterns: string[];
}

@InputType({ description: 'The rule of one identifier type.' })
export class IdentifierRuleInput {
  @Field({ description: 'Identifier type.' })
  type: string;

  @Field(() => Int, { description: 'Distinct priority, 1 is highest.' })
  priority: number;

  @Field(() => Int, { description: 'Limit per person (per namespace), 1–1000.' })
  maxPerProfile: number;
}

@InputType({ description: 'A complete replacement of the rules: every identifier type exactly once.' })
export class IdentityRulesInput {
  @Field(() => [IdentifierRuleInput], { description: 'One rule per identifier type.' })
  types: IdentifierRuleInput[];

  @Field(() => [String], { description: 'Blocked values.' })
  blockedValues: string[];

  @Field(() => [String], { description: 'Blocked patterns (regular expressions, at most 200 characters each).' })
  blockedPatterns: string[];
}
