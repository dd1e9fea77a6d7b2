import { Body, Controller, Get, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { Flow, FlowVersion } from '../../src';
import { CreateFlowDto, CreateFlowVersionDto } from './flow.dto';
import { FlowsService } from './flows.service';

@Controller('flows')
export class FlowsController {
  constructor(private readonly flows: FlowsService) {}

  @Get()
  list(): Promise<Flow[]> {
    return this.flows.list();
  }

  @Post()
  create(@Body() body: CreateFlowDto): Promise<Flow> {
    return this.flows.create(body);
  }

  @Get(':id')
  get(@Param('id', new ParseUUIDPipe()) id: string): Promise<Flow> {
    return this.flows.get(id);
  }

  @Post(':id/versions')
  addVersion(@Param('id', new ParseUUIDPipe()) id: string, @Body() body: CreateFlowVersionDto): Promise<FlowVersion> {
    return this.flows.publish(id, body.definition);
  }

  @Post(':id/publish')
  publish(@Param('id', new ParseUUIDPipe()) id: string, @Body() body: CreateFlowVersionDto): Promise<FlowVersion> {
    return this.flows.publish(id, body.definition);
  }

  @Get(':id/versions')
  versions(@Param('id', new ParseUUIDPipe()) id: string): Promise<FlowVersion[]> {
    return this.flows.versions(id);
  }
}
