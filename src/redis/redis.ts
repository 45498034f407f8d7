import { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { logger as defaultLogger } from '../log.js';
import { installHint } from '../machine/tools.js';
import { createOutageLog, type OutageLog } from './outage.js';
import { adoptOrphan, DEFAULT_REDIS_PORT, embeddedDir, findLiveEmbedded, findRedisServer, portIsFree, startEmbeddedRedis, withStartLock, type EmbeddedRedis } from './embedded.js';
import { ensureNoEviction, LOCALHOST, once, pingRedis, redactUrl, withTimeout, type RedisLog } from './probe.js';

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
      const adopted = opts.startEmbedded !== false && config.redis.embedded ? adoptOrphan(dir, live, log) : null;
      if (adopted) {
        embedded = adopted;
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
