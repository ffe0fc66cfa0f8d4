export { openDatabase, inTransaction } from './data-source';
export type { Database, OpenDatabaseOptions } from './data-source';
