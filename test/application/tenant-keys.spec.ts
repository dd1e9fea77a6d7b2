// Issue 23, finding 4: PostgreSQL checks unique and foreign keys over every tenant's rows, without
// row level security. On an application table keyed without tenant_id, tenant A learns from a
// duplicate-key error that tenant B has invoice number N, and points its rows at B's invoice, which
// B can then no longer delete. The attack is reproduced first, as two tenants over real SQL; then
// assertTenantIsolation() must name such keys and tenantTable() must refuse them.
import type { Client } from 'pg';
import { DataSource, type QueryRunner } from 'typeorm';
import { assertTenantIsolation, TenantIsolationError, tenantTable, tenantTableViolations } from '../../src';
import { migrationDataSourceOptions } from '../../src/migrations/migration-data-source-options';
import { crossTenantKeys, describeCrossTenantKey } from '../../src/schema/cross-tenant-keys';
import { loginUrl } from '../utils/least-privilege';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSystem, asTenant } from '../utils/tenant-sql';

/** What a statement did: 'ok', or the SQLSTATE that refused it. */
const outcome = (work: Promise<unknown>): Promise<string> => work.then(
  () => 'ok',
  (error: { code?: string }) => error.code ?? String(error),
);

/** A database of its own with tenants a and b, and a DataSource of the owner login (the migrations' login). */
async function setUp(): Promise<{ db: TestDatabase; dataSource: DataSource; a: string; b: string }> {
  const db = await createTestDatabase();
  const dataSource = await new DataSource(migrationDataSourceOptions(loginUrl(db.url, 'owner'))).initialize();
  const [a, b] = await asSystem(db.url, async (c) =>
    (await c.query(`INSERT INTO tenants (name) VALUES ('a'), ('b') RETURNING id`)).rows.map((row) => row.id as string),
  );
  return { db, dataSource, a, b };
}

/** Runs `work` as a migration would: one transaction, committed, or rolled back with `rollback`. */
async function migration(dataSource: DataSource, work: (runner: QueryRunner) => Promise<void>, options = { rollback: false }): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.startTransaction();
  try {
    await work(runner);
    await (options.rollback ? runner.rollbackTransaction() : runner.commitTransaction());
  } catch (error) {
    await runner.rollbackTransaction();
    throw error;
  } finally {
    await runner.release();
  }
}

/** Invoices and their payments, keyed as the README says: everything within (tenant_id, …). */
async function createInvoicesAndPayments(runner: QueryRunner): Promise<void> {
  await runner.query(`
    CREATE TABLE invoices (
      id uuid NOT NULL DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL, number int NOT NULL,
      CONSTRAINT "PK_invoices" PRIMARY KEY (tenant_id, id),
      CONSTRAINT "UQ_invoices_tenant_number" UNIQUE (tenant_id, number))`);
  await tenantTable(runner, 'invoices');
  await runner.query(`
    CREATE TABLE payments (
      id uuid NOT NULL DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL, invoice_id uuid NOT NULL,
      CONSTRAINT "PK_payments" PRIMARY KEY (tenant_id, id),
      CONSTRAINT "FK_payments_invoice" FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id))`);
  await runner.query(`CREATE INDEX "IDX_payments_invoice" ON payments (tenant_id, invoice_id)`);
  await tenantTable(runner, 'payments');
}

const insertInvoice = (url: string, tenant: string, number: number) =>
  asTenant(url, tenant, async (c: Client) => (await c.query(`INSERT INTO invoices (tenant_id, number) VALUES ($1, $2) RETURNING id`, [tenant, number])).rows[0].id as string, true);
const insertPayment = (url: string, tenant: string, invoice: string) =>
  asTenant(url, tenant, (c: Client) => c.query(`INSERT INTO payments (tenant_id, invoice_id) VALUES ($1, $2)`, [tenant, invoice]), true);
const deleteInvoice = (url: string, tenant: string, invoice: string) =>
  asTenant(url, tenant, async (c: Client) => (await c.query(`DELETE FROM invoices WHERE id = $1`, [invoice])).rowCount, true);

