/**
 * Knowledge search latency over BENCH_ARTICLES (50,000) generated articles in Spanish and English:
 * p50/p99 of `GET /v1/articles?q=…&language=…` on the real service (ranked full text in the
 * language's configuration, unaccented, trigram typo tolerance, one per translation group,
 * ts_headline highlights) at a fixed query rate, beside, in the same run and at the same rate:
 *  - the service's search SQL called directly (no HTTP), and
 *  - a raw PostgreSQL full-text query of the same kind (websearch_to_tsquery on the GIN index,
 *    ts_rank_cd, LIMIT 20; no typo tolerance, no highlights) — the floor.
 * Queries mix accented, unaccented and misspelt forms of words that occur in the articles.
 *
 *   npm run bench:knowledge
 *   BENCH_ARTICLES=50000 BENCH_RATE=20 BENCH_SECONDS=15 npm run bench:knowledge
 *
 * Needs KAFKA_BROKERS and DATABASE_URL (defaults: 127.0.0.1:9092, postgres://postgres@127.0.0.1:5432/postgres).
 * Creates its own database and topics and removes them afterwards.
 */
import type { Pool } from 'pg';
import pino from 'pino';
import { createWorld } from '../test/support/infra';
import { testToken } from '../test/support/tokens';
import { readConfig } from '../services/knowledge/src/config';
import { start } from '../services/knowledge/src/start';
import { searchArticles } from '../services/knowledge/src/store/search';

process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
const ARTICLES = Number(process.env.BENCH_ARTICLES ?? 50_000);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);

const ES = ['contraseña', 'cuenta', 'acceso', 'pedido', 'envío', 'devolución', 'reembolso', 'factura', 'impresora', 'conexión', 'wifi', 'router', 'aplicación', 'actualización', 'instalación', 'error', 'pantalla', 'teléfono', 'móvil', 'correo', 'sesión', 'bloqueada', 'tarjeta', 'pago', 'garantía', 'configuración', 'sincronización', 'descarga', 'batería', 'cámara', 'mensaje', 'notificación', 'suscripción', 'dirección', 'entrega', 'almacén', 'transportista', 'código', 'verificación', 'seguridad'];
const EN = ['password', 'account', 'access', 'order', 'shipping', 'return', 'refund', 'invoice', 'printer', 'connection', 'wifi', 'router', 'application', 'update', 'installation', 'error', 'screen', 'phone', 'mobile', 'email', 'session', 'locked', 'card', 'payment', 'warranty', 'settings', 'synchronisation', 'download', 'battery', 'camera', 'message', 'notification', 'subscription', 'address', 'delivery', 'warehouse', 'carrier', 'code', 'verification', 'security'];
const SYL = ['ka', 'lo', 'mi', 'tes', 'ran', 'pu', 'der', 'ven', 'so', 'tri', 'mal', 'cor', 'bi', 'nu', 'fe', 'gal', 'ho', 'zen', 'pla', 'qui'];

let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)]!;
const synthetic = () => pick(SYL) + pick(SYL) + pick(SYL);
// support words are a small share of a body (as in a real knowledge base, where "contraseña" is in a few
// percent of the articles, not half of them); titles are more topical
const words = (vocab: string[], n: number, share: number) => Array.from({ length: n }, () => (rnd() < share ? pick(vocab) : synthetic())).join(' ');
const unaccent = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '');
const typo = (s: string) => {
  const i = 2 + Math.floor(rnd() * (s.length - 3));
  return s.slice(0, i) + s.slice(i + 1);
};

async function load(pool: Pool) {
  const t0 = Date.now();
  const CATS = ['access-passwords', 'orders-shipping', 'connectivity', 'returns-refunds', 'device-setup', 'installs-updates', 'user-accounts', 'error-messages'];
  for (let off = 0; off < ARTICLES; off += 2000) {
    const n = Math.min(2000, ARTICLES - off);
    const cols: string[][] = [[], [], [], [], [], []];
    for (let i = 0; i < n; i++) {
      const k = off + i;
      const lang = k % 2 === 0 ? 'es' : 'en';
      const vocab = lang === 'es' ? ES : EN;
      cols[0]!.push(`bench-${k}`);
      cols[1]!.push(`bench-g${Math.floor(k / 2)}`);
      cols[2]!.push(lang);
      cols[3]!.push(words(vocab, 6, 0.2));
      cols[4]!.push(words(vocab, 80, 0.03));
      cols[5]!.push(pick(CATS));
    }
    await pool.query(
      `INSERT INTO knowledge.articles (id, translation_group, language, title, body, category, tags, tier, status, version, created_by, updated_by)
       SELECT id, g, l, t, b, c, '{}', 1, 'published', 1, 'bench', 'bench' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS x(id, g, l, t, b, c)`,
      cols,
    );
  }
  await pool.query('ANALYZE knowledge.articles');
  return (Date.now() - t0) / 1000;
}

