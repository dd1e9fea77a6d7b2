import { Controller, Get } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { type AuditChainVerification, AuditLog, AuditTrail } from '../../src';

@Controller('audit-logs')
export class AuditLogsController {
  constructor(
    @InjectRepository(AuditLog) private readonly auditLogs: Repository<AuditLog>,
    private readonly audit: AuditTrail,
  ) {}

  @Get()
  list(): Promise<AuditLog[]> {
    return this.auditLogs.find({ order: { chainPosition: 'DESC' }, take: 100 });
  }

  /** Recomputes the tenant's hash chain: `{ ok: true }` or the first entry where it breaks. */
  @Get('verify')
  verify(): Promise<AuditChainVerification> {
    return this.audit.verifyChain();
  }
}
