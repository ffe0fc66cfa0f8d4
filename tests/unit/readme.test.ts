import fs from 'node:fs';
import path from 'node:path';
import { buildSchema, Kind, parse, validate } from 'graphql';
import { CONFIG_VARIABLES } from '../../src/platform/config';

describe('README', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  it.each(CONFIG_VARIABLES)('documents the variable %s', (v) => {
    expect(readme).toContain(`| \`${v}\` |`);
  });
});

describe('README GraphQL examples', () => {
  it('every operation in a ```graphql block is valid against the committed schema', () => {
    const root = path.resolve(__dirname, '../..');
    const schema = buildSchema(fs.readFileSync(`${root}/schema/schema.graphql`, 'utf8'));
    const md = fs.readFileSync(`${root}/README.md`, 'utf8');
    const blocks = [...md.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThan(3);
    const problems: string[] = [];
    for (const block of blocks) {
      const doc = parse(block);
      const fragments = doc.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
      for (const op of doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION)) {
        const errors = validate(schema, { ...doc, definitions: [op, ...fragments] });
        problems.push(...errors.map((e) => `${e.message} in: ${block.slice(0, 60).replace(/\s+/g, ' ')}`));
      }
    }
    expect(problems).toEqual([]);
  });
});
