import {
  BadRequestException,
  type CallHandler,
  ConflictException,
  type ExecutionContext,
  ForbiddenException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  type NestInterceptor,
  NotFoundException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, Observable, throwError } from 'rxjs';
import { integrityViolationResponse } from './integrity-violation';
import type { DatabaseModuleOptions } from '../config/database-module-options';
import { LifecycleError } from '../lifecycle/lifecycle.errors';
import { DATABASE_MODULE_OPTIONS } from '../config/database.internal-constants';
import { toUnavailableError } from '../cluster/database-unavailable';
import { parseTenantId } from '../tenancy/tenant-id';
import { AuditDigestError } from '../audit/audit-digest';
import {
  DatabaseUnavailableError,
  EntityNotStoredError,
  InvalidActorError,
  InvalidTenantIdError,
  TenancyError,
  TenantMismatchError,
  TenantNotFoundError,
  TenantThrottledError,
} from '../tenancy/tenancy.errors';
import { TenancyService } from '../tenant-context/tenancy.service';
import { WITHOUT_TENANT } from '../tenant-context/without-tenant.decorator';

const DEFAULT_TENANT_HEADER = 'x-tenant-id';
const LIFECYCLE_STATUS = {
  not_found: NotFoundException,
  version_conflict: ConflictException,
  illegal_transition: ConflictException,
  invalid_input: BadRequestException,
  not_stored: ServiceUnavailableException,
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
  /** Whether a handler (of a controller) is marked @WithoutTenant(): static, so looked up once. */
  private readonly unscoped = new WeakMap<object, WeakMap<object, boolean>>();
  /** Node's request headers are keyed in lower case. */
  private readonly header: string;
  /** Where the tenant id comes from, as errors name it. */
  private readonly source: string;

  constructor(
    private readonly tenancy: TenancyService,
    private readonly reflector: Reflector,
    @Inject(DATABASE_MODULE_OPTIONS) private readonly options: DatabaseModuleOptions,
  ) {
    const header = options.tenantHeader ?? DEFAULT_TENANT_HEADER;
    this.header = header.toLowerCase();
    this.source = options.resolveTenant ? 'tenant id' : `${header} header`;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.isUnscoped(context)) {
      // No tenant transaction, but the handler's own (runAsSystem, runInTenant) fail the same ways:
      // a database that cannot serve is a 503 here too, not a 500.
      return next.handle().pipe(catchError((error: unknown) => throwError(() => toHttpResponse(context, error))));
    }
    // One observable and two promises per request instead of an operator chain: the transaction
    // holds the handler's values until it has committed, then they are emitted.
    return new Observable((subscriber) => {
      this.handleInTenant(context, next).then(
        (values) => {
          for (const value of values) subscriber.next(value);
          subscriber.complete();
        },
        (error: unknown) => subscriber.error(toHttpResponse(context, error)),
      );
    });
  }

  private async handleInTenant(context: ExecutionContext, next: CallHandler): Promise<unknown[]> {
    const { resolveTenant, resolveActor } = this.options;
    // The usual case, the tenant from a header and no actor, reads it synchronously: no promises of its own.
    const [tenantId, actor] =
      resolveTenant || resolveActor ? await Promise.all([this.resolveTenantId(context), resolveActor?.(context)]) : [this.tenantIdOf(this.headerValue(context))];
    return this.tenancy.runInScope({ kind: 'tenant', tenantId }, () => valuesOf(next.handle()), actor ?? undefined);
  }

  private isUnscoped(context: ExecutionContext): boolean {
    const controller = context.getClass();
    const handler = context.getHandler();
    let handlers = this.unscoped.get(controller);
    if (!handlers) this.unscoped.set(controller, (handlers = new WeakMap()));
    let unscoped = handlers.get(handler);
    if (unscoped === undefined) {
      unscoped = Boolean(this.reflector.getAllAndOverride<boolean>(WITHOUT_TENANT, [handler, controller]));
      handlers.set(handler, unscoped);
    }
    return unscoped;
  }

  private async resolveTenantId(context: ExecutionContext): Promise<string> {
    return this.tenantIdOf(this.options.resolveTenant ? await this.options.resolveTenant(context) : this.headerValue(context));
  }

  private headerValue(context: ExecutionContext): unknown {
    return context.switchToHttp().getRequest<{ headers?: Record<string, unknown> }>()?.headers?.[this.header];
  }

  /** `value` as a canonical tenant id; 400 (or 401) naming where it came from when missing or malformed. */
  private tenantIdOf(value: unknown): string {
    if (value === undefined || value === null || value === '') {
      const message = `${this.source} is required`;
      throw this.options.missingTenantStatus === 401 ? new UnauthorizedException(message) : new BadRequestException(message);
    }
    return parseTenantId(value, this.source);
  }
}

