import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { logger as defaultLogger } from '../log.js';
import { findExecutable, installHint, isExecutable } from '../machine/tools.js';
import { LOCALHOST, once, pingRedis, serverPid, type RedisLog } from './probe.js';

/**
 * The embedded server: a redis-server of our own in `<dataDir>/redis` (append-only persistence,
 * `noeviction`, bound to 127.0.0.1), started detached and found again by the next process through
 * its port file (see connectRedis in redis.ts for when it is used).
 */

/** The well-known local port: tried after the port file, and the embedded server's first choice. */
export const DEFAULT_REDIS_PORT = 6379;

export interface EmbeddedRedis {
  port: number;
  /** Its data dir: AOF, pidfile, logfile, port file. */
  dir: string;
  pid: number;
  url: string;
  /** SHUTDOWN (the AOF is flushed), then waits for the process to end and removes the port file. */
  stop(): Promise<void>;
}

// --- files in the embedded server's dir -------------------------------------------------------

export function embeddedDir(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'redis');
}
const portFile = (dir: string): string => path.join(dir, 'port');
const pidFile = (dir: string): string => path.join(dir, 'redis.pid');
const ownerFile = (dir: string): string => path.join(dir, 'owner');
const logFile = (dir: string): string => path.join(dir, 'redis.log');

function readInt(file: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** The port the embedded server of this data dir says it listens on, if any. */
export function readPortFile(dir: string): number | null {
  const port = readInt(portFile(dir));
  return port !== null && port < 65536 ? port : null;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** redis-server on PATH, else in the usual system folders; null when not installed. */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | null {
  const onPath = findExecutable('redis-server', env);
  if (onPath) return onPath;
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/bin']) {
    const p = path.join(dir, 'redis-server');
    if (isExecutable(p)) return p;
  }
  return null;
}

/** Whether nothing listens on 127.0.0.1:port (we could bind it). */
export function portIsFree(port: number, host = LOCALHOST): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port the kernel says is free right now. */
export function freePort(host = LOCALHOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

function tailOf(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A handle on an embedded server; `child` is set when it is our own child process. */
function embeddedHandle(dir: string, port: number, pid: number, child: ChildProcess | null, log: RedisLog): EmbeddedRedis {
  const url = `redis://${LOCALHOST}:${port}`;
  let stopping: Promise<void> | null = null;
  const exited = (): boolean => (child ? child.exitCode !== null || child.signalCode !== null : !processAlive(pid));
  const waitExit = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (!exited()) {
      if (Date.now() > deadline) return false;
      await sleep(25);
    }
    return true;
  };
  const stop = async (): Promise<void> => {
    if (!exited()) {
      try {
        // The server closes the connection as it goes down: that rejection is the success case.
        await once(url, 2000, (r) => r.call('SHUTDOWN') as Promise<unknown>);
      } catch {
        // checked below
      }
      if (!(await waitExit(10_000))) {
        // SIGTERM is a graceful shutdown too (AOF flushed); SIGKILL only if that hangs.
        log.warn(`embedded Redis (pid ${pid}) did not shut down; sending SIGTERM`);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
        if (!(await waitExit(5000))) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
          await waitExit(2000);
        }
      }
    }
    if (readPortFile(dir) === port) rmSync(portFile(dir), { force: true });
    if (readInt(ownerFile(dir)) === process.pid) rmSync(ownerFile(dir), { force: true });
    log.info(`embedded Redis on port ${port} stopped`);
  };
  return {
    port,
    dir,
    pid,
    url,
    stop: () => (stopping ??= stop()),
  };
}

export interface StartEmbeddedOptions {
  /** Data dir of the server (AOF, pidfile, logfile, port file); created if missing. */
  dir: string;
  /** Default: 6379 when free, else any free port. */
  port?: number;
  log?: RedisLog;
  redisServer?: string;
  /** How long to wait for the server to answer PING. Default 15 s. */
  readyTimeoutMs?: number;
}

/**
 * Starts redis-server as a child of this process: append-only file fsync'd every second and no RDB
 * snapshots, `maxmemory-policy noeviction`, bound to 127.0.0.1, pidfile/logfile in `dir`. Writes
 * `<dir>/port` (for other dancelift processes) and `<dir>/owner` (our pid, so that a later process
 * can adopt the server if we die without stopping it).
 */
export async function startEmbeddedRedis(opts: StartEmbeddedOptions): Promise<EmbeddedRedis> {
  const log = opts.log ?? defaultLogger;
  const bin = opts.redisServer ?? findRedisServer();
  if (!bin) throw new Error(`redis-server is not installed (fix: ${installHint('redis-server')})`);
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const running = await findLiveEmbedded(dir);
  if (running) throw new Error(`an embedded Redis already runs for ${dir} (port ${running.port}, pid ${running.pid})`);
  const explicit = opts.port !== undefined;
  let port = opts.port ?? ((await portIsFree(DEFAULT_REDIS_PORT)) ? DEFAULT_REDIS_PORT : await freePort());

  // A port found free can be taken before redis binds it: try a fresh one a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      const handle = await spawnRedis(bin, dir, port, opts.readyTimeoutMs ?? 15_000, log);
      // Owner first: a process that sees the port file must also see that we own the server.
      writeFileSync(ownerFile(dir), `${process.pid}\n`);
      writeFileSync(portFile(dir), `${port}\n`);
      log.info(`started embedded Redis on port ${port} (pid ${handle.pid}, data in ${dir})`);
      return handle;
    } catch (err) {
      if (explicit || attempt >= 3 || !/address already in use|bind/i.test((err as Error).message)) throw err;
      port = await freePort();
    }
  }
}

