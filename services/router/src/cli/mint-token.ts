/**
 * Mints an access token signed with JWT_SECRET (for scripts; people sign in instead).
 *   JWT_SECRET=... npm run router:token -- admin ops-alice
 *   JWT_SECRET=... npm run router:token -- agent agent-7 [ttlSeconds]
 *   JWT_SECRET=... npm run router:token -- service crm-sync 3600 kpis:read,customers:read
 */
import { ROLES } from '@omni/auth';
import { mintToken, type Role } from '../auth/tokens';

const [role, sub, ttl, scopes] = process.argv.slice(2);
const secret = process.env.JWT_SECRET;
if (!secret || !(ROLES as readonly string[]).includes(role ?? '') || !sub || (ttl !== undefined && !/^\d+$/.test(ttl))) {
  process.stderr.write(`usage: JWT_SECRET=<secret> npm run router:token -- <${ROLES.join('|')}> <subject (agent id for agents)> [ttlSeconds] [scope,scope (service tokens)]\n`);
  process.exit(2);
}
const scopeList = scopes ? scopes.split(',').map((s) => s.trim()).filter(Boolean) : [];
process.stdout.write(`${mintToken(secret, { sub, role: role as Role, ...(scopeList.length ? { scopes: scopeList } : {}) }, ttl ? Number(ttl) : undefined)}\n`);
