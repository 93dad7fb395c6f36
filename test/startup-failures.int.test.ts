/**
 * Bad configuration ends a service at start-up with exit code 1 and one fatal log line naming the
 * problem — not a crash loop or a raw stack trace. Runs the real entry point as a child process.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..');

function runMain(service: string, env: Record<string, string>, timeoutMs = 90000): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', service, 'src', 'main.ts')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${service} did not exit within ${timeoutMs} ms; output:\n${out.slice(-2000)}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, lines: out.split('\n').filter(Boolean) });
    });
  });
}

function fatalLines(lines: string[]): { msg: string }[] {
  return lines
    .map((l) => {
      try {
        return JSON.parse(l) as { level: number; msg: string };
      } catch {
        return { level: -1, msg: l };
      }
    })
    .filter((l) => l.level === 60);
}

describe('start-up with bad configuration', () => {
  const good = () => ({ KAFKA_BROKERS: process.env.KAFKA_BROKERS!, DATABASE_URL: process.env.DATABASE_URL! });

  it('names an invalid variable', async () => {
    const r = await runMain('router', { ...good(), KAFKA_TOPIC_PARTITIONS: 'many' });
    expect(r.code).toBe(1);
    const fatal = fatalLines(r.lines);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.msg).toMatch(/router failed to start: invalid configuration: .*KAFKA_TOPIC_PARTITIONS/);
  });

  it('names an unreachable database', async () => {
    const r = await runMain('history', { ...good(), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/omni' });
    expect(r.code).toBe(1);
    const fatal = fatalLines(r.lines);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.msg).toMatch(/history failed to start: postgres unreachable at DATABASE_URL/);
    expect(r.lines.some((l) => l.startsWith('    at '))).toBe(false);
  });

  it('names an unreachable broker', async () => {
    const r = await runMain('ingest-chat', { ...good(), KAFKA_BROKERS: '127.0.0.1:1' });
    expect(r.code).toBe(1);
    const fatal = fatalLines(r.lines);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.msg).toMatch(/ingest-chat failed to start: kafka unreachable at KAFKA_BROKERS \(127\.0\.0\.1:1\)/);
    expect(r.lines.some((l) => l.startsWith('    at '))).toBe(false);
  });
});
