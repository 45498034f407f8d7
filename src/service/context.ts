import { copyFile, mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { logger as rootLogger } from '../log.js';
import { connectRedis, type RedisHandle } from '../redis/redis.js';
import { openQueues, type Queues } from '../queue/queues.js';
import { createStorage, type Storage } from '../storage/storage.js';
import { chatAllowed, checkLimits, enqueued, queueRef, releaseSlot, reserveSlot } from '../queue/limits.js';
import type { EnhanceJobData, Requester } from '../queue/jobs.js';
import type { ProducerDeps } from '../queue/producer.js';
import type { WorkerDeps } from '../queue/worker.js';
import type { CancelDeps } from '../queue/cancel.js';
import { makeLink, publicBaseUrl } from '../web/links.js';
import { createResultCache } from '../queue/result-cache.js';
import { linkSecret } from '../web/secret.js';

/** Everything the roles share: one Redis, the queues, the data dir, the link secret. */
export interface Service {
  config: Config;
  redisHandle: RedisHandle;
  /** A plain connection for commands (not for BullMQ workers, not subscribed). */
  redis: Redis;
  queues: Queues;
  storage: Storage;
  secret: string;
  log: Logger;
  producer: ProducerDeps;
  worker: WorkerDeps;
  cancel: CancelDeps;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Long-running `start` may start its own redis-server; short commands must find a running one. */
  startEmbedded: boolean;
  log?: Logger;
}

/** The user's file, copied (CLI) or moved (a bot's download) into the job's own input file. */
async function importInput(storage: Storage, source: string, jobId: string, name: string, move: boolean): Promise<{ rel: string; bytes: number }> {
  const target = storage.newInputPath(jobId, name);
  await mkdir(path.dirname(target.abs), { recursive: true });
  if (move) await rename(source, target.abs).catch(() => copyFile(source, target.abs));
  else await copyFile(source, target.abs);
  return { rel: target.rel, bytes: (await stat(target.abs)).size };
}

export async function openService(config: Config, opts: OpenOptions): Promise<Service> {
  const log = opts.log ?? rootLogger;
  const redisHandle = await connectRedis(config, { startEmbedded: opts.startEmbedded, log });
  try {
    return await openOn(config, redisHandle, log);
  } catch (err) {
    // Nothing may stay open (the embedded Redis least of all) when the service cannot open.
    await redisHandle.close().catch(() => {});
    throw err;
  }
}

async function openOn(config: Config, redisHandle: RedisHandle, log: Logger): Promise<Service> {
  const redis = redisHandle.connection();
  const queues = openQueues(config, () => redisHandle.connection(), redisHandle.outage);
  const queue = queueRef(queues.enhance);
  const storage = createStorage(config);
  const secret = await linkSecret(config);
  const prefix = config.queue.prefix;
  const cache = createResultCache(redis, prefix, config.storage.cacheGb, storage);

  const finish = async (jobId: string, data: EnhanceJobData) => {
    await storage.removeInput(data.input.file).catch((err: unknown) => log.warn({ jobId, err }, 'could not remove input'));
    await releaseSlot(redis, prefix, data.requester, jobId, queue);
  };

  const producer: ProducerDeps = {
    config,
    queues,
    storage: {
      importInput: (source, jobId, name, move) => importInput(storage, source, jobId, name, move),
      removeInput: async (rel) => {
        await storage.removeInput(rel);
      },
      resolveInput: (rel) => storage.resolveInput(rel),
      ensureFree: (bytes) => storage.ensureFree(bytes),
    },
    limits: {
      async reserve(requester: Requester, jobId: string) {
        // The allow-list needs no Redis; everything counted is checked and taken in one script.
        if (!chatAllowed(config, requester)) await checkLimits(redis, prefix, config, requester, { waiting: 0 });
        await reserveSlot(redis, prefix, config, requester, jobId, Date.now(), queue);
      },
      enqueued: (jobId) => enqueued(redis, queue, jobId),
      release: async (requester, jobId) => {
        await releaseSlot(redis, prefix, requester, jobId, queue);
      },
    },
    cache,
  };

  const worker: WorkerDeps = {
    config,
    connection: () => redisHandle.connection(),
    queues,
    storage: {
      resolveInput: (rel) => storage.resolveInput(rel),
      resolveOutput: (rel) => storage.resolveOutput(rel),
      outputFor: (jobId, suffix, ext) => storage.outputPathFor(jobId, suffix, ext),
    },
    cache,
    linkFor: (rel) => makeLink(publicBaseUrl(config), rel, Math.round(config.web.linkTtlHours * 3600), secret),
    finish,
    log,
  };

  return {
    config,
    redisHandle,
    redis,
    queues,
    storage,
    secret,
    log,
    producer,
    worker,
    cancel: { config, queues, redis, finish },
    async close() {
      await queues.close();
      await redisHandle.close();
    },
  };
}
