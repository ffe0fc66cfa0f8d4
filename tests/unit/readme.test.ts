import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_VARIABLES } from '../../src/platform/config';

describe('README', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  it.each(CONFIG_VARIABLES)('documents the variable %s', (v) => {
    expect(readme).toContain(`| \`${v}\` |`);
  });
});
