/**
 * Static check of docker-compose.yml for machines without a Docker engine (CI here):
 * 1. dclint validates the file against the Compose specification schema;
 * 2. every folder under services/ is a compose service built from deploy/Dockerfile with SERVICE set;
 * 3. each has a healthcheck and waits for kafka and postgres with condition service_healthy;
 * 4. every environment variable compose sets is one the service's config schema knows, and every
 *    variable the schema requires (no default) is set.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const root = join(__dirname, '..');
const problems: string[] = [];

try {
  execFileSync(join(root, 'node_modules', '.bin', 'dclint'), ['docker-compose.yml', '--max-warnings', '0'], { cwd: root, stdio: 'pipe' });
} catch (err) {
  const e = err as { stdout?: Buffer; stderr?: Buffer };
  problems.push(`dclint: ${(e.stdout?.toString() ?? '') + (e.stderr?.toString() ?? '')}`.trim());
}

type ComposeService = {
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, unknown>;
  healthcheck?: { test?: unknown };
  depends_on?: Record<string, { condition?: string }>;
};
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services ?? {};

for (const infra of ['kafka', 'postgres']) {
  if (!services[infra]) problems.push(`compose has no ${infra} service`);
  else if (!services[infra]!.healthcheck?.test) problems.push(`${infra} has no healthcheck`);
}

const folders = readdirSync(join(root, 'services')).filter((d) => existsSync(join(root, 'services', d, 'src', 'main.ts')));
for (const name of folders) {
  const s = services[name];
  if (!s) {
    problems.push(`service folder services/${name} is not in docker-compose.yml`);
    continue;
  }
  const dockerfile = join(root, s.build?.context ?? '.', s.build?.dockerfile ?? 'Dockerfile');
  if (!existsSync(dockerfile)) problems.push(`${name}: dockerfile ${dockerfile} does not exist`);
  if (s.build?.args?.SERVICE !== name) problems.push(`${name}: build arg SERVICE must be "${name}"`);
  if (!s.healthcheck?.test) problems.push(`${name}: no healthcheck`);
  for (const dep of ['kafka', 'postgres'])
    if (s.depends_on?.[dep]?.condition !== 'service_healthy') problems.push(`${name}: must depend on ${dep} with condition service_healthy`);

  // The service's env schema: the exported `<Name>Env` object of its config module.
  const mod = require(join(root, 'services', name, 'src', 'config.ts')) as Record<string, unknown>;
  const envEntry = Object.entries(mod).find(([k, v]) => k.endsWith('Env') && v && typeof v === 'object');
  if (!envEntry) {
    problems.push(`${name}: config.ts exports no *Env schema`);
    continue;
  }
  const schema = envEntry[1] as Record<string, { default?: unknown }>;
  const set = Object.keys(s.environment ?? {});
  // OTEL_* are the OpenTelemetry SDK's own variables, read by libs/tracing, not by the config schema
  for (const v of set) if (!(v in schema) && !v.startsWith('OTEL_')) problems.push(`${name}: compose sets ${v}, which the service does not read`);
  for (const [v, def] of Object.entries(schema)) if (def.default === undefined && !set.includes(v)) problems.push(`${name}: required variable ${v} is not set in compose`);
}
// infrastructure: the single broker, the three-broker cluster (profile "cluster"), Postgres, and
// Prometheus + Grafana (profile "observability")
const INFRA = ['kafka', 'postgres', 'kafka-1', 'kafka-2', 'kafka-3', 'prometheus', 'grafana', 'jaeger'];
for (const name of Object.keys(services))
  if (!INFRA.includes(name) && !folders.includes(name)) problems.push(`compose service ${name} has no folder under services/`);
for (const node of ['kafka-1', 'kafka-2', 'kafka-3']) {
  const s = services[node] as ComposeService & { profiles?: string[] };
  if (!s || !s.profiles?.includes('cluster')) problems.push(`${node} must exist in profile "cluster"`);
  else if (!s.healthcheck?.test) problems.push(`${node} has no healthcheck`);
}
// files the observability profile mounts
for (const f of ['deploy/observability/prometheus.yml', 'deploy/observability/alerts.yml', 'deploy/observability/grafana-dashboard.json', 'deploy/observability/grafana/provisioning/datasources/prometheus.yml', 'deploy/observability/grafana/provisioning/dashboards/omni.yml'])
  if (!existsSync(join(root, f))) problems.push(`${f} (mounted by the observability profile) does not exist`);

if (problems.length > 0) {
  console.error(`compose-check: ${problems.length} problem(s)\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log(`compose-check: docker-compose.yml valid; ${folders.length} services checked against their config schemas`);
