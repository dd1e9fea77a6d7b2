import type { ExecutionStatus, FinishedExecutionStatus } from '../entities';

/**
 * The status graph. The database enforces the same graph in `execution_snapshots_check_update()`;
 * this copy lets the services refuse an illegal change without a round trip to learn why.
 */
export const ALLOWED_TRANSITIONS: Readonly<Record<ExecutionStatus, readonly ExecutionStatus[]>> = {
  pending: ['pending', 'running', 'failed', 'cancelled'],
  running: ['running', 'paused', 'completed', 'failed', 'cancelled'],
  paused: ['paused', 'running', 'failed', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
};

export const FINISHED_STATUSES: readonly FinishedExecutionStatus[] = ['completed', 'failed', 'cancelled'];

export const isFinished = (status: ExecutionStatus): status is FinishedExecutionStatus =>
  (FINISHED_STATUSES as readonly string[]).includes(status);

/** The statuses from which `to` may be reached. */
export function statusesLeadingTo(to: ExecutionStatus): ExecutionStatus[] {
  return (Object.keys(ALLOWED_TRANSITIONS) as ExecutionStatus[]).filter((from) => ALLOWED_TRANSITIONS[from].includes(to));
}
