import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const SQUAWK = path.join(ROOT, 'node_modules', '.bin', 'squawk');

/** Squawk with the project's .squawk.toml; its gcc-style report, one finding a line. */
function squawk(files: string[]): { status: number | null; findings: string[] } {
  const run = spawnSync(SQUAWK, ['--config', path.join(ROOT, '.squawk.toml'), '--reporter', 'gcc', ...files], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (run.error) throw run.error;
  return { status: run.status, findings: run.stdout.split('\n').filter((line) => line.includes(': warning: ') || line.includes(': error: ')) };
}

describe('Migration linter (squawk)', () => {
  it('finds nothing in the shipped migrations', () => {
    expect(squawk(['migrations/*.sql'])).toEqual({ status: 0, findings: [] });
  });

  it('flags what would block a large live table', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fdl-squawk-'));
    try {
      const file = path.join(dir, '009_unsafe.sql');
      writeFileSync(
        file,
        [
          `SET LOCAL lock_timeout = '5s';`,
          `SET LOCAL statement_timeout = '60s';`,
          `CREATE INDEX "IDX_flows_name" ON flows (name);`,
          `ALTER TABLE execution_snapshots ADD CONSTRAINT "CHK_positive" CHECK (version > 0);`,
          `ALTER TABLE flows ALTER COLUMN description SET NOT NULL;`,
        ].join('\n'),
      );
      const { status, findings } = squawk([file]);
      expect(status).not.toBe(0);
      const rules = findings.map((line) => line.split(': warning: ')[1]?.split(' ')[0]);
      expect(rules).toEqual(
        expect.arrayContaining(['require-concurrent-index-creation', 'constraint-missing-not-valid', 'adding-not-nullable-field']),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
