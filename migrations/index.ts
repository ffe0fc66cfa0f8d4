import { Foundation1763856000000 } from './1763856000000-Foundation';
import { IdentityAndEvents1763870000000 } from './1763870000000-IdentityAndEvents';
import { TagsAndSegments1763880000000 } from './1763880000000-TagsAndSegments';

/** Every migration, in order. Migrations are never edited once landed: add a new one. */
export const MIGRATIONS = [Foundation1763856000000, IdentityAndEvents1763870000000, TagsAndSegments1763880000000];
