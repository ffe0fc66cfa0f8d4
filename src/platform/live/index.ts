export { LiveHub, MIN_LIVE_INTERVAL_MS, DEFAULT_LIVE_INTERVAL_MS } from './live-hub';
export type { LiveSource, LiveUpdate, LiveStats, LiveSourceStats, LiveMetrics, LiveHubOptions } from './live-hub';
