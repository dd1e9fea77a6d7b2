import { IsNotEmptyObject, IsObject, IsOptional, IsString, Length, MaxLength } from 'class-validator';

export class CreateFlowDto {
  @IsString()
  @Length(1, 200)
  name!: string;

  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string;
}

export class CreateFlowVersionDto {
  @IsObject()
  @IsNotEmptyObject()
  definition!: Record<string, unknown>;
}
