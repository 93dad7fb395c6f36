import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from './report';
import type { ReplayProgress } from './run';

/**
 * Replays run in the background for the admin API: each job is a child process running the CLI
 * (`node --import tsx cli.ts … --progress`), so a week's CPU-bound simulation and its memory never
 * block or bloat the router's event loop. Progress comes from the child's JSON lines, the report
 * from its --out file. Jobs live in this replica's memory (the last `keep`), one running at a time
 * per replica (the machine's cores are the routers').
 */
export interface ReplayRequest {
  from: string;
  to: string;
  warmupFrom?: string;
  toleranceMs?: number;
  config: unknown;
}

export interface ReplayJob {
  id: string;
  status: 'running' | 'done' | 'failed';
  createdAt: string;
  finishedAt?: string;
  request: Omit<ReplayRequest, 'config'>;
  progress: ReplayProgress;
  report?: Report;
  error?: string;
}

const CLI = join(__dirname, 'cli.ts');

export class ReplayJobs {
  private readonly jobs = new Map<string, ReplayJob>();
  private readonly children = new Map<string, ChildProcess>();

  constructor(private readonly opts: { env: NodeJS.ProcessEnv; keep?: number; maxRunning?: number }) {}

  get running(): number {
    return this.children.size;
  }

  /** Starts a job; undefined when as many are running as allowed. */
  start(req: ReplayRequest): ReplayJob | undefined {
    if (this.children.size >= (this.opts.maxRunning ?? 1)) return undefined;
    const id = `replay_${randomBytes(8).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'omni-replay-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(req.config));
    const args = ['--import', 'tsx', CLI, '--from', req.from, '--to', req.to, '--config', join(dir, 'config.json'), '--out', join(dir, 'report.json'), '--progress'];
    if (req.warmupFrom) args.push('--warmup-from', req.warmupFrom);
    if (req.toleranceMs !== undefined) args.push('--tolerance-ms', String(req.toleranceMs));
    const { config: _config, ...request } = req;
    const job: ReplayJob = { id, status: 'running', createdAt: new Date().toISOString(), request, progress: { phase: 'reading', share: 0 } };
    this.jobs.set(id, job);
    this.prune();
    const child = spawn(process.execPath, args, { env: { ...this.opts.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
    this.children.set(id, child);
    let buf = '';
    const errors: string[] = [];
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const v = JSON.parse(line) as { progress?: ReplayProgress };
          if (v.progress) {
            job.progress = v.progress;
            continue;
          }
        } catch {
          // not a progress line
        }
        errors.push(line);
        if (errors.length > 20) errors.shift();
      }
    });
    child.on('close', (code) => {
      this.children.delete(id);
      job.finishedAt = new Date().toISOString();
      try {
        if (code !== 0) throw new Error(errors.join('\n').slice(-2000) || `replay exited with ${code}`);
        job.report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
        job.status = 'done';
        job.progress = { phase: 'report', share: 1 };
      } catch (err) {
        job.status = 'failed';
        job.error = (err as Error).message;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    return job;
  }

  get(id: string): ReplayJob | undefined {
    return this.jobs.get(id);
  }

  list(): ReplayJob[] {
    return [...this.jobs.values()].reverse();
  }

  private prune(): void {
    const keep = this.opts.keep ?? 20;
    for (const [id, j] of this.jobs) {
      if (this.jobs.size <= keep) break;
      if (j.status !== 'running') this.jobs.delete(id);
    }
  }

  /** Stops running jobs (on shutdown). */
  async stop(): Promise<void> {
    const waits = [...this.children.values()].map((c) => new Promise<void>((r) => c.once('close', () => r())));
    for (const c of this.children.values()) c.kill('SIGTERM');
    await Promise.all(waits);
  }
}
