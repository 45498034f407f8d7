import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { openService, type Service } from './context.js';
import { startEnhanceWorker, type EnhanceWorker } from '../queue/worker.js';
import { startWebServer, type WebServer } from '../web/server.js';
import { publicUrlWarning } from '../web/links.js';

export interface Running {
  service: Service;
  web?: WebServer;
  worker?: EnhanceWorker;
  /** Stops the roles in order: no new work, running jobs handed back, then Redis. */
  close(): Promise<void>;
}

/** A role that could not start: which one, and why (one line for the user). */
export class RoleStartError extends Error {
  constructor(readonly role: string, cause: unknown) {
    super(`cannot start the ${role} role: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'RoleStartError';
  }
}

const SWEEP_EVERY_MS = 10 * 60 * 1000;

/**
 * The bots role, handed in by the caller (the CLI): src/bots builds on this service, so the
 * service never imports the bots (one-way arrows); it only starts what it is given.
 */
export type StartBotsRole = (service: Service, log: Logger) => Promise<() => Promise<void>>;

/**
 * `dancelift start`: the roles named in config (or DANCELIFT_ROLES) in this process. When a role
 * cannot start (its port taken, a bot's token refused), everything opened so far is closed again,
 * the embedded Redis included, and a RoleStartError says which role and why. A `signal` aborted
 * while the roles start stops the start the same way (the caller then exits cleanly).
 */
export async function startRoles(config: Config, log: Logger, signal?: AbortSignal, roles: { bots?: StartBotsRole } = {}): Promise<Running> {
  const service = await openService(config, { startEmbedded: true, log });
  log.info({ roles: config.roles, redis: service.redisHandle.source }, 'starting');
  const urlWarning = publicUrlWarning(config);
  if (urlWarning) log.warn(urlWarning);
  let web: WebServer | undefined;
  let worker: EnhanceWorker | undefined;
  let sweeper: { stop(): void } | undefined;
  const stopBots: Array<() => Promise<void>> = [];

  const running: Running = {
    service,
    async close() {
      sweeper?.stop();
      for (const stop of stopBots) await stop().catch((err: unknown) => log.warn({ err }, 'bot did not stop cleanly'));
      await worker?.close();
      await web?.close();
      await service.close();
      log.info('stopped');
    },
  };
  /** Runs one role's start; on failure (or a stop asked for meanwhile) closes what is open and throws. */
  const role = async <T>(name: string, start: () => Promise<T>): Promise<T> => {
    try {
      signal?.throwIfAborted();
      const r = await start();
      signal?.throwIfAborted();
      return r;
    } catch (err) {
      await running.close().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'clean-up after a failed start'));
      throw signal?.aborted ? err : new RoleStartError(name, err);
    }
  };

  if (config.roles.includes('web')) {
    web = await role('web', () => startWebServer({ config, outputsDir: service.storage.outputsDir, secret: service.secret, queues: service.queues.all(), log }));
    running.web = web;
    log.info({ url: web.url, admin: Boolean(config.web.admin.token || config.web.admin.user) }, 'web role listening');
  }
  if (config.roles.includes('worker')) {
    worker = await role('worker', async () => startEnhanceWorker(service.worker));
    running.worker = worker;
    // Inputs of jobs that ended while their worker died before its clean-up; their slots too.
    const inputEnded = async (jobId: string): Promise<boolean> => {
      const job = await service.queues.enhance.getJob(jobId);
      if (!job) return true;
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed') return false;
      await service.worker.finish(jobId, job.data).catch(() => {});
      return true;
    };
    sweeper = service.storage.startSweeper(SWEEP_EVERY_MS, log, inputEnded);
    log.info({ concurrency: config.queue.concurrency }, 'worker role waiting for jobs');
  }
  if (config.roles.includes('bots')) {
    // The bots role makes the default backgrounds once in the background and starts each platform
    // whose token is set; a refused token is bad start-up configuration and stops `start`.
    const startBots = roles.bots;
    stopBots.push(await role('bots', () => (startBots ? startBots(service, log) : Promise.reject(new Error('this build has no bots role')))));
  }
  return running;
}
