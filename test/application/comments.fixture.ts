// An application's own tenant-scoped table, written as the README tells a user to: an entity, a
// migration made with tenantTable(), a service that never mentions a tenant id.
import { Body, Controller, Get, type DynamicModule, Injectable, Module, Post } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { Column, CreateDateColumn, DataSource, Entity, type MigrationInterface, PrimaryColumn, PrimaryGeneratedColumn, type QueryRunner, Repository } from 'typeorm';
import { DatabaseModule, type DatabaseModuleOptions, Flow, tenantTable } from '../../src';

@Entity({ name: 'comments' })
export class Comment {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'text' })
  body!: string;

  /** The flow it is about, if any: a foreign key to a library table, within the tenant. */
  @Column({ name: 'flow_id', type: 'uuid', nullable: true })
  flowId!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

export class CreateComments1800000000000 implements MigrationInterface {
  name = 'CreateComments1800000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE comments (
        id          uuid        NOT NULL DEFAULT gen_random_uuid(),
        tenant_id   uuid        NOT NULL,
        body        text        NOT NULL,
        flow_id     uuid,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "PK_comments" PRIMARY KEY (tenant_id, id)
      )`);
    // The key to a library table is given to tenantTable(), which adds it where every backend takes it.
    await tenantTable(queryRunner, 'comments', {
      foreignKeys: [`CONSTRAINT "FK_comments_flow" FOREIGN KEY (tenant_id, flow_id) REFERENCES flows (tenant_id, id)`],
    });
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE comments`);
  }
}

@Injectable()
export class CommentsService {
  constructor(
    @InjectRepository(Comment) private readonly comments: Repository<Comment>,
    @InjectRepository(Flow) private readonly flows: Repository<Flow>,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  add(body: string, tenantId?: string, flowId?: string): Promise<Comment> {
    return this.comments.save(this.comments.create({ body, tenantId, flowId: flowId ?? null }));
  }

  list(): Promise<Comment[]> {
    return this.comments.find({ order: { createdAt: 'ASC' } });
  }

  /** A query on the tenant's connection, then one on the pool beside it: the trap of a pool of one. */
  async flowsThenPool(): Promise<number> {
    await this.flows.count();
    const [row] = await this.dataSource.query('SELECT 1 AS one');
    return row.one;
  }
}

@Controller('comments')
export class CommentsController {
  constructor(private readonly comments: CommentsService) {}

  @Post()
  add(@Body() body: { body: string; tenantId?: string; flowId?: string }): Promise<Comment> {
    return this.comments.add(body.body, body.tenantId, body.flowId);
  }

  @Get()
  list(): Promise<Comment[]> {
    return this.comments.list();
  }

  @Get('flows-then-pool')
  async flowsThenPool(): Promise<{ one: number }> {
    return { one: await this.comments.flowsThenPool() };
  }
}

@Module({ imports: [DatabaseModule.forFeature([Comment])], controllers: [CommentsController], providers: [CommentsService] })
export class CommentsModule {}

/** The application: the library's module with the app's entity and migration, and the feature. */
export function commentsApp(options: DatabaseModuleOptions): DynamicModule {
  return {
    module: class CommentsAppModule {},
    imports: [
      DatabaseModule.forRoot({
        globalInterceptor: true,
        readEnvironment: false,
        entities: [Comment],
        migrations: [CreateComments1800000000000],
        ...options,
      }),
      CommentsModule,
    ],
  };
}
