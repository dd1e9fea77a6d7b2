import { Injectable } from '@nestjs/common';
import { TenancyService } from '../tenant-context/tenancy.service';
import { TenantContext } from '../tenant-context/tenant-context';

/**
 * Monthly partitions of `execution_history`: created ahead so archived rows land in their own
 * month, and dropped whole for retention (no mass DELETE, no table bloat). Both run on the system
 * path through SECURITY DEFINER functions; the application roles hold no DDL rights.
 */
@Injectable()
export class HistoryPartitionsService {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly context: TenantContext,
  ) {}

  /** Creates the partitions of this month and the next `monthsAhead`; returns those created now. */
  createPartitionsAhead(monthsAhead = 3): Promise<string[]> {
    return this.callSystemFunction('SELECT fdl_create_history_partitions($1) AS name', [monthsAhead]);
  }

  /**
   * Drops the monthly partitions that hold only executions completed more than `months` whole
   * months before the current month. Rows in the default partition are left alone.
   */
  dropHistoryOlderThan(months: number): Promise<string[]> {
    if (!Number.isInteger(months) || months < 0) {
      throw new RangeError(`months must be a whole number of at least 0, got ${months}`);
    }
    return this.callSystemFunction(
      `SELECT fdl_drop_history_partitions_before(
         (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => $1)) AT TIME ZONE 'UTC') AS name`,
      [months],
    );
  }

  private callSystemFunction(sql: string, params: unknown[]): Promise<string[]> {
    return this.tenancy.runAsSystem(async () => {
      const rows: { name: string }[] = await this.context.require('HistoryPartitionsService').manager.query(sql, params);
      return rows.map((row) => row.name);
    });
  }
}
