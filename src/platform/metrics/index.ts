import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  graphqlOperations: Counter<'type' | 'name' | 'outcome'>;
  graphqlDuration: Histogram<'type'>;
  wsConnections: Gauge;
  /** Closes of sockets that stopped reading (close code 4413), by reason (`buffered` or `stalled`). */
  wsSlowConsumerCloses: Counter<'reason'>;
  liveComputations: Counter<'kind'>;
  liveComputeErrors: Counter<'kind'>;
  liveDroppedVersions: Counter<'kind'>;
  liveSubscribers: Gauge;
  liveSources: Gauge;
  /** Requests whose database time budget ended early, by kind of work and reason (`deadline` or `client_gone`). */
  dbBudgetStops: Counter<'kind' | 'reason'>;
  /** Statements not started because their request's budget had ended (the check between statements). */
  dbBudgetRefused: Counter<'kind'>;
  /** Versions handed to subscribers (one per subscriber per version), by source kind. */
  livePushes: Counter<'kind'>;
  /** Ingested events by outcome (`accepted`, `duplicate`, `rejected`) and, for rejections, reason code. */
  ingestEvents: Counter<'status' | 'reason'>;
  /** KPI alerts raised, by level. */
  alertsRaised: Counter<'level'>;
  /** KPI alerts escalated past their service level, by the level they moved to. */
  alertsEscalated: Counter<'level'>;
  /** Outbound deliveries by destination format and outcome (`delivered`, `retry`, `dead`, `suppressed`). */
  destinationDeliveries: Counter<'format' | 'outcome'>;
  /** HTTP attempts to destinations by format and result (`ok`, `failed`). */
  destinationAttempts: Counter<'format' | 'result'>;
  /** Where the sweep lag gauge reads its figures at scrape time (set once the services exist). */
  setSweepLagSource(source: () => Promise<SweepLag[]>): void;
}

/** One workspace's sweep lag: seconds since its last completed sweep pass (since its creation before the first). */
export interface SweepLag {
  workspaceId: string;
  seconds: number;
}

/** What ingest reports (see `createMetrics`). */
export interface IngestMetrics {
  ingestEvents: { inc(labels: { status: string; reason: string }, n?: number): void };
}

/** What alert evaluation reports (see `createMetrics`). */
export interface AlertMetrics {
  alertsRaised: { inc(labels: { level: string }, n?: number): void };
  alertsEscalated?: { inc(labels: { level: string }, n?: number): void };
}

/**
 * One registry per app instance (tests boot several per process). Default Node metrics include
 * event-loop lag (`nodejs_eventloop_lag_seconds`); the DB pool is sampled at scrape time.
 */
