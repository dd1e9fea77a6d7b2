import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { QueryFailedError, Repository } from 'typeorm';
import { Flow, FlowVersion, FlowVersionsService, TenancyService } from '../../src';
import { AuditService } from '../audit/audit.service';
import type { CreateFlowDto } from './flow.dto';

@Injectable()
export class FlowsService {
  constructor(
    @InjectRepository(Flow) private readonly flows: Repository<Flow>,
    @InjectRepository(FlowVersion) private readonly versionsRepo: Repository<FlowVersion>,
    private readonly flowVersions: FlowVersionsService,
    private readonly tenancy: TenancyService,
    private readonly audit: AuditService,
  ) {}

  list(): Promise<Flow[]> {
    return this.flows.find({ order: { createdAt: 'ASC' } });
  }

  async get(id: string): Promise<Flow> {
    const flow = await this.flows.findOneBy({ id });
    if (!flow) throw new NotFoundException('flow not found');
    return flow;
  }

  async create(body: CreateFlowDto): Promise<Flow> {
    let flow: Flow;
    try {
      // The tenant id comes from the context, never from the body.
      flow = await this.flows.save(
        this.flows.create({ tenantId: this.tenancy.currentTenantId(), name: body.name.trim(), description: body.description ?? null }),
      );
    } catch (error) {
      if (isUniqueViolation(error, 'UQ_flows_tenant_name')) throw new ConflictException('a flow with this name already exists');
      throw error;
    }
    await this.audit.record('flow.created', { type: 'flow', id: flow.id }, { name: flow.name });
    return flow;
  }

  /** Publishes through the module's FlowVersionsService: gap-free numbers, deduplicated, audited. */
  async publish(flowId: string, definition: Record<string, unknown>): Promise<FlowVersion> {
    return (await this.flowVersions.publish(flowId, definition)).version;
  }

  async versions(flowId: string): Promise<FlowVersion[]> {
    await this.get(flowId);
    return this.versionsRepo.find({ where: { flowId }, order: { version: 'ASC' } });
  }
}

/**
 * On a Citus coordinator the violation happens on a worker's shard and comes back relayed: SQLSTATE
 * and message kept, but no constraint field, and the message names the shard's copy of the
 * constraint (`"UQ_flows_tenant_name_102008"`).
 */
function isUniqueViolation(error: unknown, constraint: string): boolean {
  const driverError = (error as QueryFailedError & { driverError?: { code?: string; constraint?: string; message?: string } }).driverError;
  if (!(error instanceof QueryFailedError) || driverError?.code !== '23505') return false;
  if (driverError.constraint !== undefined) return driverError.constraint === constraint;
  return new RegExp(`unique constraint "${constraint}(_\\d+)?"`).test(driverError.message ?? '');
}
