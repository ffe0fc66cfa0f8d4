import fs from 'node:fs';
import path from 'node:path';

export { parseId } from '../../src/shared/synthetic-people';

export interface Scenario {
  name: string;
  batch?: string;
  events: (string[] | string | { messageId: string; identifiers: string[] })[];
  expect: {
    profiles: string[][];
    unheld?: string[];
    merges?: number;
    unmerges?: number;
    conflicts?: number;
    survivorCreatedByEvent?: number;
    eventBelongsTo?: Record<string, string>;
    eventsStored?: number;
    duplicates?: number;
    redirects?: string;
  };
}

const file = path.resolve(__dirname, '../../../shared/identity-scenarios.json');
const fallback = path.resolve(__dirname, '../fixtures/identity-scenarios.json');

/** The identity test vectors from shared/ (falls back to the copy under tests/fixtures). */
export function loadScenarios(): { scenarios: Scenario[] } {
  const p = fs.existsSync(file) ? file : fallback;
  return JSON.parse(fs.readFileSync(p, 'utf8'));
}
