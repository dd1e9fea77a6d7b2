import { createHmac } from 'node:crypto';
import { Pool } from 'pg';
import { AuditTrail, TenancyService } from '../../src';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { startBenchContext } from '../bench-app';
import { compare, measureInterleaved, type ReportRow } from '../harness';
import type { Dataset } from './dataset';

const KEY = 'bench key of at least thirty-two characters';

/**
 * What the audit trail's key costs. The module signs digests (a chain's head), not entries: an
 * audited write is the same with a key or without. The alternative, keying every entry with a secret
 * the database does not hold, needs the chain's head in the application before the INSERT: one more
 * round trip under the chain's lock, plus the HMAC. Measured here as that round trip and HMAC added
 * to `record()`, against the same write without them and against raw `pg`, interleaved.
 */
export async function audit(url: string, data: Dataset, options: { durationMs: number; concurrency: number; poolSize: number }): Promise<ReportRow[]> {
  const { durationMs, concurrency, poolSize } = options;
  // One tenant per caller where there are enough: writes of one chain are serialised by its lock.
  const tenantOf = (caller: number) => data.tenants[caller % data.tenants.length];
  const pool = new Pool({ connectionString: url, max: poolSize });
  const app = await startBenchContext(url, poolSize, { auditDigestKey: KEY });
  const tenancy = app.get(TenancyService);
  const trail = app.get(AuditTrail);
  const context = app.get(TenantContext);
  const entry = (i: number) => ({ action: 'bench.audited', targetType: 'bench', targetId: String(i), details: { step: i } });
  try {
    const [raw, module, keyedEntries, digest] = await measureInterleaved(
      [
        {
          name: 'raw pg: tenant tx + audit INSERT, prelude as 1 message',
          operation: async (caller, i) => {
            const client = await pool.connect();
            try {
              await client.query(`BEGIN; SET LOCAL ROLE fdl_app; SELECT set_config('app.current_tenant_id', '${tenantOf(caller)}', true)`);
              await client.query(`INSERT INTO audit_logs (tenant_id, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5)`, [
                tenantOf(caller), 'bench.audited', 'bench', String(i), { step: i },
              ]);
              await client.query('COMMIT');
            } finally {
              client.release();
            }
          },
        },
        { name: 'module: AuditTrail.record (digests signed, entries not)', operation: (caller, i) => tenancy.runInTenant(tenantOf(caller), () => trail.record(entry(i))) },
        {
          name: 'module: record + head read + HMAC (keying each entry)',
          operation: (caller, i) =>
            tenancy.runInTenant(tenantOf(caller), async () => {
              const { manager } = context.require('bench');
              await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('fdl-runtime-db:audit:' || $1, 0))`, [tenantOf(caller)]);
              const [head] = await manager.query(
                `SELECT hash FROM audit_logs WHERE tenant_id = $1 AND chain_position IS NOT NULL ORDER BY chain_position DESC LIMIT 1`,
                [tenantOf(caller)],
              );
              createHmac('sha256', KEY).update(JSON.stringify([head?.hash ?? null, entry(i)])).digest('hex');
              await trail.record(entry(i));
            }),
        },
        { name: 'module: AuditTrail.digest(), signed', operation: (caller) => tenancy.runInTenant(tenantOf(caller), () => trail.digest()) },
      ],
      { concurrency, durationMs, rounds: 8 },
    );
    return [
      { group: 'audit', ...raw },
      compare('audit', module, raw, 0.6),
      { ...compare('audit', keyedEntries, module, 0), target: 'measured' },
      { ...compare('audit', digest, raw, 0), target: 'measured' },
    ];
  } finally {
    await app.close();
    await pool.end();
  }
}
