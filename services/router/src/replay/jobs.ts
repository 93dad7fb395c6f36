import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import {
  failStaleReplayJobs,
  finishReplayJob,
  getReplayJob,
  heartbeatReplayJobs,
  insertReplayJob,
  listReplayJobs,
  saveReplayProgress,
  type ReplayTarget,
  type StoredReplayJob,
} from '../store/replay-jobs';
import type { Report } from './report';
import type { ReplayProgress } from './run';

/**
 * Replays run in the background for the admin API: each job is a child process running the CLI
 * (`node --import tsx cli.ts … --progress`), so a week's CPU-bound simulation and its memory never
 * block or bloat the router's event loop. Progress comes from the child's JSON lines, the report
 * from its --out file; both are kept in router.replay_jobs (store/replay-jobs.ts), so every replica
 * lists every job and a restart never loses one: a job whose router stopped is marked failed (on
 * shutdown at once, after a crash once its heartbeat is REPLAY_JOB_STALE_MS old). One job runs at
 * a time per replica (the machine's cores are the routers').
 */
export interface ReplayRequest {
  from: string;
  to: string;
  warmupFrom?: string;
  toleranceMs?: number;
  config: unknown;
}

export type ReplayJob = StoredReplayJob & { report?: Report };

const CLI = join(__dirname, 'cli.ts');
/** progress is written at most this often (the child reports every 20,000 simulation events) */
const PROGRESS_WRITE_MS = 500;

export class ReplayJobs {
  private readonly children = new Map<string, ChildProcess>();
  /** each running job's end: its row written (done or failed) */
  private readonly ends = new Map<string, Promise<void>>();
  private reserved = 0;
  private heartbeat?: NodeJS.Timeout;

  constructor(private readonly opts: { env: NodeJS.ProcessEnv; pool: Pool; maxRunning?: number; staleMs?: number }) {}

  private get staleMs(): number {
    return this.opts.staleMs ?? 30_000;
  }

  /** At start-up: jobs left running by a router that is gone are marked failed. */
  async recover(): Promise<number> {
    this.heartbeat ??= setInterval(() => void heartbeatReplayJobs(this.opts.pool, [...this.children.keys()]).catch(() => undefined), Math.max(200, Math.floor(this.staleMs / 3)));
    this.heartbeat.unref();
    return failStaleReplayJobs(this.opts.pool, this.staleMs);
  }

  get running(): number {
    return this.children.size + this.reserved;
  }

  /** as many jobs running on this replica as allowed: a start now would be refused */
  get busy(): boolean {
    return this.running >= (this.opts.maxRunning ?? 1);
  }

  /**
   * Starts a job (its row first, then the child process); undefined when as many are running on this
   * replica as allowed. `target`: the draft version it is run for (activate after replay).
   */
  async start(req: ReplayRequest, createdBy: string, target?: ReplayTarget): Promise<ReplayJob | undefined> {
    if (this.busy) return undefined;
    this.reserved++; // synchronously: a second request in the same tick is refused
    const id = `replay_${randomBytes(8).toString('hex')}`;
    const { config: _config, ...request } = req;
    let job: ReplayJob;
    try {
      job = (await insertReplayJob(this.opts.pool, { id, request, progress: { phase: 'reading', share: 0 }, createdBy, ...(target ? { target } : {}) })) as ReplayJob;
    } finally {
      this.reserved--;
    }
    this.launch(id, req);
    return job;
  }

  private launch(id: string, req: ReplayRequest): void {
    const pool = this.opts.pool;
    const dir = mkdtempSync(join(tmpdir(), 'omni-replay-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(req.config));
    const args = ['--import', 'tsx', CLI, '--from', req.from, '--to', req.to, '--config', join(dir, 'config.json'), '--out', join(dir, 'report.json'), '--progress'];
    if (req.warmupFrom) args.push('--warmup-from', req.warmupFrom);
    if (req.toleranceMs !== undefined) args.push('--tolerance-ms', String(req.toleranceMs));
    const child = spawn(process.execPath, args, { env: { ...this.opts.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
    this.children.set(id, child);
    let buf = '';
    const errors: string[] = [];
    let lastWrite = 0;
    let writing: Promise<void> = Promise.resolve();
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const v = JSON.parse(line) as { progress?: ReplayProgress };
          if (v.progress) {
            const now = Date.now();
            if (now - lastWrite >= PROGRESS_WRITE_MS || v.progress.phase !== 'baseline') {
              lastWrite = now;
              const p = v.progress;
              writing = writing.then(() => saveReplayProgress(pool, id, { ...p })).catch(() => undefined);
            }
            continue;
          }
        } catch {
          // not a progress line
        }
        errors.push(line);
        if (errors.length > 20) errors.shift();
      }
    });
    let ended: () => void = () => undefined;
    this.ends.set(id, new Promise<void>((r) => (ended = r)));
    child.on('close', (code, signal) => {
      void (async () => {
        await writing;
        try {
          if (code !== 0) throw new Error(errors.join('\n').slice(-2000) || (signal ? `replay stopped by ${signal}` : `replay exited with ${code}`));
          const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
          await finishReplayJob(pool, id, { status: 'done', report, progress: { phase: 'report', share: 1 } });
        } catch (err) {
          await finishReplayJob(pool, id, { status: 'failed', error: (err as Error).message || 'replay failed' }).catch(() => undefined);
        } finally {
          rmSync(dir, { recursive: true, force: true });
          this.children.delete(id);
          this.ends.delete(id);
          ended();
        }
      })();
    });
  }

  async get(id: string): Promise<ReplayJob | undefined> {
    await failStaleReplayJobs(this.opts.pool, this.staleMs);
    return (await getReplayJob(this.opts.pool, id)) as ReplayJob | undefined;
  }

  async list(target?: ReplayTarget): Promise<ReplayJob[]> {
    await failStaleReplayJobs(this.opts.pool, this.staleMs);
    return (await listReplayJobs(this.opts.pool, 50, target)) as ReplayJob[];
  }

  /** Stops running jobs (on shutdown): each is marked failed ("the router shut down"), never left running. */
  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    const ids = [...this.children.keys()];
    const ends = [...this.ends.values()];
    // marked first, so the row says why even though the child's exit is seen afterwards (only a running row is updated)
    for (const id of ids) await finishReplayJob(this.opts.pool, id, { status: 'failed', error: 'interrupted: the router shut down before it finished' }).catch(() => undefined);
    for (const c of this.children.values()) c.kill('SIGTERM');
    await Promise.all(ends);
  }
}
