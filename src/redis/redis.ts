import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';
import { logger as defaultLogger, type Logger } from '../log.js';
import { findExecutable, installHint, isExecutable } from '../machine/tools.js';
import { createOutageLog, type OutageLog } from './outage.js';

/**
 * Where the queue's Redis comes from, in this order:
 * 1. `redis.url` (REDIS_URL) when set: it must answer, or we stop with a clear error;
 * 2. the embedded server another dancelift process started, named by `<dataDir>/redis/port`;
 * 3. 127.0.0.1:6379 when something answers PING there within about a second;
 * 4. when `redis.embedded` is on and `redis-server` is installed, a server of our own: data in
 *    `<dataDir>/redis`, append-only persistence, `maxmemory-policy noeviction`, bound to 127.0.0.1.
 *    It runs detached, in a session (and process group) of its own, so that a Ctrl-C or a service
 *    manager's stop signal to dancelift's group does not reach it: the graceful hand-back that follows
 *    still has its Redis, and `close()` then shuts it down (AOF flushed). If we die without closing
 *    it, it lives on and the next dancelift process finds it through the port file and adopts it.
 * Whatever the source, `maxmemory-policy` is checked (BullMQ needs `noeviction`) and set when allowed.
 */

export const DEFAULT_REDIS_PORT = 6379;
const LOCALHOST = '127.0.0.1';

export type RedisLog = Pick<Logger, 'info' | 'warn' | 'debug' | 'error'>;

export interface EmbeddedRedis {
  port: number;
  /** Its data dir: AOF, pidfile, logfile, port file. */
  dir: string;
  pid: number;
  url: string;
  /** SHUTDOWN (the AOF is flushed), then waits for the process to end and removes the port file. */
  stop(): Promise<void>;
}

export type RedisSource = 'url' | 'port-file' | 'default' | 'embedded';

export interface RedisHandle {
  url: string;
  /** How it was found (see the module comment). */
  source: RedisSource;
  /** The server this process started (or adopted) and stops on close(); null when it belongs to someone else. */
  embedded: EmbeddedRedis | null;
  /** A new ioredis connection as BullMQ wants it (maxRetriesPerRequest: null); closed by close(). */
  connection(): Redis;
  /** One log line per outage for every connection of this handle; BullMQ objects are added with watch(). */
  outage: OutageLog;
  /** Quits every connection made by connection(), then stops the embedded server if it is ours. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  log?: RedisLog;
  /**
   * Whether this process may start a server of its own (default true; `redis.embedded` must be on
   * too). Short-lived commands (submit, jobs, cancel) pass false: a server they started would stop
   * when they exit.
   */
  startEmbedded?: boolean;
  /** The well-known local port tried after the port file (tests use another). Default 6379. */
  defaultPort?: number;
  /** redis-server to run; default: PATH, then /usr/sbin, /usr/bin, /usr/local/bin. */
  redisServer?: string;
  /** How long the default port may take to answer PING. Default 1000 ms. */
  probeTimeoutMs?: number;
}

const outageOfConnection = new WeakMap<Redis, OutageLog>();
/** The outage log of the handle that made `redis` (so a BullMQ object built on it reports there too). */
export function outageOf(redis: Redis): OutageLog | undefined {
  return outageOfConnection.get(redis);
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

// --- probing ---------------------------------------------------------------------------------

/** The URL with its password masked, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@');
  }
}

const quietOptions: RedisOptions = {
  lazyConnect: true,
  maxRetriesPerRequest: 0,
  enableOfflineQueue: false,
  retryStrategy: () => null,
  reconnectOnError: () => false,
};

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` on a short-lived connection that gives up at once instead of retrying. */
async function once<T>(url: string, timeoutMs: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { ...quietOptions, connectTimeout: timeoutMs });
  let lastError: Error | undefined;
  r.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    return await withTimeout(
      (async () => {
        await r.connect();
        return fn(r);
      })(),
      timeoutMs,
      'timed out',
    );
  } catch (err) {
    // ioredis reports a refused connection as "Connection is closed"; the 'error' event has the cause.
    const e = err as Error;
    if (lastError && /Connection is closed/.test(e.message)) throw lastError;
    throw e;
  } finally {
    r.disconnect();
  }
}

/** Null when the server answers PING, else why not. */
export async function pingRedis(url: string, timeoutMs = 1000): Promise<string | null> {
  try {
    const pong = await once(url, timeoutMs, (r) => r.ping());
    return pong === 'PONG' ? null : `unexpected answer to PING: ${pong}`;
  } catch (err) {
    return (err as Error).message || String(err);
  }
}

/** The server's own pid (INFO server), or null when it cannot be read. */
async function serverPid(url: string, timeoutMs = 1000): Promise<number | null> {
  try {
    const info = await once(url, timeoutMs, (r) => r.info('server'));
    const m = /^process_id:(\d+)/m.exec(info);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * BullMQ needs `noeviction`: with any other policy Redis may drop job keys under memory pressure.
 * Sets it when CONFIG is allowed; otherwise logs one line. Returns the policy in force (null: unknown).
 */
export async function ensureNoEviction(redis: Redis, log: RedisLog, where: string): Promise<string | null> {
  let policy: string | null = null;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1] ?? null;
  } catch (err) {
    log.warn(`cannot read maxmemory-policy of Redis at ${where} (${(err as Error).message}); BullMQ needs noeviction: make sure it is set`);
    return null;
  }
  if (policy === 'noeviction') return policy;
  try {
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    log.warn(`Redis at ${where} had maxmemory-policy ${policy}; set it to noeviction (BullMQ needs it; put it in redis.conf to keep it)`);
    return 'noeviction';
  } catch (err) {
    log.warn(`Redis at ${where} has maxmemory-policy ${policy} and it cannot be changed (${(err as Error).message}); BullMQ needs noeviction: jobs may be lost under memory pressure`);
    return policy;
  }
}

