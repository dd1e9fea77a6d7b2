import {
  BadRequestException,
  type CallHandler,
  ConflictException,
  type ExecutionContext,
  ForbiddenException,
  HttpException,
  Inject,
  Injectable,
  type NestInterceptor,
  NotFoundException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, from, lastValueFrom, mergeMap, type Observable, switchMap, throwError, toArray } from 'rxjs';
import type { DatabaseModuleOptions } from '../database-module-options';
import { LifecycleError } from '../lifecycle/lifecycle.errors';
import { DATABASE_MODULE_OPTIONS } from '../database.internal-constants';
import { toUnavailableError } from './database-unavailable';
import { parseTenantId } from './tenant-id';
import { DatabaseUnavailableError, InvalidTenantIdError, TenancyError, TenantMismatchError, TenantNotFoundError } from './tenancy.errors';
import { TenancyService } from './tenancy.service';
import { WITHOUT_TENANT } from './without-tenant.decorator';

const DEFAULT_TENANT_HEADER = 'x-tenant-id';
const LIFECYCLE_STATUS = {
  not_found: NotFoundException,
  version_conflict: ConflictException,
  illegal_transition: ConflictException,
  invalid_input: BadRequestException,
} as const;
/** SQLSTATE of a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';

/**
 * Runs each request's handler inside its tenant's transaction. The tenant id is checked before
 * anything else, the transaction begins at the handler's first query, and it commits when the
 * handler's observable completes (the response waits for the commit) or rolls back on any error.
 */
@Injectable()
export class TenantContextInterceptor implements NestInterceptor {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly reflector: Reflector,
    @Inject(DATABASE_MODULE_OPTIONS) private readonly options: DatabaseModuleOptions,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.reflector.getAllAndOverride<boolean>(WITHOUT_TENANT, [context.getHandler(), context.getClass()])) {
      // No tenant transaction, but the handler's own (runAsSystem, runInTenant) fail the same ways:
      // a database that cannot serve is a 503 here too, not a 500.
      return next.handle().pipe(catchError((error: unknown) => throwError(() => toHttpException(error))));
    }
    return from(Promise.all([this.resolveTenantId(context), this.options.resolveActor?.(context)])).pipe(
      switchMap(([tenantId, actor]) =>
        this.tenancy.runInScope(
          { kind: 'tenant', tenantId },
          () => lastValueFrom(next.handle().pipe(toArray()), { defaultValue: [] as unknown[] }),
          actor ?? undefined,
        ),
      ),
      mergeMap((values) => from(values)),
      catchError((error: unknown) => throwError(() => toHttpException(error))),
    );
  }

  private async resolveTenantId(context: ExecutionContext): Promise<string> {
    const header = this.options.tenantHeader ?? DEFAULT_TENANT_HEADER;
    const source = this.options.resolveTenant ? 'tenant id' : `${header} header`;
    const value = this.options.resolveTenant
      ? await this.options.resolveTenant(context)
      : context.switchToHttp().getRequest<{ headers?: Record<string, unknown> }>()?.headers?.[header.toLowerCase()];
    if (value === undefined || value === null || value === '') {
      const message = `${source} is required`;
      throw this.options.missingTenantStatus === 401 ? new UnauthorizedException(message) : new BadRequestException(message);
    }
    return parseTenantId(value, source);
  }
}

function toHttpException(error: unknown): unknown {
  if (error instanceof HttpException) return error;
  // TypeORM wraps whatever the driver threw, our own errors from the first query included.
  const driverError = (error as { driverError?: unknown }).driverError;
  if (driverError instanceof TenancyError) return toHttpException(driverError);
  if (error instanceof InvalidTenantIdError) return new BadRequestException(error.message);
  if (error instanceof TenantNotFoundError) return new ForbiddenException(error.message);
  if (error instanceof TenantMismatchError) return new ForbiddenException(error.message);
  if (error instanceof DatabaseUnavailableError) return new ServiceUnavailableException(error.message);
  if (error instanceof LifecycleError) return new LIFECYCLE_STATUS[error.code](error.message);
  if ((error as { driverError?: { code?: string } }).driverError?.code === QUERY_CANCELED) {
    return new ServiceUnavailableException('database query timed out and was cancelled');
  }
  // A statement that failed because the connection died (server restart, idle timeout) is the
  // database being unavailable, not a bug of the request.
  const unavailable = toUnavailableError(error);
  if (unavailable) return new ServiceUnavailableException(unavailable.message);
  return error;
}
