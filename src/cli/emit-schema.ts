import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { createPubSub } from '@graphql-yoga/subscription';
import { buildAppSchema, printAppSchema } from '../platform/graphql/schema';
import { moduleResolvers, type ResolverDeps } from '../modules/registry';
import type { SiyuPubSub } from '../platform/pubsub';

export const SCHEMA_FILE = path.resolve(__dirname, '../../../schema/schema.graphql');

/** The SDL the code defines. Building the schema needs no database: resolvers are never called. */
export async function emittedSchema(): Promise<string> {
  const schema = await buildAppSchema(moduleResolvers(), {} as ResolverDeps, createPubSub() as SiyuPubSub);
  return printAppSchema(schema);
}

async function main(): Promise<void> {
  const sdl = await emittedSchema();
  const file = process.env.SIYU_SCHEMA_FILE ?? SCHEMA_FILE;
  if (process.argv.includes('--check')) {
    const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (committed !== sdl) {
      process.stderr.write(`schema drift: ${path.relative(process.cwd(), file)} differs from the code. Run \`npm run schema:emit\` and commit it.\n`);
      process.exit(1);
    }
    process.stdout.write('schema/schema.graphql is current.\n');
    return;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, sdl);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`siyu schema: ${(err as Error).stack}\n`);
    process.exit(1);
  });
}
