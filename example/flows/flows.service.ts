import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Flow, FlowVersion, FlowVersionsService, isUniqueViolation, TenancyService } from '../../src';
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

