import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AuditLog, TenancyService } from '../../src';

/** Appends audit entries in the caller's transaction: they commit or roll back with its writes. */
@Injectable()
export class AuditService {
  constructor(
    @InjectRepository(AuditLog) private readonly auditLogs: Repository<AuditLog>,
    private readonly tenancy: TenancyService,
  ) {}

  async record(action: string, target: { type: string; id: string }, details: Record<string, unknown> = {}): Promise<void> {
    const entry = this.auditLogs.create({
      tenantId: this.tenancy.currentTenantId() ?? null,
      actor: 'api',
      action,
      targetType: target.type,
      targetId: target.id,
      details,
    });
    await this.auditLogs.save(entry, { reload: false });
  }
}
