/**
 * npm run replay -- --from 2026-11-20T09:00:00Z --to 2026-11-21T00:00:00Z --config proposal.json [--out report.json] [--tolerance-ms 1000]
 *                    [--warmup-from 2026-11-20T03:00:00Z]  (replay from a quiet point before the window; the report covers the window)
 *                    [--progress]  (JSON progress lines on stderr)
 *
 * Reads the window from Kafka (KAFKA_BROKERS, KAFKA_TOPIC_SUFFIX) and the router's PostgreSQL
 * (DATABASE_URL, read only), replays it in memory with the baseline and the proposed configuration
 * and prints the report (the full JSON with every changed conversation's decision record to --out).
 * Never writes to Kafka or to the router's tables. docs/replay.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Pool } from 'pg';
import pino from 'pino';
import { topicNames } from '@omni/contracts';
import { createKafka } from '@omni/kafka';
import { renderReport } from './report';
import { runReplay } from './run';

function fail(msg: string): never {
  process.stderr.write(`replay: ${msg}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { from: { type: 'string' }, to: { type: 'string' }, config: { type: 'string' }, out: { type: 'string' }, 'tolerance-ms': { type: 'string' }, 'warmup-from': { type: 'string' }, progress: { type: 'boolean' } },
    strict: true,
  });
  const from = Date.parse(values.from ?? '');
  const to = Date.parse(values.to ?? '');
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) fail('--from and --to must be ISO times with --from before --to');
  const warmupFrom = values['warmup-from'] !== undefined ? Date.parse(values['warmup-from']) : undefined;
  if (warmupFrom !== undefined && !(Number.isFinite(warmupFrom) && warmupFrom <= from)) fail('--warmup-from must be an ISO time not after --from');
  const toleranceMs = values['tolerance-ms'] !== undefined ? Number(values['tolerance-ms']) : undefined;
  if (toleranceMs !== undefined && !(Number.isInteger(toleranceMs) && toleranceMs >= 0)) fail('--tolerance-ms must be a non-negative integer');
  if (!values.config) fail('--config <file> is required (a JSON { baseline?, proposed }: see docs/replay.md)');
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(values.config, 'utf8'));
  } catch (err) {
    fail(`cannot read ${values.config}: ${(err as Error).message}`);
  }
  const brokers = process.env.KAFKA_BROKERS ?? fail('KAFKA_BROKERS is not set');
  const databaseUrl = process.env.DATABASE_URL ?? fail('DATABASE_URL is not set');
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
  const kafka = createKafka({ brokers, clientId: 'replay', logger });
  const pool = new Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const topics = topicNames(process.env.KAFKA_TOPIC_SUFFIX ?? '');
    const t0 = performance.now();
    const res = await runReplay(
      { kafka, pool, topics, env: process.env },
      { from, to, config, ...(toleranceMs !== undefined ? { toleranceMs } : {}), ...(warmupFrom !== undefined ? { warmupFrom } : {}) },
      // --progress: one JSON line per step on stderr (the admin API's background jobs read them)
      values.progress ? (p) => process.stderr.write(`${JSON.stringify({ progress: p })}\n`) : undefined,
    );
    if (!res.ok) fail(`invalid configuration:\n${res.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    const { report, source } = res.run;
    process.stdout.write(`${renderReport(report)}\n`);
    process.stdout.write(`\nlive rule version ${source.live.ruleVersion} (seen in the window: ${source.live.ruleVersionsSeen.join(', ') || 'none'}); ${source.recording.inputs.length} inputs, ${source.recording.decisions.length} recorded decisions; ${source.skipped.length} skipped; ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    if (values.out) writeFileSync(values.out, JSON.stringify({ ...report, skipped: source.skipped }, null, 2));
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`replay failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
