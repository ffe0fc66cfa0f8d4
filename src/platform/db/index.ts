export { openDatabase, inTransaction } from './data-source';
export type { Database, OpenDatabaseOptions } from './data-source';
export { StatisticsRefresher, GROWING_TABLES, DEFAULT_STATISTICS_REFRESH } from './statistics';
export type { StatisticsRefreshOptions } from './statistics';
export { lockWorkspaceWrites, tryLockWorkspaceWrites, lockWorkspaceBootstrap, WORKSPACE_WRITE_LOCK_NAMESPACE } from './workspace-lock';
export { DueWork } from './due-work';
export { DbBudget, currentDbBudget, withDbBudget, outsideDbBudget, sharedDbBudget, dbBudgetMiddleware } from './budget';
export type { DbWorkKind, DbBudgets, DbBudgetStop, DbBudgetObserver } from './budget';