function queries(): { q: string; language: string }[] {
  const out: { q: string; language: string }[] = [];
  for (let i = 0; i < 500; i++) {
    const es = i % 2 === 0;
    const vocab = es ? ES : EN;
    let q = rnd() < 0.5 ? pick(vocab) : `${pick(vocab)} ${pick(vocab)}`;
    const r = rnd();
    if (r < 0.3) q = unaccent(q);
    else if (r < 0.5) q = typo(q);
    out.push({ q, language: es ? 'es' : 'en' });
  }
  return out;
}

/** Runs `fn` for each query at RATE per second (open loop: a slow answer does not delay the next send) and returns latencies in ms. */
async function atRate(qs: { q: string; language: string }[], fn: (q: { q: string; language: string }) => Promise<unknown>) {
  const total = RATE * SECONDS;
  const lat: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const q = qs[i % qs.length]!;
    pending.push(
      (async () => {
        const s = performance.now();
        try {
          await fn(q);
          lat.push(performance.now() - s);
        } catch {
          errors++;
        }
      })(),
    );
  }
  await Promise.all(pending);
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
  return { n: lat.length, errors, achieved: lat.length / secs, p50: pct(50), p99: pct(99), max: lat[lat.length - 1] ?? NaN };
}

async function main() {
  const world = await createWorld('benchknowledge');
  const logger = pino({ level: 'warn' });
  const svc = await start(readConfig(world.env({ LOG_LEVEL: 'warn', KNOWLEDGE_GROUP_ID: world.groupId('knowledge') })), logger);
  try {
    console.log(`loading ${ARTICLES} articles (es/en, 6-word titles 20% support words, 80-word bodies 3%)…`);
    const loadS = await load(svc.pool);
    console.log(`loaded in ${loadS.toFixed(1)} s`);
    const qs = queries();
    const token = testToken('agent', 'bench-agent');
    const http = async (q: { q: string; language: string }) => {
      const res = await fetch(`${svc.url}/v1/articles?q=${encodeURIComponent(q.q)}&language=${q.language}&limit=10`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(String(res.status));
      const body = (await res.json()) as { articles: unknown[] };
      return body.articles.length;
    };
    const direct = (q: { q: string; language: string }) => searchArticles(svc.pool, { text: q.q, mode: 'all-words', language: q.language, limit: 10 });
    const raw = (q: { q: string; language: string }) =>
      svc.pool.query(
        `SELECT a.id, ts_rank_cd(a.tsv, query, 32) AS rank
         FROM knowledge.articles a, websearch_to_tsquery(knowledge.ts_config_for($2::text), knowledge.f_unaccent($1::text)) query
         WHERE a.tsv @@ query AND a.status = 'published' ORDER BY rank DESC LIMIT 10`,
        [q.q, q.language],
      );
    // warm the caches the same way for each arm
    for (const q of qs.slice(0, 50)) {
      await http(q);
      await raw(q);
    }
    let found = 0;
    for (const q of qs) if (((await direct(q)) as unknown[]).length > 0) found++;
    const rows: [string, Awaited<ReturnType<typeof atRate>>][] = [];
    rows.push(['raw PostgreSQL FTS (baseline)', await atRate(qs, raw)]);
    rows.push(['service search SQL (no HTTP)', await atRate(qs, direct)]);
    rows.push(['GET /v1/articles?q= (HTTP)', await atRate(qs, http)]);
    // the baseline again, last: how much of the difference is the order of the arms (cache, neighbours)
    rows.push(['raw PostgreSQL FTS, again', await atRate(qs, raw)]);
    console.log(`\n${ARTICLES} articles, ${qs.length} distinct queries (30% unaccented, 20% misspelt), ${RATE} queries/s for ${SECONDS} s per arm; ${found}/${qs.length} queries found something via the service search`);
    console.log('| arm | queries | errors | achieved q/s | p50 ms | p99 ms | max ms |');
    console.log('|---|---|---|---|---|---|---|');
    for (const [name, r] of rows) console.log(`| ${name} | ${r.n} | ${r.errors} | ${r.achieved.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} |`);
  } finally {
    await svc.close();
    await world.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
