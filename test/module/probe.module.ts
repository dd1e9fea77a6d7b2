import { BadRequestException, Controller, Get, type DynamicModule, Injectable, Module, Post, Query } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { delay, from, map, type Observable, switchMap } from 'rxjs';
import { DataSource, Repository } from 'typeorm';
import { AuditLog, DatabaseModule, type DatabaseModuleOptions, Flow, TenancyService } from '../../src';

export interface ConnectionFacts {
  pid: number;
  role: string;
  tenant: string;
  statementTimeout: string;
}

const FACTS_SQL = `SELECT pg_backend_pid() AS pid, current_user AS role,
  current_setting('app.current_tenant_id', true) AS tenant, current_setting('statement_timeout') AS "statementTimeout"`;

/** What a second, unrelated service sees: it must be the same connection as the first. */
@Injectable()
export class AuditProbeService {
  constructor(@InjectRepository(AuditLog) private readonly auditLogs: Repository<AuditLog>) {}
  facts(): Promise<ConnectionFacts[]> {
    return this.auditLogs.query(FACTS_SQL);
  }
}

@Controller('probe')
export class ProbeController {
  /** How many times a handler body ran: proves a refused request never reached it. */
  static handled = 0;
  /** The error the last /probe/write saw from its first query, if any. */
  static lastQueryError: string | undefined;

  constructor(
    @InjectRepository(Flow) private readonly flows: Repository<Flow>,
    private readonly auditProbe: AuditProbeService,
    private readonly tenancy: TenancyService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  @Get('facts')
  async facts(): Promise<{ flows: ConnectionFacts; audit: ConnectionFacts }> {
    ProbeController.handled++;
    const [[flows], [audit]] = await Promise.all([this.flows.query(FACTS_SQL), this.auditProbe.facts()]);
    return { flows, audit };
  }

  /** Writes a flow named `name`; then fails if `fail` is set, or swallows a failed statement if `swallow` is. */
  @Post('write')
  async write(@Query('name') name: string, @Query('fail') fail?: string, @Query('swallow') swallow?: string): Promise<Flow> {
    ProbeController.handled++;
    let flow: Flow;
    try {
      flow = await this.flows.save(this.flows.create({ tenantId: this.tenancy.currentTenantId(), name }));
    } catch (error) {
      // TypeORM wraps what the driver threw; the tenancy error is its driverError.
      ProbeController.lastQueryError = ((error as { driverError?: Error }).driverError ?? (error as Error)).name;
      throw error;
    }
    if (fail) throw new BadRequestException('handler failed after writing');
    if (swallow) await this.flows.query('SELECT 1/0').catch(() => undefined);
    return flow;
  }

  /** A first statement with a side effect that survives rollback (a sequence): proves whether it ran. */
  @Get('nextval')
  async nextval(): Promise<{ value: string }> {
    const [row] = await this.flows.query(`SELECT nextval('probe_calls') AS value`);
    return row;
  }

  /** Waits before its first query: the request must not hold a connection meanwhile. */
  @Get('slow-start')
  async slowStart(@Query('ms') ms: string): Promise<ConnectionFacts> {
    await new Promise((resolve) => setTimeout(resolve, Number(ms)));
    const [facts] = await this.flows.query(FACTS_SQL);
    return facts;
  }

  /** Holds its connection for `s` seconds (pg_sleep): for pool exhaustion and statement timeouts. */
  @Get('sleep')
  async sleep(@Query('s') seconds: string): Promise<{ slept: number }> {
    await this.flows.query('SELECT pg_sleep($1)', [Number(seconds)]);
    return { slept: Number(seconds) };
  }

  /** Queries, stays idle inside its transaction for `ms`, then queries again. */
  @Get('idle')
  async idle(@Query('ms') ms: string): Promise<ConnectionFacts> {
    await this.flows.query('SELECT 1');
    await new Promise((resolve) => setTimeout(resolve, Number(ms)));
    const [facts] = await this.flows.query(FACTS_SQL);
    return facts;
  }

  /** An observable handler: the transaction must stay open until it completes. */
  @Get('observable')
  observable(): Observable<{ count: number; facts: ConnectionFacts }> {
    return from(this.flows.count()).pipe(
      delay(20),
      switchMap((count) => from(this.flows.query(FACTS_SQL)).pipe(map(([facts]) => ({ count, facts })))),
    );
  }

  /** Unscoped connection facts, from the pool directly, outside any tenant transaction. */
  static async poolFacts(dataSource: DataSource): Promise<ConnectionFacts & { inTransaction: boolean }> {
    const [row] = await dataSource.query(`${FACTS_SQL},
      (SELECT xact_start IS DISTINCT FROM query_start FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS "inTransaction"`);
    return row;
  }
}

@Module({})
export class ProbeModule {
  static register(options: DatabaseModuleOptions): DynamicModule {
    return {
      module: ProbeModule,
      imports: [DatabaseModule.forRoot({ globalInterceptor: true, readEnvironment: false, useDatabase: true, ...options })],
      controllers: [ProbeController],
      providers: [AuditProbeService],
    };
  }
}
