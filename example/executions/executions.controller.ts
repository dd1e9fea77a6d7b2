import { Body, Controller, Get, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { type ExecutionPage, ExecutionSnapshot, ExecutionsService } from '../../src';
import { ListExecutionsQuery, StartExecutionDto, UpdateExecutionDto } from './execution.dto';

/** Lifecycle errors map to HTTP by the module's interceptor: 404, 409 (stale version, illegal transition), 400. */
@Controller('executions')
export class ExecutionsController {
  constructor(private readonly executions: ExecutionsService) {}

  @Post()
  start(@Body() body: StartExecutionDto): Promise<ExecutionSnapshot> {
    return this.executions.start(body.flowVersionId, body.input ?? {});
  }

  @Get()
  list(@Query() query: ListExecutionsQuery): Promise<ExecutionPage> {
    return this.executions.list(query);
  }

  @Get(':id')
  get(@Param('id', new ParseUUIDPipe()) id: string): Promise<ExecutionSnapshot> {
    return this.executions.get(id);
  }

  @Patch(':id')
  update(@Param('id', new ParseUUIDPipe()) id: string, @Body() body: UpdateExecutionDto): Promise<ExecutionSnapshot> {
    return this.executions.update(id, { state: body.state, status: body.status }, body.expectedVersion);
  }
}
