/**
 * Creates the first admin account (or any account) straight in the router's database, migrating
 * the router schema first, so it works before the router has ever started.
 *   DATABASE_URL=postgres://… ADMIN_PASSWORD='…' npm run admin:create -- <id> <username> [admin|supervisor|agent]
 * Without ADMIN_PASSWORD the password is read from the first line of stdin (it never goes in argv,
 * where other users of the machine could see it). Audited as actor "cli".
 */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HUMAN_ROLES, type HumanRole } from '@omni/auth';
import { createPool, ensureDatabase, migrate } from '@omni/db';
import { createAccount } from '../store/accounts';

async function readPassword(): Promise<string> {
  if (process.env.ADMIN_PASSWORD) return process.env.ADMIN_PASSWORD;
  if (process.stdin.isTTY) process.stderr.write('password (≥ 12 characters): ');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}

async function main(): Promise<number> {
  const [id, username, role = 'admin'] = process.argv.slice(2);
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/omni';
  if (!id || !/^[A-Za-z0-9._@-]{1,128}$/.test(id) || !username || !(HUMAN_ROLES as readonly string[]).includes(role)) {
    process.stderr.write(`usage: DATABASE_URL=… [ADMIN_PASSWORD=…] npm run admin:create -- <id> <username> [${HUMAN_ROLES.join('|')}]\n`);
    return 2;
  }
  const password = await readPassword();
  if (password.length < 12) {
    process.stderr.write('the password must be at least 12 characters\n');
    return 2;
  }
  await ensureDatabase(url);
  const pool = createPool(url);
  try {
    await migrate(pool, 'router', join(__dirname, '..', '..', 'migrations'));
    const r = await createAccount(pool, { id, username, role: role as HumanRole, password }, { sub: 'cli', role: 'admin', issuer: 'cli' });
    if (!r.ok) {
      process.stderr.write(`an account with this ${r.conflict} already exists\n`);
      return 1;
    }
    process.stdout.write(`created ${r.account.role} ${r.account.id} (${r.account.username}); sign in with POST /v1/auth/sign-in\n`);
    return 0;
  } finally {
    await pool.end();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`admin:create failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
