import { AuditLog } from './audit-log.entity';
import { ExecutionHistory } from './execution-history.entity';
import { ExecutionSnapshot } from './execution-snapshot.entity';
import { Flow } from './flow.entity';
import { FlowVersion } from './flow-version.entity';
import { Tenant } from './tenant.entity';

export { AuditLog, ExecutionHistory, ExecutionSnapshot, Flow, FlowVersion, Tenant };
export type { TenantStatus } from './tenant.entity';
export type { ExecutionStatus, FinishedExecutionStatus } from './execution-snapshot.entity';

/** Every entity of the schema. An explicit list: globs break once packed into `dist/`. */
export const DATABASE_ENTITIES = [Tenant, Flow, FlowVersion, ExecutionSnapshot, ExecutionHistory, AuditLog];

/** The tables of {@link DATABASE_ENTITIES}, as the migrations create them. */
export const DATABASE_TABLES = ['tenants', 'flows', 'flow_versions', 'execution_snapshots', 'execution_history', 'audit_logs'];
