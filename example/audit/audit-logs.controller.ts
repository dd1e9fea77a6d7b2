import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { type AuditChainVerification, type AuditDigest, AuditLog, AuditTrail } from '../../src';

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

  /** Recomputes the tenant's hash chain: `{ ok: true, digest }` or the first entry where it breaks. */
  @Get('verify')
  verify(): Promise<AuditChainVerification> {
    return this.audit.verifyChain();
  }

  /** Where the tenant's chain stands now: keep it outside the database, and verify against it later. */
  @Get('digest')
  digest(): Promise<AuditDigest> {
    return this.audit.digest();
  }

  /** Verifies the chain and that it still extends the digest(s) in the body (`{ digest }`). */
  @Post('verify')
  @HttpCode(200)
  verifyAgainst(@Body() body: { digest?: AuditDigest | AuditDigest[] }): Promise<AuditChainVerification> {
    return this.audit.verifyChain({ digest: body?.digest });
  }
}
