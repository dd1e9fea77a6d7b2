import { Controller, Get } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AuditLog } from '../../src';

@Controller('audit-logs')
export class AuditLogsController {
  constructor(@InjectRepository(AuditLog) private readonly auditLogs: Repository<AuditLog>) {}

  @Get()
  list(): Promise<AuditLog[]> {
    return this.auditLogs.find({ order: { createdAt: 'DESC' }, take: 100 });
  }
}