// --- the embedded server ---------------------------------------------------------------------

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
async function findLiveEmbedded(dir: string): Promise<{ port: number; pid: number } | null> {
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
async function withStartLock<T>(dir: string, fn: () => Promise<T>, staleMs = 30_000): Promise<T> {
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

// --- connectRedis ----------------------------------------------------------------------------

function noRedisError(config: Config, why: string, defaultPort: number): Error {
  return new Error(
    `no Redis to use: ${why}. Set REDIS_URL (e.g. redis://host:6379) to use a Redis server, run one on ` +
      `${LOCALHOST}:${defaultPort}, or install redis-server (${installHint('redis-server')}) and leave redis.embedded on ` +
      `so that dancelift starts its own (data in ${embeddedDir(config)}).`,
  );
}

/** Finds or starts the Redis this process uses (see the module comment). */
export async function connectRedis(config: Config, opts: ConnectOptions = {}): Promise<RedisHandle> {
  const log = opts.log ?? defaultLogger;
  const defaultPort = opts.defaultPort ?? config.redis.port ?? DEFAULT_REDIS_PORT;
  const dir = embeddedDir(config);
  let url: string;
  let source: RedisSource;
  let embedded: EmbeddedRedis | null = null;

  const configured = config.redis.url.trim();
  if (configured) {
    const why = await pingRedis(configured, 5000);
    if (why !== null) throw new Error(`cannot reach Redis at ${redactUrl(configured)} (REDIS_URL / redis.url): ${why}`);
    url = configured;
    source = 'url';
  } else {
    const live = await findLiveEmbedded(dir);
    const defaultUrl = `redis://${LOCALHOST}:${defaultPort}`;
    if (live) {
      url = `redis://${LOCALHOST}:${live.port}`;
      source = 'port-file';
      // Left running by a dancelift that died without stopping it: it is ours to stop now.
      const owner = readInt(ownerFile(dir));
      if (opts.startEmbedded !== false && config.redis.embedded && (owner === null || !processAlive(owner))) {
        writeFileSync(ownerFile(dir), `${process.pid}\n`);
        embedded = embeddedHandle(dir, live.port, live.pid, null, log);
        source = 'embedded';
        log.info(`adopted the embedded Redis left running on port ${live.port} (pid ${live.pid})`);
      }
    } else if ((await pingRedis(defaultUrl, opts.probeTimeoutMs ?? 1000)) === null) {
      url = defaultUrl;
      source = 'default';
    } else if (!config.redis.embedded) {
      throw noRedisError(config, `nothing answers on ${LOCALHOST}:${defaultPort} and redis.embedded is off`, defaultPort);
    } else if (opts.startEmbedded === false) {
      throw noRedisError(config, `nothing answers on ${LOCALHOST}:${defaultPort} and no dancelift service is running (start it with \`dancelift start\`)`, defaultPort);
    } else {
      const bin = opts.redisServer ?? findRedisServer();
      if (!bin) throw noRedisError(config, `nothing answers on ${LOCALHOST}:${defaultPort} and redis-server is not installed`, defaultPort);
      // Two processes starting at once must not run two servers on one AOF: the first one starts it,
      // the other waits for it and uses it.
      const started = await withStartLock(dir, async () => {
        const meanwhile = await findLiveEmbedded(dir);
        if (meanwhile) return { found: meanwhile.port, started: null };
        // The default port when free; otherwise startEmbeddedRedis picks one (and retries if it is taken).
        const port = (await portIsFree(defaultPort)) ? defaultPort : undefined;
        const e = await startEmbeddedRedis({ dir, port, log, redisServer: bin });
        return { found: e.port, started: e };
      });
      embedded = started.started;
      url = `redis://${LOCALHOST}:${started.found}`;
      source = embedded ? 'embedded' : 'port-file';
    }
  }

  const where = redactUrl(url);
  const outage = createOutageLog(log);
  const connections = new Set<Redis>();
  const connection = (): Redis => {
    const r = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
    r.on('error', (err: Error) => {
      log.debug(`Redis at ${where}: ${err.message}`);
      outage.error('redis', err);
    });
    r.on('ready', () => outage.ready());
    outageOfConnection.set(r, outage);
    r.once('end', () => connections.delete(r));
    connections.add(r);
    return r;
  };

  try {
    await once(url, 5000, (r) => ensureNoEviction(r, log, where));
  } catch (err) {
    log.warn(`cannot check maxmemory-policy of Redis at ${where}: ${(err as Error).message}`);
  }
  if (source !== 'embedded') log.info(`using Redis at ${where} (${source})`);

  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    await Promise.all(
      [...connections].map(async (r) => {
        try {
          const ended = r.status === 'end' ? Promise.resolve() : new Promise<void>((res) => r.once('end', () => res()));
          await withTimeout(Promise.all([r.quit(), ended]), 2000, 'quit');
        } catch {
          r.disconnect();
        }
      }),
    );
    connections.clear();
    if (embedded) await embedded.stop();
  };
  return { url, source, embedded, connection, outage, close: () => (closing ??= close()) };
}