async function spawnRedis(bin: string, dir: string, port: number, readyTimeoutMs: number, log: RedisLog): Promise<EmbeddedRedis> {
  const args = [
    '--port', String(port),
    '--bind', LOCALHOST,
    '--daemonize', 'no',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    // AOF only: an RDB snapshot on top would fork and write the whole data set again for nothing.
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--pidfile', pidFile(dir),
    '--logfile', logFile(dir),
  ];
  // detached: its own session and process group, out of reach of the signals a terminal (Ctrl-C) or
  // systemd send to ours; only stop() ends it.
  const child = spawn(bin, args, { cwd: dir, stdio: 'ignore', detached: true });
  // Our exit must not wait for it; if we die without stop(), the next process adopts it.
  child.unref();
  let spawnError: Error | null = null;
  child.once('error', (err) => {
    spawnError = err;
  });
  const url = `redis://${LOCALHOST}:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`cannot run ${bin}: ${(spawnError as Error).message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = tailOf(logFile(dir));
      throw new Error(`redis-server exited at start (code ${child.exitCode ?? child.signalCode})${tail ? `:\n${tail}` : ''}`);
    }
    if ((await pingRedis(url, 500)) === null) {
      // Something answered; make sure it is our child and not a server that took the port meanwhile.
      const pid = await serverPid(url);
      if (pid === child.pid) return embeddedHandle(dir, port, child.pid!, child, log);
      if (pid !== null) {
        child.kill('SIGTERM');
        throw new Error(`port ${port}: address already in use (another Redis, pid ${pid}, answered)`);
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`redis-server on port ${port} did not answer within ${readyTimeoutMs} ms (log: ${logFile(dir)})`);
    }
    await sleep(50);
  }
}

/**
 * The embedded server named by `<dir>/port`, when it still runs: something answers there and its
 * pid is the one in its pidfile (so a stale port file and a stranger on that port are ignored).
 */
export async function findLiveEmbedded(dir: string): Promise<{ port: number; pid: number } | null> {
  const port = readPortFile(dir);
  if (port === null) return null;
  const url = `redis://${LOCALHOST}:${port}`;
  const pid = await serverPid(url);
  const recorded = readInt(pidFile(dir));
  if (pid === null || recorded === null || pid !== recorded) return null;
  return { port, pid };
}

/**
 * Runs `fn` holding `<dir>/start.lock` (created exclusively). A lock older than `staleMs` is taken to
 * be left by a process that died while starting the server.
 */
export async function withStartLock<T>(dir: string, fn: () => Promise<T>, staleMs = 30_000): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'start.lock');
  const deadline = Date.now() + staleMs + 5000;
  for (;;) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let age = 0;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      const holder = readInt(lock);
      if (age > staleMs || (holder !== null && holder !== process.pid && !processAlive(holder))) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/**
 * A server left running by a dancelift that died without stopping it (its owner file names no live
 * process) is ours to stop now: the handle that adopts it, or null while its owner lives.
 */
export function adoptOrphan(dir: string, live: { port: number; pid: number }, log: RedisLog): EmbeddedRedis | null {
  const owner = readInt(ownerFile(dir));
  if (owner !== null && processAlive(owner)) return null;
  writeFileSync(ownerFile(dir), `${process.pid}\n`);
  return embeddedHandle(dir, live.port, live.pid, null, log);
}
