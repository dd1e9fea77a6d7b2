import { Injectable } from '@nestjs/common';
import { AuditTrail } from '../../src';

/** The example's writes are audited through the module's AuditTrail, in the same transaction. */
@Injectable()
export class AuditService {
  constructor(private readonly trail: AuditTrail) {}

  record(action: string, target: { type: string; id: string }, details: Record<string, unknown> = {}): Promise<void> {
    return this.trail.record({ action, targetType: target.type, targetId: target.id, details });
  }
}
