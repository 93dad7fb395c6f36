import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/** A service running as its own process (its real main.ts), and what it printed. */
export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  url: string;
  lines: string[];
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  stop: (graceMs?: number) => Promise<void>;
}

/**
 * Starts `services/<name>/src/main.ts` with exactly `env` (plus PATH) and resolves once it logged
 * "listening on <url>" (so LOG_LEVEL must be info or lower); rejects if it exits or takes too long.
 */
export function startServiceProcess(name: string, env: NodeJS.ProcessEnv, timeoutMs = 120000): Promise<ServiceProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', name, 'src', 'main.ts')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let buf = '';
    let started = false;
    const stop = async (graceMs = 20000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(t);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const line of parts) {
        // keep the last lines only: a long run must not grow memory
        lines.push(line);
        if (lines.length > 5000) lines.splice(0, 1000);
        const m = started ? null : /listening on (http:\/\/[^\s"]+)/.exec(line);
        if (m) {
          started = true;
          clearTimeout(timer);
          resolve({ name, child, url: m[1]!, lines, stop });
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`${name} exited with ${signal ?? code}:\n${lines.slice(-20).join('\n')}`));
    });
  });
}

/** CPU seconds a process has used so far (user + system, from /proc; 0 where there is no /proc). */
export function processCpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
