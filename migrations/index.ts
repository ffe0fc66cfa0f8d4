import { Foundation1763856000000 } from './1763856000000-Foundation';

/** Every migration, in order. Migrations are never edited once landed: add a new one. */
export const MIGRATIONS = [Foundation1763856000000];
