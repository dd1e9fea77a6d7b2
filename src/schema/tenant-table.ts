import type { QueryRunner } from 'typeorm';
import { TENANT_COLUMN } from '../tenancy/tenant-column';
import { crossTenantKeys } from './cross-tenant-keys';
import { tenantPolicyExpression } from '../tenancy/tenant-policy';

/** What `fdl_app` (a tenant's request) may do to a table. */
export type TenantTablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/** Options of {@link tenantTable}. */
export interface TenantTableOptions {
  /**
   * What a tenant's requests (role `fdl_app`) may do; the system role always gets all four.
   * Default: `['SELECT', 'INSERT', 'UPDATE', 'DELETE']`.
   */
  privileges?: TenantTablePrivilege[];
  /**
   * The table's foreign keys to other tenant tables (the library's or yours), as table constraints:
   * `CONSTRAINT "FK_comments_flow" FOREIGN KEY (tenant_id, flow_id) REFERENCES flows (tenant_id, id)`.
   * They are added last, once the table is isolated and, on Citus, distributed: Citus refuses a
   * foreign key from a table that is not distributed yet to one that is, so a key declared in the
   * `CREATE TABLE` fails the migration there. Declared here, the same migration runs on every
   * backend. Each must pair `tenant_id` on both sides, like any key of a tenant table.
   */
  foreignKeys?: string[];
}

