import fs from 'node:fs';
import path from 'node:path';

export default async function globalTeardown(): Promise<void> {
  const file = process.env.SIYU_TEST_SNAPSHOT;
  if (file) fs.rmSync(path.dirname(file), { recursive: true, force: true });
}
