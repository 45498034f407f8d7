import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';

/** Asking a Redis whether it answers, who it is and how it evicts: short connections that never retry. */

export const LOCALHOST = '127.0.0.1';

export type RedisLog = Pick<Logger, 'info' | 'warn' | 'debug' | 'error'>;

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

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
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
export async function once<T>(url: string, timeoutMs: number, fn: (r: Redis) => Promise<T>): Promise<T> {
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
export async function serverPid(url: string, timeoutMs = 1000): Promise<number | null> {
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
