import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '@omni/db';
import { createWorld, type TestWorld } from '../../../test/support/infra';

describe('migrate', () => {
  let world: TestWorld;
  let dir: string;
  beforeAll(async () => {
    world = await createWorld('migrate');
    dir = mkdtempSync(join(tmpdir(), 'mig-'));
    writeFileSync(join(dir, '0001_things.sql'), 'CREATE TABLE things (id int PRIMARY KEY);');
    writeFileSync(join(dir, '0002_more.sql'), 'ALTER TABLE things ADD COLUMN name text;');
    writeFileSync(join(dir, 'README.txt'), 'not a migration');
  });
  afterAll(() => world.close());

  it('applies numbered files once, in order, in the service schema, even when replicas race', async () => {
    const results = await Promise.all([migrate(world.pool, 'svc', dir), migrate(world.pool, 'svc', dir), migrate(world.pool, 'svc', dir)]);
    expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, 2]);
    const cols = await world.pool.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'svc' AND table_name = 'things' ORDER BY ordinal_position`);
    expect(cols.rows.map((r) => r.column_name)).toEqual(['id', 'name']);
    expect((await migrate(world.pool, 'svc', dir)).applied).toEqual([]);
  });

  it('rolls back a failing migration entirely and names the file', async () => {
    writeFileSync(join(dir, '0003_broken.sql'), 'CREATE TABLE half (id int); SELECT no_such_function();');
    await expect(migrate(world.pool, 'svc', dir)).rejects.toThrow(/svc\/0003_broken.sql failed/);
    const half = await world.pool.query(`SELECT to_regclass('svc.half') AS t`);
    expect(half.rows[0].t).toBeNull();
    const versions = await world.pool.query('SELECT version FROM svc.schema_migrations ORDER BY version');
    expect(versions.rows.map((r) => r.version)).toEqual([1, 2]);
  });
});
