// Why this room is larger than the others: it holds one class per migration, and a migration, once
// released, is never edited, merged or split (a database records each by name), so the room grows
// by one file with every change of the schema. Beside them are only what running them needs: the
// data source options, the advisory lock, the owner check and the bounded waits.
import { CreateTenants1795478400001 } from './1795478400001-CreateTenants';
import { CreateFlows1795478400002 } from './1795478400002-CreateFlows';
import { CreateFlowVersions1795478400003 } from './1795478400003-CreateFlowVersions';
import { CreateExecutionSnapshots1795478400004 } from './1795478400004-CreateExecutionSnapshots';
import { CreateExecutionHistory1795478400005 } from './1795478400005-CreateExecutionHistory';
import { CreateAuditLogs1795478400006 } from './1795478400006-CreateAuditLogs';
import { CreateHistoryPartitionFunctions1795478400007 } from './1795478400007-CreateHistoryPartitionFunctions';
import { CreateTenantCheckFunction1795478400008 } from './1795478400008-CreateTenantCheckFunction';
import { DistributeOnCitus1795478400009 } from './1795478400009-DistributeOnCitus';
import { CreateSessionGuardFunction1795478400010 } from './1795478400010-CreateSessionGuardFunction';
import { CloseSystemAuditChain1795478400011 } from './1795478400011-CloseSystemAuditChain';
import { HardenAuditChain1795478400012 } from './1795478400012-HardenAuditChain';
import { KeepFlowHistory1795478400013 } from './1795478400013-KeepFlowHistory';
import { MoveDefaultHistoryRows1795478400014 } from './1795478400014-MoveDefaultHistoryRows';
import { DistributeApplicationTables1795478400015 } from './1795478400015-DistributeApplicationTables';
import { AttachHistoryPartitionsBeforeMoving1795478400016 } from './1795478400016-AttachHistoryPartitionsBeforeMoving';

/** Every migration of the schema, in the order it must run. An explicit list: globs break once packed into `dist/`. */
export const DATABASE_MIGRATIONS = [
  CreateTenants1795478400001,
  CreateFlows1795478400002,
  CreateFlowVersions1795478400003,
  CreateExecutionSnapshots1795478400004,
  CreateExecutionHistory1795478400005,
  CreateAuditLogs1795478400006,
  CreateHistoryPartitionFunctions1795478400007,
  CreateTenantCheckFunction1795478400008,
  DistributeOnCitus1795478400009,
  CreateSessionGuardFunction1795478400010,
  CloseSystemAuditChain1795478400011,
  HardenAuditChain1795478400012,
  KeepFlowHistory1795478400013,
  MoveDefaultHistoryRows1795478400014,
  DistributeApplicationTables1795478400015,
  AttachHistoryPartitionsBeforeMoving1795478400016,
];
