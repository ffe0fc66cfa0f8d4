import { Foundation1763856000000 } from './1763856000000-Foundation';
import { IdentityAndEvents1763870000000 } from './1763870000000-IdentityAndEvents';

/** Every migration, in order. Migrations are never edited once landed: add a new one. */
export const MIGRATIONS = [Foundation1763856000000, IdentityAndEvents1763870000000];
