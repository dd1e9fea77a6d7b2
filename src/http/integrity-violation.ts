import { BadRequestException, ConflictException, type HttpException } from '@nestjs/common';

/** The fields of a PostgreSQL error that name the rule a statement broke. */
interface ServerError {
  code?: string;
  constraint?: string;
  column?: string;
  table?: string;
  message?: string;
}

/** Unique, foreign key (a missing or a still-referenced row), restrict and exclusion violations. */
const CONFLICTS = new Set(['23505', '23503', '23001', '23P01']);
/** NOT NULL and CHECK violations: the request's values, not the stored data, are at fault. */
const INVALID = new Set(['23502', '23514']);

/**
 * The HTTP answer to a statement that broke an integrity rule of the schema, the application's
 * tables included: 409 where it conflicts with stored data, 400 where its own values are invalid;
 * undefined for any other error. A handler that catches the violation itself (a 409 of its own
 * words, say) is answered as it decides: this is only what an uncaught one becomes, instead of 500.
 *
 * The message names the constraint (or the column) and never the values: PostgreSQL's detail
 * (`Key (tenant_id, flow_id)=(…) is not present`) would echo them. On Citus the error is relayed
 * from a shard without its constraint field, and the message names the shard's copy of it
 * (`"FK_comments_flow_102040"`): the shard suffix is dropped.
 */
export function integrityViolationResponse(error: unknown): HttpException | undefined {
  const candidate = error as (ServerError & { driverError?: ServerError }) | null | undefined;
  const server = candidate?.driverError ?? candidate;
  const code = server?.code;
  if (!code || (!CONFLICTS.has(code) && !INVALID.has(code))) return undefined;
  const rule = ruleOf(server!);
  if (INVALID.has(code)) return new BadRequestException(`invalid value: the request breaks ${rule}`);
  return new ConflictException(`conflict with the stored data: the request breaks ${rule}`);
}

function ruleOf(server: ServerError): string {
  if (server.code === '23502') return server.column ? `NOT NULL on column "${server.column}"` : 'a NOT NULL constraint';
  if (server.constraint) return `constraint "${server.constraint}"`;
  const relayed = /constraint "([^"]+?)(?:_\d+)?"/.exec(server.message ?? '');
  return relayed ? `constraint "${relayed[1]}"` : 'a constraint of the schema';
}
