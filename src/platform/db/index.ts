export { openDatabase, inTransaction } from './data-source';
export type { Database, OpenDatabaseOptions } from './data-source';
export { StatisticsRefresher, GROWING_TABLES, DEFAULT_STATISTICS_REFRESH } from './statistics';
export type { StatisticsRefreshOptions } from './statistics';
export { lockWorkspaceWrites, tryLockWorkspaceWrites, WORKSPACE_WRITE_LOCK } from './workspace-lock';