export function createMetrics(poolStats: () => { total: number; idle: number; waiting: number }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'siyu_' });
  const httpRequests = new Counter({
    name: 'siyu_http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'siyu_http_request_duration_seconds',
    help: 'HTTP request latency.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const graphqlOperations = new Counter({
    name: 'siyu_graphql_operations_total',
    help: 'GraphQL operations by type, operation name and outcome (ok or error).',
    labelNames: ['type', 'name', 'outcome'] as const,
    registers: [registry],
  });
  const graphqlDuration = new Histogram({
    name: 'siyu_graphql_operation_duration_seconds',
    help: 'GraphQL operation latency (HTTP).',
    labelNames: ['type'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const wsConnections = new Gauge({
    name: 'siyu_ws_connections',
    help: 'Open graphql-ws connections.',
    registers: [registry],
  });
  const wsSlowConsumerCloses = new Counter({
    name: 'siyu_ws_slow_consumer_closes_total',
    help: 'Sockets closed with 4413 (slow consumer): too much data buffered, or a frame unsent past the stall timeout.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const liveComputations = new Counter({
    name: 'siyu_live_computations_total',
    help: 'Shared live computations run, by source kind (one per change per key, whatever the number of subscribers).',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const liveComputeErrors = new Counter({
    name: 'siyu_live_compute_errors_total',
    help: 'Live computations that failed (logged; subscribers keep the last value), by source kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const liveDroppedVersions = new Counter({
    name: 'siyu_live_dropped_versions_total',
    help: 'Live versions replaced in a subscriber mailbox before the subscriber read them, by source kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const liveSubscribers = new Gauge({
    name: 'siyu_live_subscribers',
    help: 'Open live subscriptions on this instance.',
    registers: [registry],
  });
  const liveSources = new Gauge({
    name: 'siyu_live_sources',
    help: 'Shared live computations with at least one subscriber on this instance.',
    registers: [registry],
  });
  const dbBudgetStops = new Counter({
    name: 'siyu_db_budget_stops_total',
    help: 'Requests stopped in the database: past their time budget (SIYU_DB_TIMEOUT_*_MS) or because their client went away, by kind of work.',
    labelNames: ['kind', 'reason'] as const,
    registers: [registry],
  });
  const dbBudgetRefused = new Counter({
    name: 'siyu_db_budget_refused_statements_total',
    help: 'Statements not started because their request was past its database time budget or its client had gone, by kind of work.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const livePushes = new Counter({
    name: 'siyu_live_pushes_total',
    help: 'Live versions handed to subscribers (one per subscriber per version, the current one given to a new subscriber included), by source kind. A version replaced in a mailbox before it was read also counts in siyu_live_dropped_versions_total: sent = pushes - dropped.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const ingestEvents = new Counter({
    name: 'siyu_ingest_events_total',
    help: 'Events through ingest (GraphQL, /v1, CLI) by status (accepted, duplicate, rejected) and, for rejected, the reason code (empty otherwise). A whole call refused (e.g. BATCH_TOO_LARGE) is not counted here.',
    labelNames: ['status', 'reason'] as const,
    registers: [registry],
  });
  const alertsEscalated = new Counter({
    name: 'siyu_alerts_escalated_total',
    help: 'KPI alerts escalated past their service level by this instance, by the level they moved to.',
    labelNames: ['level'] as const,
    registers: [registry],
  });
  const alertsRaised = new Counter({
    name: 'siyu_alerts_raised_total',
    help: 'KPI alerts raised by this instance, by level.',
    labelNames: ['level'] as const,
    registers: [registry],
  });
  const destinationDeliveries = new Counter({
    name: 'siyu_destination_deliveries_total',
    help: 'Outbound destination items by format and outcome: delivered, retry (an attempt failed, retried later), dead (dead letter), suppressed (no marketing consent).',
    labelNames: ['format', 'outcome'] as const,
    registers: [registry],
  });
  const destinationAttempts = new Counter({
    name: 'siyu_destination_attempts_total',
    help: 'HTTP attempts to outbound destinations by format and result (ok or failed: error, timeout, non-2xx or a robot error code).',
    labelNames: ['format', 'result'] as const,
    registers: [registry],
  });
  let sweepLagSource: (() => Promise<SweepLag[]>) | null = null;
  new Gauge({
    name: 'siyu_sweep_lag_seconds',
    help: 'Per workspace: seconds since its last completed sweep pass (time-based tags, segments, stages, journey windows), or since the workspace was created when no pass has completed yet. Grows when the sweeper is off, failing or falling behind. One series per workspace.',
    labelNames: ['workspace'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      if (!sweepLagSource) return;
      // A database that does not answer leaves the gauge empty; the rest of the scrape still works.
      const lags = await sweepLagSource().catch(() => []);
      for (const l of lags) this.set({ workspace: l.workspaceId }, l.seconds);
    },
  });
  new Gauge({
    name: 'siyu_db_pool_connections',
    help: 'Database pool connections by state.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const s = poolStats();
      this.set({ state: 'total' }, s.total);
      this.set({ state: 'idle' }, s.idle);
      this.set({ state: 'waiting' }, s.waiting);
    },
  });
  return {
    registry,
    httpRequests,
    httpDuration,
    graphqlOperations,
    graphqlDuration,
    wsConnections,
    wsSlowConsumerCloses,
    liveComputations,
    liveComputeErrors,
    liveDroppedVersions,
    liveSubscribers,
    liveSources,
    dbBudgetStops,
    dbBudgetRefused,
    livePushes,
    ingestEvents,
    alertsRaised,
    alertsEscalated,
    destinationDeliveries,
    destinationAttempts,
    setSweepLagSource(source) {
      sweepLagSource = source;
    },
  };
}
