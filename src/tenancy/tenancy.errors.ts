/** Base class of the errors the tenancy layer raises on purpose (as opposed to database errors). */
export class TenancyError extends Error {
  override name = 'TenancyError';
}

/** A tenant-scoped repository or transaction was used outside any tenant or system context. */
export class TenantContextMissingError extends TenancyError {
  override name = 'TenantContextMissingError';
  constructor(what = 'A tenant-scoped repository') {
    super(
      `${what} was used outside a tenant context, so it refuses to run unscoped. Serve the request ` +
        'through TenantContextInterceptor (or DatabaseModule.forRoot({ globalInterceptor: true })), ' +
        'or wrap the work in TenancyService.runInTenant(tenantId, fn) / runAsSystem(fn).',
    );
  }
}

/** A tenant id that is not a canonical UUID. Names where the value came from; never echoes it. */
export class InvalidTenantIdError extends TenancyError {
  override name = 'InvalidTenantIdError';
  constructor(readonly source: string) {
    super(`${source} must be a tenant id in UUID form (e.g. 3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f)`);
  }
}

/** A well-formed tenant id that names no tenant, or a suspended one. Both get the same answer. */
export class TenantNotFoundError extends TenancyError {
  override name = 'TenantNotFoundError';
  constructor(readonly reason: 'unknown' | 'suspended') {
    super('the tenant does not exist or is not active');
  }
}

/** Work for another tenant (or for the system) was started inside an open tenant transaction. */
export class TenantContextConflictError extends TenancyError {
  override name = 'TenantContextConflictError';
  constructor() {
    super(
      'cannot switch tenant inside an open tenant transaction: it would need a second pooled connection ' +
        'while holding the first. Run the other tenant\'s work after this one completes.',
    );
  }
}

/** No connection could be had in time, or the server could not be reached. Maps to HTTP 503. */
export class DatabaseUnavailableError extends TenancyError {
  override name = 'DatabaseUnavailableError';
  constructor(
    reason: string,
    readonly cause?: unknown,
    /** When to try again, in seconds, where the module can tell (the `Retry-After` of the 503). */
    readonly retryAfterSeconds?: number,
  ) {
    super(`database unavailable: ${reason}`);
  }
}

/**
 * A tenant has as many transactions waiting for a connection as it may (the `tenantQueue` option):
 * this one was refused before it took a connection or ran a statement, so nothing was written.
 * Maps to HTTP 429 with `Retry-After`.
 */
export class TenantThrottledError extends TenancyError {
  override name = 'TenantThrottledError';
  constructor(
    reason: string,
    /** When to try again, in seconds. */
    readonly retryAfterSeconds: number,
  ) {
    super(`too many requests for this tenant: ${reason}`);
  }
}

/** A statement in the transaction failed (and its error was caught), so COMMIT rolled everything back. */
export class TransactionRolledBackError extends TenancyError {
  override name = 'TransactionRolledBackError';
  constructor() {
    super('the transaction was rolled back because a statement in it failed; nothing was written');
  }
}

/** A write named another tenant than the one of its context. Never echoes either id. */
export class TenantMismatchError extends TenancyError {
  override name = 'TenantMismatchError';
  constructor(readonly entity: string) {
    super(
      `${entity} was written with a tenantId other than the current tenant's: a tenant may only write its own rows. ` +
        'Leave tenantId unset and it is filled from the tenant context.',
    );
  }
}

/**
 * Work inside a tenant (or system) transaction asked the pool for a second connection while its
 * transaction holds one, typically through the injected `DataSource` instead of a repository.
 */
export class ConnectionHeldError extends TenancyError {
  override name = 'ConnectionHeldError';
  constructor(readonly poolSize: number) {
    super(
      'a query asked the pool for a connection while its own tenant transaction holds ' +
        (poolSize === 1
          ? "the pool's only connection (the embedded database has one): it could never get one. "
          : `one of the pool's ${poolSize}, and none came free in time. `) +
        'Query through the injected repositories (or repository.manager) inside a tenant context, not the DataSource.',
    );
  }
}

/** An actor (who acts, for the audit trail) that the audit trail could not record. Never echoes it. */
export class InvalidActorError extends TenancyError {
  override name = 'InvalidActorError';
  constructor(readonly source: string, maxLength: number) {
    super(`${source} must be a non-empty string of at most ${maxLength} characters without NUL`);
  }
}

/**
 * A repository `save()` wrote no row for an entity: the UPDATE found its row gone (removed by a
 * concurrent transaction after TypeORM loaded it), or a trigger skipped the row. TypeORM would
 * resolve as if it was stored. Maps to HTTP 409.
 */
export class EntityNotStoredError extends TenancyError {
  override name = 'EntityNotStoredError';
  constructor(readonly entity: string) {
    super(`the ${entity} was not stored: the statement that writes it wrote no row (the row was removed meanwhile, or a trigger skipped it)`);
  }
}