describe('An application table keyed without tenant_id (issue 23, finding 4)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let a: string;
  let b: string;
  let invoiceOfB: string;

  beforeAll(async () => {
    ({ db, dataSource, a, b } = await setUp());
    // Made with tenantTable(), then a later migration adds keys it could not see.
    await migration(dataSource, createInvoicesAndPayments);
    await migration(dataSource, async (runner) => {
      await runner.query(`ALTER TABLE invoices ADD CONSTRAINT "UQ_invoices_number" UNIQUE (number)`);
      await runner.query(`ALTER TABLE invoices ADD CONSTRAINT "UQ_invoices_id" UNIQUE (id)`);
      await runner.query(`ALTER TABLE payments DROP CONSTRAINT "FK_payments_invoice"`);
      await runner.query(`ALTER TABLE payments ADD CONSTRAINT "FK_payments_invoice" FOREIGN KEY (invoice_id) REFERENCES invoices (id)`);
    });
    invoiceOfB = await insertInvoice(db.url, b, 1001);
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it("the attack: A sees none of B's invoices, yet a duplicate-key error (23505) tells it B has number 1001", async () => {
    await expect(asTenant(db.url, a, async (c) => (await c.query('SELECT count(*)::int AS n FROM invoices')).rows[0].n)).resolves.toBe(0);
    await expect(outcome(insertInvoice(db.url, a, 1001))).resolves.toBe('23505');
    await expect(outcome(insertInvoice(db.url, a, 1002))).resolves.toBe('ok');
  });

  it("the attack: A points its payment at B's invoice, and B can no longer delete it (23503)", async () => {
    await expect(outcome(insertPayment(db.url, a, invoiceOfB))).resolves.toBe('ok');
    await expect(outcome(deleteInvoice(db.url, b, invoiceOfB))).resolves.toBe('23503');
  });

  it('assertTenantIsolation() names each key, its table and what it is', async () => {
    const error = await assertTenantIsolation(dataSource).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TenantIsolationError);
    expect((error as TenantIsolationError).violations).toEqual([
      'invoices: unique constraint UQ_invoices_id leaves tenant_id out of its key (UNIQUE (id))',
      'invoices: unique constraint UQ_invoices_number leaves tenant_id out of its key (UNIQUE (number))',
      'payments: foreign key FK_payments_invoice references invoices without tenant_id on both sides (FOREIGN KEY (invoice_id) REFERENCES invoices(id))',
    ]);
  });
});

