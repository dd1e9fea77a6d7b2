import { createHash } from 'node:crypto';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { QueryFailedError, Repository } from 'typeorm';
import { Flow, FlowVersion, TenancyService } from '../../src';
import { AuditService } from '../audit/audit.service';
import type { CreateFlowDto } from './flow.dto';

@Injectable()
export class FlowsService {
  constructor(
    @InjectRepository(Flow) private readonly flows: Repository<Flow>,
    @InjectRepository(FlowVersion) private readonly versionsRepo: Repository<FlowVersion>,
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

  async addVersion(flowId: string, definition: Record<string, unknown>): Promise<FlowVersion> {
    // Locking the flow row serialises concurrent publishes of one flow: numbers stay gap-free.
    const flow = await this.flows.findOne({ where: { id: flowId }, lock: { mode: 'pessimistic_write' } });
    if (!flow) throw new NotFoundException('flow not found');
    const latest = await this.versionsRepo.findOne({ where: { flowId }, order: { version: 'DESC' } });
    const version = await this.versionsRepo.save(
      this.versionsRepo.create({
        tenantId: flow.tenantId,
        flowId,
        version: (latest?.version ?? 0) + 1,
        definition,
        contentHash: createHash('sha256').update(JSON.stringify(definition)).digest('hex'),
      }),
    );
    await this.flows.update({ id: flowId }, { currentVersionId: version.id });
    await this.audit.record('flow.version_created', { type: 'flow', id: flowId }, { version: version.version });
    return version;
  }

  async versions(flowId: string): Promise<FlowVersion[]> {
    await this.get(flowId);
    return this.versionsRepo.find({ where: { flowId }, order: { version: 'ASC' } });
  }
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const driverError = (error as QueryFailedError & { driverError?: { code?: string; constraint?: string } }).driverError;
  return error instanceof QueryFailedError && driverError?.code === '23505' && driverError.constraint === constraint;
}
