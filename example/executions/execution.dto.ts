import { Type } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, IsString, IsUUID, Max, Min } from 'class-validator';
import type { ExecutionStatus } from '../../src';

const STATUSES: ExecutionStatus[] = ['pending', 'running', 'paused', 'completed', 'failed', 'cancelled'];

export class StartExecutionDto {
  @IsUUID()
  flowVersionId!: string;

  @IsOptional()
  @IsObject()
  input?: Record<string, unknown>;
}

export class UpdateExecutionDto {
  @IsOptional()
  @IsObject()
  state?: Record<string, unknown>;

  @IsOptional()
  @IsIn(STATUSES)
  status?: ExecutionStatus;

  @IsInt()
  @Min(1)
  expectedVersion!: number;
}

export class ListExecutionsQuery {
  @IsOptional()
  @IsIn(STATUSES)
  status?: ExecutionStatus;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @IsOptional()
  @IsString()
  cursor?: string;
}