describe('An application table keyed within the tenant', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let a: string;
  let b: string;

  beforeAll(async () => {
    ({ db, dataSource, a, b } = await setUp());
    await migration(dataSource, createInvoicesAndPayments);
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('passes assertTenantIsolation()', async () => {
    await expect(assertTenantIsolation(dataSource)).resolves.toBeUndefined();
  });

  it("the same attack learns nothing: each tenant numbers its own invoices, and B's invoice is out of A's reach", async () => {
    const invoiceOfB = await insertInvoice(db.url, b, 1001);
    await expect(outcome(insertInvoice(db.url, a, 1001))).resolves.toBe('ok');
    // B's invoice and one that exists nowhere are refused alike: no oracle either.
    await expect(outcome(insertPayment(db.url, a, invoiceOfB))).resolves.toBe('23503');
    await expect(outcome(insertPayment(db.url, a, '00000000-0000-4000-8000-000000000001'))).resolves.toBe('23503');
    await expect(deleteInvoice(db.url, b, invoiceOfB)).resolves.toBe(1);
  });
});

describe('tenantTable() and assertTenantIsolation() on each shape of key', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    ({ db, dataSource } = await setUp());
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const TABLE = `CREATE TABLE t (id uuid NOT NULL, tenant_id uuid NOT NULL, number int NOT NULL, code text NOT NULL, void boolean NOT NULL DEFAULT false,
                   invoice_id uuid, partner_id uuid, owner_tenant_id uuid, CONSTRAINT "PK_t" PRIMARY KEY (tenant_id, id)`;
  // A table that already has a key across tenants, for the foreign keys below to use.
  const LEGACY_INVOICES = `CREATE TABLE legacy_invoices (id uuid NOT NULL, tenant_id uuid NOT NULL, PRIMARY KEY (tenant_id, id), UNIQUE (id))`;

  const REFUSED: { shape: string; sql: string[]; key: string; instead: string }[] = [
    {
      shape: 'UNIQUE (number)',
      sql: [`${TABLE}, CONSTRAINT "UQ_t_number" UNIQUE (number))`],
      key: 'unique constraint UQ_t_number leaves tenant_id out of its key (UNIQUE (number))',
      instead: 'UNIQUE (tenant_id, number)',
    },
    {
      shape: 'UNIQUE (number) INCLUDE (tenant_id): an included column is not compared',
      sql: [`${TABLE}, CONSTRAINT "UQ_t_number" UNIQUE (number) INCLUDE (tenant_id))`],
      key: 'unique constraint UQ_t_number leaves tenant_id out of its key (UNIQUE (number) INCLUDE (tenant_id))',
      instead: 'UNIQUE (tenant_id, number) INCLUDE (tenant_id)',
    },
    {
      shape: 'a unique index on an expression',
      sql: [`${TABLE})`, `CREATE UNIQUE INDEX "UQ_t_code" ON t (lower(code))`],
      key: 'unique index UQ_t_code leaves tenant_id out of its key (CREATE UNIQUE INDEX "UQ_t_code" ON public.t USING btree (lower(code)))',
      instead: 'CREATE UNIQUE INDEX "UQ_t_code" ON public.t USING btree (tenant_id, lower(code))',
    },
    {
      shape: 'a partial unique index',
      sql: [`${TABLE})`, `CREATE UNIQUE INDEX "UQ_t_open_number" ON t (number) WHERE NOT void`],
      key: 'unique index UQ_t_open_number leaves tenant_id out of its key (CREATE UNIQUE INDEX "UQ_t_open_number" ON public.t USING btree (number) WHERE (NOT void))',
      instead: 'CREATE UNIQUE INDEX "UQ_t_open_number" ON public.t USING btree (tenant_id, number) WHERE (NOT void)',
    },
    {
      shape: 'a unique index on an expression that only mentions tenant_id',
      sql: [`${TABLE})`, `CREATE UNIQUE INDEX "UQ_t_tagged" ON t ((tenant_id::text || code))`],
      key: 'unique index UQ_t_tagged leaves tenant_id out of its key (CREATE UNIQUE INDEX "UQ_t_tagged" ON public.t USING btree ((((tenant_id)::text || code))))',
      instead: 'CREATE UNIQUE INDEX "UQ_t_tagged" ON public.t USING btree (tenant_id, (((tenant_id)::text || code)))',
    },
    {
      shape: 'an exclusion constraint without tenant_id WITH =',
      sql: [`${TABLE}, CONSTRAINT "EX_t_number" EXCLUDE (number WITH =))`],
      key: 'exclusion constraint EX_t_number does not compare tenant_id with = (EXCLUDE USING btree (number WITH =))',
      instead: 'EXCLUDE USING btree (tenant_id WITH =, number WITH =)',
    },
    {
      shape: 'a foreign key by id alone',
      sql: [LEGACY_INVOICES, `${TABLE}, CONSTRAINT "FK_t_invoice" FOREIGN KEY (invoice_id) REFERENCES legacy_invoices (id))`],
      key: 'foreign key FK_t_invoice references legacy_invoices without tenant_id on both sides (FOREIGN KEY (invoice_id) REFERENCES legacy_invoices(id))',
      instead: 'FOREIGN KEY (tenant_id, invoice_id) REFERENCES legacy_invoices (tenant_id, id)',
    },
    {
      shape: "a foreign key whose tenant column is not the row's tenant_id",
      sql: [
        `CREATE TABLE invoices (id uuid NOT NULL, tenant_id uuid NOT NULL, PRIMARY KEY (tenant_id, id))`,
        `${TABLE}, CONSTRAINT "FK_t_invoice" FOREIGN KEY (owner_tenant_id, invoice_id) REFERENCES invoices (tenant_id, id))`,
      ],
      key: 'foreign key FK_t_invoice references invoices without tenant_id on both sides (FOREIGN KEY (owner_tenant_id, invoice_id) REFERENCES invoices(tenant_id, id))',
      instead: 'FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)',
    },
    {
      shape: 'a foreign key to another tenant',
      sql: [`${TABLE}, CONSTRAINT "FK_t_partner" FOREIGN KEY (partner_id) REFERENCES tenants (id))`],
      key: 'foreign key FK_t_partner references tenants by another column than tenant_id (FOREIGN KEY (partner_id) REFERENCES tenants(id))',
      instead: 'FOREIGN KEY (tenant_id) REFERENCES tenants (id)',
    },
  ];

  it.each(REFUSED)('$shape: tenantTable() refuses it, saying what to declare, and the check names it', async ({ sql, key, instead }) => {
    await migration(
      dataSource,
      async (runner) => {
        for (const statement of sql) await runner.query(statement);
        const refusal = await tenantTable(runner, 't').catch((error: Error) => error.message);
        expect(refusal).toContain(`tenantTable: t has keys that span tenants.`);
        expect(refusal).toContain(`\n  - ${key}: declare ${instead}\n`);
        expect(refusal).toContain('docs/your-own-tables.md, "A value unique across tenants"');
        expect(await tenantTableViolations((query) => runner.query(query))).toContain(`t: ${key}`);
      },
      { rollback: true },
    );
  });

  it('tenantTable() lists every such key of the table at once', async () => {
    await migration(
      dataSource,
      async (runner) => {
        await runner.query(`${TABLE}, UNIQUE (number), FOREIGN KEY (partner_id) REFERENCES tenants (id))`);
        await runner.query(`CREATE UNIQUE INDEX "UQ_t_code" ON t (code)`);
        const refusal = await tenantTable(runner, 't').catch((error: Error) => error.message);
        expect((refusal as string).split('\n').filter((line) => line.startsWith('  - '))).toEqual([
          '  - unique index UQ_t_code leaves tenant_id out of its key (CREATE UNIQUE INDEX "UQ_t_code" ON public.t USING btree (code)): declare CREATE UNIQUE INDEX "UQ_t_code" ON public.t USING btree (tenant_id, code)',
          '  - unique constraint t_number_key leaves tenant_id out of its key (UNIQUE (number)): declare UNIQUE (tenant_id, number)',
          '  - foreign key t_partner_id_fkey references tenants by another column than tenant_id (FOREIGN KEY (partner_id) REFERENCES tenants(id)): declare FOREIGN KEY (tenant_id) REFERENCES tenants (id)',
        ]);
      },
      { rollback: true },
    );
  });

  it('foreignKeys: adds the keys given after the table is made isolated, refuses one that spans tenants, and anything that is not a foreign key', async () => {
    await migration(
      dataSource,
      async (runner) => {
        await runner.query(`CREATE TABLE invoices (id uuid NOT NULL, tenant_id uuid NOT NULL, PRIMARY KEY (tenant_id, id))`);
        await tenantTable(runner, 'invoices');
        await runner.query(LEGACY_INVOICES);
        await runner.query(`${TABLE})`);
        await runner.query('SAVEPOINT before_keys');
        const spanning = await tenantTable(runner, 't', {
          foreignKeys: ['CONSTRAINT "FK_t_invoice" FOREIGN KEY (invoice_id) REFERENCES legacy_invoices (id)'],
        }).catch((error: Error) => error.message);
        expect(spanning).toContain('  - foreign key FK_t_invoice references legacy_invoices without tenant_id on both sides');
        await runner.query('ROLLBACK TO SAVEPOINT before_keys');
        for (const notAKey of ['UNIQUE (number)', 'CONSTRAINT "FK_x" FOREIGN KEY (invoice_id) REFERENCES invoices (id); DROP TABLE tenants']) {
          await expect(tenantTable(runner, 't', { foreignKeys: [notAKey] })).rejects.toThrow(
            `tenantTable: foreignKeys takes table constraints of the form [CONSTRAINT name] FOREIGN KEY (…) REFERENCES …, got ${JSON.stringify(notAKey)}`,
          );
        }
        await tenantTable(runner, 't', { foreignKeys: ['CONSTRAINT "FK_t_invoice" FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)'] });
        const [key] = await runner.query(`SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conname = 'FK_t_invoice'`);
        expect(key.definition).toBe('FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices(tenant_id, id)');
      },
      { rollback: true },
    );
  });

  it('accepts every key within one tenant, a reference to tenants by tenant_id, and any reference to a table that is no tenant\'s', async () => {
    await migration(
      dataSource,
      async (runner) => {
        // A lookup table shared by every tenant: no tenant_id, no grant to fdl_app.
        await runner.query(`CREATE TABLE currencies (code text PRIMARY KEY)`);
        await runner.query(`CREATE TABLE invoices (id uuid NOT NULL, tenant_id uuid NOT NULL, PRIMARY KEY (tenant_id, id))`);
        await tenantTable(runner, 'invoices');
        await runner.query(`${TABLE}, currency text NOT NULL,
          CONSTRAINT "UQ_t_tenant_number" UNIQUE (tenant_id, number),
          CONSTRAINT "EX_t_tenant_code" EXCLUDE (tenant_id WITH =, code WITH =),
          CONSTRAINT "FK_t_tenant" FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
          CONSTRAINT "FK_t_invoice" FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
          CONSTRAINT "FK_t_currency" FOREIGN KEY (currency) REFERENCES currencies (code))`);
        await runner.query(`CREATE UNIQUE INDEX "UQ_t_tenant_code" ON t (tenant_id, lower(code)) WHERE NOT void`);
        await runner.query(`CREATE INDEX "IDX_t_invoice" ON t (tenant_id, invoice_id)`);
        await runner.query(`CREATE INDEX "IDX_t_currency" ON t (currency)`);
        await expect(tenantTable(runner, 't')).resolves.toBeUndefined();
        await expect(tenantTableViolations((query) => runner.query(query))).resolves.toEqual([]);
      },
      { rollback: true },
    );
  });

  it("names a partitioned table's key once, on the parent, not again on each partition", async () => {
    await migration(
      dataSource,
      async (runner) => {
        await runner.query(`CREATE TABLE events (tenant_id uuid NOT NULL, id uuid NOT NULL, at date NOT NULL, partner_id uuid,
          PRIMARY KEY (tenant_id, id, at), CONSTRAINT "UQ_events_id" UNIQUE (id, at), CONSTRAINT "FK_events_partner" FOREIGN KEY (partner_id) REFERENCES tenants (id))
          PARTITION BY RANGE (at)`);
        await runner.query(`CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`);
        const keys = await crossTenantKeys((query) => runner.query(query));
        expect(keys.map(describeCrossTenantKey)).toEqual([
          'events: unique constraint UQ_events_id leaves tenant_id out of its key (UNIQUE (id, at))',
          'events: foreign key FK_events_partner references tenants by another column than tenant_id (FOREIGN KEY (partner_id) REFERENCES tenants(id))',
        ]);
      },
      { rollback: true },
    );
  });
});

