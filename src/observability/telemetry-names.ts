/**
 * Names of what the module reports. OpenTelemetry's database semantic conventions where they have
 * one; `fdl.`-prefixed names for what is this module's own.
 */
export const METRIC = {
  /** Histogram, seconds: every tenant or system transaction, by scope and outcome. */
  transactionDuration: 'fdl.transaction.duration',
  /** Counter: transactions whose prelude refused the tenant, by reason. */
  preludeRefusals: 'fdl.prelude.refusals',
  /** Counter: connections discarded because an earlier transaction left session state on them. */
  sessionStateFound: 'fdl.session_state.found',
  /** Counter: transactions begun again because the server asked for it, by reason (deadlock, serialization failure). */
  transactionsRunAgain: 'fdl.transaction.run_again',
  /** UpDownCounter: a tenant's transactions waiting for their turn at the pool. */
  tenantWaiting: 'fdl.tenant.transactions.waiting',
  /** UpDownCounter: pooled connections a tenant's transactions hold. */
  tenantHolding: 'fdl.tenant.connections.held',
  /** Histogram, seconds: how long a transaction waited for its turn. */
  tenantWaitDuration: 'fdl.tenant.wait.duration',
  /** Counter: transactions refused before they took a connection, by reason (queue_full, wait_timeout). */
  tenantRefusals: 'fdl.tenant.refusals',
  /** Counter: migrations applied at start. */
  migrationsApplied: 'fdl.migrations.applied',
  /** Histogram, seconds (semantic conventions): statements sent in the prelude's round trip. */
  operationDuration: 'db.client.operation.duration',
  /** UpDownCounter (semantic conventions): pooled connections by state, used or idle. */
  connectionCount: 'db.client.connection.count',
  /** UpDownCounter (semantic conventions): requests waiting for a pooled connection. */
  pendingRequests: 'db.client.connection.pending_requests',
  /** UpDownCounter (semantic conventions): the pool's size. */
  connectionMax: 'db.client.connection.max',
} as const;

export const ATTR = {
  transactionScope: 'fdl.transaction.scope',
  transactionOutcome: 'fdl.transaction.outcome',
  refusalReason: 'fdl.refusal.reason',
  runAgainReason: 'fdl.run_again.reason',
  auditAction: 'fdl.audit.action',
  tenantId: 'fdl.tenant.id',
  poolName: 'db.client.connection.pool.name',
  connectionState: 'db.client.connection.state',
  dbSystem: 'db.system.name',
  dbNamespace: 'db.namespace',
  operationName: 'db.operation.name',
  batchSize: 'db.operation.batch.size',
  queryText: 'db.query.text',
  errorType: 'error.type',
  serverAddress: 'server.address',
  serverPort: 'server.port',
} as const;

/** How a transaction ended, as `fdl.transaction.outcome` reports it. */
export type TransactionOutcome = 'committed' | 'rolled_back' | 'refused_tenant' | 'unavailable';