/** Every value `observable` emits, once it completes; rejects with its error. */
function valuesOf(observable: Observable<unknown>): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const values: unknown[] = [];
    observable.subscribe({ next: (value) => values.push(value), error: reject, complete: () => resolve(values) });
  });
}

/** The HTTP answer to `error`, with `Retry-After` set on the response where the module knows when. */
function toHttpResponse(context: ExecutionContext, error: unknown): unknown {
  // A server's own error may say when, too: a transaction it asks to run again (cluster/transient-failure.ts).
  const retryAfter = retryAfterOf(error) ?? toUnavailableError(error)?.retryAfterSeconds;
  if (retryAfter !== undefined) {
    const response = context.switchToHttp().getResponse<{ setHeader?(name: string, value: string): void; header?(name: string, value: string): void }>();
    // Express (setHeader) and Fastify (header) alike.
    if (typeof response?.setHeader === 'function') response.setHeader('Retry-After', String(retryAfter));
    else if (typeof response?.header === 'function') response.header('Retry-After', String(retryAfter));
  }
  return toHttpException(error);
}

/** The module's own errors that know when to try again carry `retryAfterSeconds` (TypeORM may wrap them). */
function retryAfterOf(error: unknown): number | undefined {
  for (const candidate of [error, (error as { driverError?: unknown } | undefined)?.driverError]) {
    if (candidate instanceof TenancyError || candidate instanceof LifecycleError) {
      const seconds = (candidate as { retryAfterSeconds?: unknown }).retryAfterSeconds;
      if (typeof seconds === 'number') return seconds;
    }
  }
  return undefined;
}

function toHttpException(error: unknown): unknown {
  if (error instanceof HttpException) return error;
  // TypeORM wraps whatever the driver threw, our own errors from the first query included.
  const driverError = (error as { driverError?: unknown }).driverError;
  if (driverError instanceof TenancyError) return toHttpException(driverError);
  if (error instanceof InvalidTenantIdError || error instanceof InvalidActorError || error instanceof AuditDigestError) return new BadRequestException(error.message);
  if (error instanceof TenantNotFoundError) return new ForbiddenException(error.message);
  if (error instanceof TenantMismatchError) return new ForbiddenException(error.message);
  if (error instanceof EntityNotStoredError) return new ConflictException(error.message);
  if (error instanceof DatabaseUnavailableError) return new ServiceUnavailableException(error.message);
  if (error instanceof TenantThrottledError) return new HttpException(error.message, HttpStatus.TOO_MANY_REQUESTS);
  if (error instanceof LifecycleError) return new LIFECYCLE_STATUS[error.code](error.message);
  if ((error as { driverError?: { code?: string } }).driverError?.code === QUERY_CANCELED) {
    return new ServiceUnavailableException('database query timed out and was cancelled');
  }
  // A statement that failed because the connection died (server restart, idle timeout) is the
  // database being unavailable, not a bug of the request.
  const unavailable = toUnavailableError(error);
  if (unavailable) return new ServiceUnavailableException(unavailable.message);
  return integrityViolationResponse(error) ?? error;
}