describe('A value unique across tenants, in a table of its own that is no tenant\'s (README)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let a: string;
  let b: string;

  beforeAll(async () => {
    ({ db, dataSource, a, b } = await setUp());
    await migration(dataSource, async (runner) => {
      await runner.query(`
        CREATE TABLE public_handles (
          handle          text NOT NULL,
          owner_tenant_id uuid NOT NULL,
          CONSTRAINT "PK_public_handles" PRIMARY KEY (handle),
          CONSTRAINT "FK_public_handles_tenant" FOREIGN KEY (owner_tenant_id) REFERENCES tenants (id) ON DELETE CASCADE)`);
      await runner.query(`CREATE INDEX "IDX_public_handles_tenant" ON public_handles (owner_tenant_id)`);
      await runner.query(`GRANT SELECT, INSERT, DELETE ON public_handles TO fdl_system`);
    });
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('passes assertTenantIsolation(), is out of reach of every tenant, and is unique for the system role', async () => {
    await expect(assertTenantIsolation(dataSource)).resolves.toBeUndefined();
    await expect(outcome(asTenant(db.url, a, (c) => c.query(`SELECT handle FROM public_handles`)))).resolves.toBe('42501');
    await expect(outcome(asTenant(db.url, a, (c) => c.query(`INSERT INTO public_handles VALUES ('acme', $1)`, [a])))).resolves.toBe('42501');
    await expect(outcome(asSystem(db.url, (c) => c.query(`INSERT INTO public_handles VALUES ('acme', $1)`, [a])))).resolves.toBe('ok');
    await expect(outcome(asSystem(db.url, (c) => c.query(`INSERT INTO public_handles VALUES ('acme', $1)`, [b])))).resolves.toBe('23505');
  });
});
