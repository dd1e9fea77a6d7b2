import type { ExecutionStatus } from '../entities';

/** Base of the lifecycle services' own errors; `code` is stable, for mapping to HTTP statuses. */
export class LifecycleError extends Error {
  override name = 'LifecycleError';
  constructor(
    readonly code: 'not_found' | 'version_conflict' | 'illegal_transition' | 'invalid_input' | 'not_stored',
    message: string,
  ) {
    super(message);
  }
}

/** The flow, version or execution does not exist for the current tenant. */
export class NotFoundInTenantError extends LifecycleError {
  override name = 'NotFoundInTenantError';
  constructor(readonly what: 'flow' | 'flow version' | 'execution') {
    super('not_found', `${what} not found`);
  }
}

/** An execution write named a version that is no longer current: someone else wrote first. */
export class ExecutionVersionConflictError extends LifecycleError {
  override name = 'ExecutionVersionConflictError';
  constructor(
    readonly expectedVersion: number,
    readonly currentVersion: number,
  ) {
    super('version_conflict', `execution is at version ${currentVersion}, not ${expectedVersion}: reload it and retry`);
  }
}

/** The status change is not in the allowed graph (e.g. a completed execution going back to running). */
export class IllegalExecutionTransitionError extends LifecycleError {
  override name = 'IllegalExecutionTransitionError';
  constructor(
    readonly from: ExecutionStatus,
    readonly to: ExecutionStatus,
  ) {
    super('illegal_transition', `execution status cannot go from ${from} to ${to}`);
  }
}

/** A pagination cursor that this library did not produce. */
export class InvalidCursorError extends LifecycleError {
  override name = 'InvalidCursorError';
  constructor() {
    super('invalid_input', 'cursor is not one this service returned');
  }
}

/**
 * A write that had to store a row stored none, though everything it depends on was found and locked
 * (on Citus: the tenant's shard moved between the two statements). Nothing of it is acknowledged;
 * retrying the whole transaction is safe. Maps to HTTP 503 with `Retry-After`.
 */
export class WriteNotStoredError extends LifecycleError {
  override name = 'WriteNotStoredError';
  readonly retryAfterSeconds = 1;
  constructor(what: string) {
    super('not_stored', `${what} was not stored: retry the request`);
  }
}
