import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/** Errors that mean "Redis cannot be reached right now" (ioredis retries them on its own). */
const CONNECTION_ERROR = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Connection is closed|connect ETIMEDOUT|Socket closed unexpectedly|LOADING/;

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return CONNECTION_ERROR.test(`${typeof e?.code === 'string' ? e.code : ''} ${typeof e?.message === 'string' ? e.message : String(err)}`);
}

export interface OutageLog {
  /** An 'error' from a connection, Queue, Worker or QueueEvents: one line per outage, not per retry. */
  error(component: string, err: unknown): void;
  /** A connection is ready again: one line when it ends an outage. */
  ready(): void;
  /** Listens to `emitter`'s 'error' events (a BullMQ Queue, Worker or QueueEvents). */
  watch<T extends Pick<EventEmitter, 'on'>>(component: string, emitter: T): T;
  /** Whether an outage is going on. */
  readonly down: boolean;
}

/**
 * One process's view of its Redis: the first connection error of an outage is logged (as one
 * structured line: which part saw it and why), the hundreds of retries after it are not, and the
 * first connection that is ready again logs that Redis is back and how long it was gone. Errors that
 * are not about the connection (a script failed, a lock was lost) are logged each time.
 */
export function createOutageLog(log: Pick<Logger, 'error' | 'warn' | 'info'>, now: () => number = Date.now, settleMs = 1000): OutageLog {
  let since: number | null = null;
  // A 'ready' ends the outage only if no connection error follows within settleMs: a connection
  // whose handshake finished just as Redis died reports ready after the first errors (seen under
  // load), and that is not Redis coming back.
  let settling: NodeJS.Timeout | null = null;
  const self: OutageLog = {
    error(component, err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!isConnectionError(err)) {
        log.warn({ component, err: message }, `${component}: ${message}`);
        return;
      }
      if (settling) {
        clearTimeout(settling);
        settling = null;
      }
      if (since !== null) return;
      since = now();
      log.error({ component, err: message, redisDown: true }, 'Redis unreachable: jobs wait until it is back (retrying)');
    },
    ready() {
      if (since === null || settling) return;
      const start = since;
      const downS = Math.round((now() - start) / 100) / 10;
      settling = setTimeout(() => {
        settling = null;
        since = null;
        log.info({ downS, redisDown: false }, `Redis reconnected after ${downS} s`);
      }, settleMs);
      settling.unref();
    },
    watch(component, emitter) {
      emitter.on('error', (err: unknown) => self.error(component, err));
      return emitter;
    },
    get down() {
      return since !== null;
    },
  };
  return self;
}
