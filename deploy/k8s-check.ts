/**
 * Static check of the Kubernetes manifests in deploy/k8s/ (no cluster, no network: CI runs it):
 * 1. every document validates against the Kubernetes API schema of its apiVersion/kind, as compiled
 *    into validators by the `kubernetes-models` npm package (from the Kubernetes OpenAPI spec);
 * 2. every folder under services/ has a Deployment, a Service and a PodDisruptionBudget that selects it;
 * 3. each Deployment: readiness probe on /readyz, liveness on /healthz, CPU and memory requests and a
 *    memory limit, terminationGracePeriodSeconds ≥ preStop sleep + SHUTDOWN_GRACE_MS, every secret
 *    variable from a Secret (never a literal or a ConfigMap), every variable known to the service's
 *    config schema and every required one set;
 * 4. kustomization.yaml lists every manifest except the example Secret.
 *
 *   npm run k8s:check
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';

const root = join(__dirname, '..');
const dir = join(root, 'deploy', 'k8s');
const problems: string[] = [];

type Doc = { apiVersion?: string; kind?: string; metadata?: { name?: string }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };
type Validating = new (data: unknown) => { validate(): void };

// apiVersion/kind → module of kubernetes-models exporting the class
const MODELS: Record<string, [string, string]> = {
  'apps/v1/Deployment': ['kubernetes-models/apps/v1', 'Deployment'],
  'v1/Service': ['kubernetes-models/v1', 'Service'],
  'v1/ConfigMap': ['kubernetes-models/v1', 'ConfigMap'],
  'v1/Secret': ['kubernetes-models/v1', 'Secret'],
  'v1/Namespace': ['kubernetes-models/v1', 'Namespace'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-models/policy/v1', 'PodDisruptionBudget'],
};
// variables whose values are secrets: they must come from a Secret
const SECRET = /SECRET|TOKEN|PASSWORD|_AUTH$|SIGNING_KEY|API_KEYS|DATABASE_URL|DELIVERY_TARGETS/;

async function main(): Promise<void> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  const docs: { file: string; doc: Doc }[] = [];
  for (const file of files) {
    for (const d of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (d.errors.length) problems.push(`${file}: YAML: ${d.errors[0]!.message}`);
      const doc = d.toJS() as Doc | null;
      if (doc) docs.push({ file, doc });
    }
  }

  // 1. schema validation
  for (const { file, doc } of docs) {
    const key = `${doc.apiVersion}/${doc.kind}`;
    const model = MODELS[key];
    if (!model) {
      problems.push(`${file}: no schema known for ${key}`);
      continue;
    }
    const mod = (await import(model[0])) as Record<string, Validating>;
    try {
      new mod[model[1]]!(doc).validate();
    } catch (err) {
      problems.push(`${file}: ${key} ${doc.metadata?.name}: ${(err as Error).message}`);
    }
  }

  const config = docs.find((d) => d.doc.kind === 'ConfigMap' && d.doc.metadata?.name === 'omni-config')?.doc.data ?? {};
  const secretKeys = new Set(Object.keys(docs.find((d) => d.doc.kind === 'Secret')?.doc.stringData ?? {}));
  const graceMs = Number(config.SHUTDOWN_GRACE_MS ?? 10000);

  // 2–3. per service
  const folders = readdirSync(join(root, 'services')).filter((d) => existsSync(join(root, 'services', d, 'src', 'main.ts')));
  for (const name of folders) {
    const of = (kind: string) => docs.find((d) => d.doc.kind === kind && d.doc.metadata?.name === name)?.doc;
    const dep = of('Deployment');
    const svc = of('Service');
    const pdb = of('PodDisruptionBudget');
    if (!dep || !svc || !pdb) {
      problems.push(`${name}: needs a Deployment, a Service and a PodDisruptionBudget named ${name}`);
      continue;
    }
    const labels = dep.spec?.template?.metadata?.labels ?? {};
    const selects = (sel: Record<string, string> | undefined) => !!sel && Object.entries(sel).every(([k, v]) => labels[k] === v);
    if (!selects(svc.spec?.selector)) problems.push(`${name}: the Service does not select the Deployment's pods`);
    if (!selects(pdb.spec?.selector?.matchLabels)) problems.push(`${name}: the PodDisruptionBudget does not select the Deployment's pods`);
    if ((pdb.spec?.minAvailable ?? 0) >= (dep.spec?.replicas ?? 1)) problems.push(`${name}: the PodDisruptionBudget allows no voluntary disruption`);
    const pod = dep.spec?.template?.spec ?? {};
    const c = (pod.containers ?? [])[0] ?? {};
    if (c.readinessProbe?.httpGet?.path !== '/readyz') problems.push(`${name}: readiness probe must GET /readyz`);
    if (c.livenessProbe?.httpGet?.path !== '/healthz') problems.push(`${name}: liveness probe must GET /healthz`);
    if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory) problems.push(`${name}: needs cpu and memory requests and a memory limit`);
    const preStop = c.lifecycle?.preStop?.exec?.command;
    const preStopMs = Array.isArray(preStop) && preStop[0] === 'sleep' ? Number(preStop[1]) * 1000 : 0;
    const termMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
    if (termMs < preStopMs + graceMs) problems.push(`${name}: terminationGracePeriodSeconds ${termMs / 1000} < preStop ${preStopMs / 1000} s + SHUTDOWN_GRACE_MS ${graceMs / 1000} s`);

    // environment against the service's config schema
    const mod = require(join(root, 'services', name, 'src', 'config.ts')) as Record<string, unknown>;
    const schema = Object.entries(mod).find(([k, v]) => k.endsWith('Env') && v && typeof v === 'object')?.[1] as Record<string, { default?: unknown }> | undefined;
    if (!schema) {
      problems.push(`${name}: config.ts exports no *Env schema`);
      continue;
    }
    const env = (c.env ?? []) as { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { key: string } } }[];
    const fromConfigMap = (c.envFrom ?? []).some((e: { configMapRef?: { name: string } }) => e.configMapRef?.name === 'omni-config') ? Object.keys(config) : [];
    const set = new Set([...env.map((e) => e.name), ...fromConfigMap]);
    for (const v of set) if (!(v in schema) && v !== 'SERVICE') problems.push(`${name}: sets ${v}, which the service does not read`);
    for (const [v, def] of Object.entries(schema)) if (def.default === undefined && !set.has(v)) problems.push(`${name}: required variable ${v} is not set`);
    for (const e of env) {
      if (!SECRET.test(e.name)) continue;
      const ref = e.valueFrom?.secretKeyRef;
      if (!ref) problems.push(`${name}: ${e.name} must come from a Secret`);
      else if (!secretKeys.has(ref.key)) problems.push(`${name}: ${e.name} reads key ${ref.key}, which secrets.example.yaml does not show`);
    }
    for (const k of fromConfigMap) if (SECRET.test(k)) problems.push(`omni-config holds ${k}, a secret`);
  }

  // 4. kustomization
  const kust = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
  for (const f of files) if (f !== 'secrets.example.yaml' && !(kust.resources ?? []).includes(f)) problems.push(`kustomization.yaml does not list ${f}`);
  for (const r of kust.resources ?? []) if (!files.includes(r)) problems.push(`kustomization.yaml lists ${r}, which does not exist`);

  if (problems.length > 0) {
    console.error(`k8s-check: ${problems.length} problem(s)\n- ${problems.join('\n- ')}`);
    process.exit(1);
  }
  console.log(`k8s-check: ${docs.length} manifests valid against the Kubernetes schemas; ${folders.length} services checked`);
}

main().catch((err: Error) => {
  console.error(`k8s-check: ${err.stack ?? err.message}`);
  process.exit(1);
});
