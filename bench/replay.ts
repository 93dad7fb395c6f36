/**
 * npm run bench:replay — replay throughput on a generated week: 100,000 conversations, 200 agents
 * (BENCH_REPLAY_CONVERSATIONS / BENCH_REPLAY_AGENTS / BENCH_REPLAY_DAYS to change), beside a
 * baseline measured in the same run: iterating the same inputs and classifying every message with
 * the same compiled rules, without the lifecycle, the matcher or the event queue.
 * Prints conversations/s, the week's wall time (goal < 60 s) and memory (heap used, peak RSS).
 */
import { performance } from 'node:perf_hooks';
import { classify, compileRules } from '../services/router/src/domain/classify';
import { DEFAULT_RULES } from '../services/router/src/domain/default-rules';
import { RecordedBehaviour } from '../services/router/src/replay/behaviour';
import { DEFAULT_POLICY } from '../services/router/src/replay/config';
import { replay } from '../services/router/src/replay/engine';
import { generateRecording, ScriptedBehaviour } from '../services/router/src/replay/generate';
import { compare, renderReport } from '../services/router/src/replay/report';
import type { ReplayConfig } from '../services/router/src/replay/types';

const conversations = Number(process.env.BENCH_REPLAY_CONVERSATIONS ?? 100_000);
const agents = Number(process.env.BENCH_REPLAY_AGENTS ?? 200);
const days = Number(process.env.BENCH_REPLAY_DAYS ?? 7);
const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;
const maxRss = () => process.resourceUsage().maxRSS * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

function timed<T>(label: string, f: () => T): { value: T; ms: number } {
  gc?.();
  const t0 = performance.now();
  const value = f();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(58)} ${(ms / 1000).toFixed(2).padStart(7)} s   heap ${mb(process.memoryUsage().heapUsed).padStart(7)}   peak RSS ${mb(maxRss()).padStart(7)}`);
  return { value, ms };
}

const live: ReplayConfig = { name: 'live', rules: DEFAULT_RULES, ruleVersion: 1, policy: DEFAULT_POLICY };
const proposed: ReplayConfig = { ...live, name: 'orders-shipping → tier 2', rules: DEFAULT_RULES.map((r) => (r.id === 'orders-shipping' ? { ...r, then: { ...r.then, tier: 2 } } : r)), ruleVersion: 2 };

console.log(`bench:replay — ${conversations} conversations, ${agents} agents, ${days} days; node ${process.version}; start RSS ${mb(process.memoryUsage().rss)}`);
const start = Date.UTC(2026, 10, 2);
const gen = timed('generate the week (inputs: messages + presence)', () => generateRecording({ seed: 42, start, days, conversations, agents }));
const rec = gen.value;
const messages = rec.inputs.filter((i) => i.kind === 'message').length;
console.log(`  ${rec.inputs.length} inputs (${messages} messages)`);

const base = timed('baseline: sort the inputs + classify every message', () => {
  const compiled = compileRules(DEFAULT_RULES);
  const sorted = [...rec.inputs].sort((a, b) => a.at - b.at);
  let n = 0;
  for (const i of sorted) if (i.kind === 'message') n += classify(compiled, { channel: i.message.channel, text: i.message.text, ...(i.message.language ? { language: i.message.language } : {}) }).tier;
  return n;
});

const rssBeforeReplay = maxRss();
const scripted = timed('"live": replay with the scripted agents (records decisions)', () => replay(rec, live, new ScriptedBehaviour(42)));
const recorded = { ...rec, decisions: scripted.value.decisions };
console.log(`  ${scripted.value.decisions.length} decisions, ${scripted.value.events} simulation events`);
const learn = timed('learn agent behaviour from the recorded decisions', () => new RecordedBehaviour(recorded.decisions));
const baseline = timed('replay, live configuration (recorded agents)', () => replay(recorded, live, learn.value));
const prop = timed('replay, proposed configuration (recorded + modelled agents)', () => replay(recorded, proposed, new RecordedBehaviour(recorded.decisions)));
const report = timed('report (summaries, changed conversations, faithfulness)', () => compare(baseline.value, prop.value, live.policy, proposed.policy, recorded.decisions));

const perS = (ms: number) => Math.round((conversations * 1000) / ms);
console.log('');
console.log(`baseline (classify only):          ${perS(base.ms).toLocaleString('en')} conversations/s (${(base.ms / 1000).toFixed(2)} s)`);
console.log(`replay, live config:               ${perS(baseline.ms).toLocaleString('en')} conversations/s — the week in ${(baseline.ms / 1000).toFixed(2)} s (goal < 60 s): ${baseline.ms < 60_000 ? 'met' : 'NOT met'}; ${(baseline.ms / base.ms).toFixed(1)}× the baseline`);
console.log(`replay, proposed config:           ${perS(prop.ms).toLocaleString('en')} conversations/s (${(prop.ms / 1000).toFixed(2)} s)`);
console.log(`what-if end to end (2 replays + learning + report): ${((learn.ms + baseline.ms + prop.ms + report.ms) / 1000).toFixed(2)} s`);
console.log(`peak RSS ${mb(maxRss())} (before the replays: ${mb(rssBeforeReplay)}), heap used now ${mb(process.memoryUsage().heapUsed)}`);
console.log(`faithfulness of the live-config replay: ${report.value.faithfulness?.sharePct} % of ${report.value.faithfulness?.conversations} conversations`);
console.log('');
console.log(renderReport(report.value, 5));
