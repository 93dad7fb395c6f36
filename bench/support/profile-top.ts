/**
 * Summarises a V8 .cpuprofile (node --cpu-prof; bench:router writes them with BENCH_CPU_PROF=<dir>):
 * the busy share, self time per package (node_modules/<pkg>, the project's own files, node
 * internals, GC, native) and the top functions by self time.
 *
 *   node --import tsx bench/support/profile-top.ts <file.cpuprofile> [top=25] [window]
 *
 * window `A-B` keeps the samples from A to B seconds before the profile's end (e.g. `35-3` for the
 * idle phase of bench:router, whose services stop right after it).
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const [file, topArg, windowArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top.ts <file.cpuprofile> [top]');
const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const [fromEnd, toEnd] = windowArg ? windowArg.split('-').map((x) => Number(x) * 1e6) : [Infinity, 0];
const self = new Map<number, number>();
let t = p.startTime;
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0;
  if (p.endTime - t > fromEnd! || p.endTime - t < toEnd!) continue;
  const ms = (p.timeDeltas[i] ?? 0) / 1000;
  total += ms;
  self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + ms);
}

const where = (n: Node): string => {
  const { functionName: f, url } = n.callFrame;
  if (f === '(idle)' || f === '(program)' || f === '(garbage collector)') return f;
  if (!url) return '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const own = /\/(services\/[^/]+|libs\/[^/]+|bench)\//.exec(url);
  return own ? own[1]! : url;
};
const groups = new Map<string, number>();
const fns = new Map<string, number>();
for (const [id, ms] of self) {
  const n = byId.get(id)!;
  groups.set(where(n), (groups.get(where(n)) ?? 0) + ms);
  const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(services|libs|bench)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  fns.set(key, (fns.get(key) ?? 0) + ms);
}
const idle = groups.get('(idle)') ?? 0;
const busy = total - idle;
const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1)}%`.padStart(6);
const out = [`${file}: ${(total / 1000).toFixed(1)} s profiled, busy ${(busy / 1000).toFixed(2)} s (${((100 * busy) / total).toFixed(0)}%); shares of busy time:`];
out.push('  by package:');
for (const [k, ms] of [...groups].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 15)) out.push(`  ${pct(ms)}  ${k}`);
out.push('  top functions (self time):');
for (const [k, ms] of [...fns].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25))) out.push(`  ${pct(ms)}  ${k}`);
process.stdout.write(out.join('\n') + '\n');
