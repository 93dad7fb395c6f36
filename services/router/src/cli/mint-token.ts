/**
 * Mints an admin or agent JWT signed with JWT_SECRET (the router's HS256 secret).
 *   JWT_SECRET=... npm run router:token -- admin ops-alice
 *   JWT_SECRET=... npm run router:token -- agent agent-7 [ttlSeconds]
 */
import { mintToken, type Role } from '../auth/tokens';

const [role, sub, ttl] = process.argv.slice(2);
const secret = process.env.JWT_SECRET;
if (!secret || (role !== 'admin' && role !== 'agent') || !sub) {
  process.stderr.write('usage: JWT_SECRET=<secret> npm run router:token -- <admin|agent> <subject (agent id for agents)> [ttlSeconds]\n');
  process.exit(2);
}
process.stdout.write(`${mintToken(secret, { sub, role: role as Role }, ttl ? Number(ttl) : undefined)}\n`);