/** A table constraint that is a foreign key, and one statement. */
const FOREIGN_KEY_CONSTRAINT = /^\s*(CONSTRAINT\s+("[^"]+"|[a-z_][a-z0-9_]*)\s+)?FOREIGN\s+KEY\s*\([^;]*$/i;

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Makes an application's table tenant-isolated like the library's own, inside a migration, after
 * its `CREATE TABLE`, which must have a `tenant_id uuid NOT NULL` column and a primary key that
 * includes it, as the library's tables do (`PRIMARY KEY (tenant_id, id)`): other tables then
 * reference a row by `(tenant_id, id)` (a foreign-key check bypasses RLS; only a composite
 * reference makes pointing at another tenant's row impossible), and Citus, which shards by
 * `tenant_id`, accepts the table. For the same reason every other key must be within one tenant:
 * it refuses a unique key (constraint, or unique index, partial and expression ones too) or an
 * exclusion constraint without `tenant_id`, and a foreign key to a tenant table that does not pair
 * `tenant_id` on both sides (`UNIQUE (tenant_id, number)`,
 * `FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)`); keys added after
 * it ran are `assertTenantIsolation()`'s to find. It adds:
 *
 * - `FK_<table>_tenant` to `tenants (id)` (ON DELETE CASCADE), unless `tenant_id` already has one;
 * - ROW LEVEL SECURITY enabled and forced (forced: the table owner is subject to it too);
 * - `<table>_tenant_isolation` for `fdl_app`, USING and WITH CHECK {@link tenantPolicyExpression};
 * - `<table>_system_access` for `fdl_system`;
 * - the grants to both roles;
 * - on Citus, {@link distributeTenantTable};
 * - last, the {@link TenantTableOptions.foreignKeys} given.
 *
 * `DROP TABLE` in `down` undoes all of it.
 *
 * ```ts
 * await queryRunner.query(`CREATE TABLE comments (
 *   id uuid NOT NULL DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL, body text NOT NULL, flow_id uuid,
 *   CONSTRAINT "PK_comments" PRIMARY KEY (tenant_id, id))`);
 * await tenantTable(queryRunner, 'comments', {
 *   foreignKeys: [`CONSTRAINT "FK_comments_flow" FOREIGN KEY (tenant_id, flow_id) REFERENCES flows (tenant_id, id)`],
 * });
 * ```
 */
export async function tenantTable(queryRunner: QueryRunner, table: string, options: TenantTableOptions = {}): Promise<void> {
  const privileges = options.privileges ?? ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
  // The name goes into DDL, which takes no parameters: only a plain lower-case identifier is accepted.
  if (!IDENTIFIER.test(table)) throw new Error(`tenantTable: ${JSON.stringify(table)} is not a plain lower-case identifier`);
  if (privileges.some((privilege) => !['SELECT', 'INSERT', 'UPDATE', 'DELETE'].includes(privilege))) {
    throw new Error(`tenantTable: privileges must be among SELECT, INSERT, UPDATE, DELETE`);
  }
  const foreignKeys = options.foreignKeys ?? [];
  const notForeignKey = foreignKeys.find((key) => !FOREIGN_KEY_CONSTRAINT.test(key));
  if (notForeignKey !== undefined) {
    throw new Error(`tenantTable: foreignKeys takes table constraints of the form [CONSTRAINT name] FOREIGN KEY (…) REFERENCES …, got ${JSON.stringify(notForeignKey)}`);
  }
  await assertTenantColumn(queryRunner, table);
  await assertTenantKey(queryRunner, table);
  await assertKeysWithinTenant(queryRunner, table);

  const [hasTenantKey] = await queryRunner.query(
    `SELECT 1 FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
     WHERE c.conrelid = $1::regclass AND c.contype = 'f' AND c.confrelid = 'tenants'::regclass
       AND a.attname = $2 AND cardinality(c.conkey) = 1`,
    [table, TENANT_COLUMN],
  );
  if (!hasTenantKey) {
    await queryRunner.query(
      `ALTER TABLE ${table} ADD CONSTRAINT "FK_${table}_tenant" FOREIGN KEY (${TENANT_COLUMN}) REFERENCES tenants (id) ON DELETE CASCADE`,
    );
  }

  await queryRunner.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
  await queryRunner.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
  await queryRunner.query(`
    CREATE POLICY ${table}_tenant_isolation ON ${table}
      FOR ALL TO fdl_app
      USING (${tenantPolicyExpression()})
      WITH CHECK (${tenantPolicyExpression()})`);
  await queryRunner.query(`
    CREATE POLICY ${table}_system_access ON ${table}
      FOR ALL TO fdl_system
      USING (true) WITH CHECK (true)`);
  if (privileges.length) await queryRunner.query(`GRANT ${privileges.join(', ')} ON ${table} TO fdl_app`);
  await queryRunner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO fdl_system`);

  await distributeTenantTable(queryRunner, table);

  for (const key of foreignKeys) await queryRunner.query(`ALTER TABLE ${table} ADD ${key}`);
  if (foreignKeys.length) await assertKeysWithinTenant(queryRunner, table);
}

/**
 * On a Citus cluster (the `citus` extension is installed), distributes the table by `tenant_id`,
 * co-located with `flows`, so that a tenant's rows of every table live on one worker and its
 * transaction stays on one node. Does nothing on a single PostgreSQL.
 */
export async function distributeTenantTable(queryRunner: QueryRunner, table: string): Promise<void> {
  const [citus] = await queryRunner.query(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
  if (!citus) return;
  await queryRunner.query(`SELECT create_distributed_table($1::regclass, $2, colocate_with => 'flows')`, [table, TENANT_COLUMN]);
}

async function assertTenantColumn(queryRunner: QueryRunner, table: string): Promise<void> {
  const [column] = await queryRunner.query(
    `SELECT data_type AS type, is_nullable AS nullable FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`,
    [table, TENANT_COLUMN],
  );
  if (!column || column.type !== 'uuid' || column.nullable !== 'NO') {
    throw new Error(`tenantTable: ${table} needs a column ${TENANT_COLUMN} uuid NOT NULL (create the table first)`);
  }
}

async function assertTenantKey(queryRunner: QueryRunner, table: string): Promise<void> {
  const [key] = await queryRunner.query(
    `SELECT c.conname AS name, EXISTS (
       SELECT FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) AND a.attname = $2
     ) AS "hasTenant"
     FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype = 'p'`,
    [table, TENANT_COLUMN],
  );
  if (!key?.hasTenant) {
    throw new Error(
      `tenantTable: ${table} needs a primary key that includes ${TENANT_COLUMN}, e.g. CONSTRAINT "PK_${table}" PRIMARY KEY (${TENANT_COLUMN}, id): ` +
        `other tables then reference its rows by (${TENANT_COLUMN}, id), and Citus, which shards by ${TENANT_COLUMN}, requires it` +
        (key ? ` (its primary key is ${key.name})` : ''),
    );
  }
}

async function assertKeysWithinTenant(queryRunner: QueryRunner, table: string): Promise<void> {
  const keys = (await crossTenantKeys((sql) => queryRunner.query(sql))).filter((key) => key.table === table);
  if (!keys.length) return;
  throw new Error(
    `tenantTable: ${table} has keys that span tenants. PostgreSQL checks a key over every tenant's rows, without row level security: ` +
      `a duplicate-key error tells one tenant that another has the value, and a foreign key lets a row point at another tenant's row ` +
      `and keep it from being deleted. Put ${TENANT_COLUMN} in each key:\n` +
      keys.map((key) => `  - ${key.kind} ${key.name} ${key.problem} (${key.definition}): declare ${key.instead}\n`).join('') +
      `A value unique across tenants belongs in a table of its own that is no tenant's (docs/your-own-tables.md, "A value unique across tenants").`,
  );
}
