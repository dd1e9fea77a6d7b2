import { tenantTable } from 'fdl-runtime-db';
import type { MigrationInterface, QueryRunner } from 'typeorm';

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
    // A key to a library table goes to tenantTable(), which adds it where every backend (Citus too) takes it.
    await tenantTable(queryRunner, 'comments', {
      foreignKeys: [`CONSTRAINT "FK_comments_flow" FOREIGN KEY (tenant_id, flow_id) REFERENCES flows (tenant_id, id)`],
    });
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE comments`);
  }
}
