import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { openService, type Service } from './context.js';
import { startEnhanceWorker, type EnhanceWorker } from '../queue/worker.js';
import { startWebServer, type WebServer } from '../web/server.js';

export interface Running {
  service: Service;
  web?: WebServer;
  worker?: EnhanceWorker;
  /** Stops the roles in order: no new work, running jobs handed back, then Redis. */
  close(): Promise<void>;
}

const SWEEP_EVERY_MS = 10 * 60 * 1000;

/** `dancelift start`: the roles named in config (or DANCELIFT_ROLES) in this process. */
export async function startRoles(config: Config, log: Logger): Promise<Running> {
  const service = await openService(config, { startEmbedded: true, log });
  log.info({ roles: config.roles, redis: service.redisHandle.source }, 'starting');
  let web: WebServer | undefined;
  let worker: EnhanceWorker | undefined;
  let sweeper: { stop(): void } | undefined;
  const stopBots: Array<() => Promise<void>> = [];

  if (config.roles.includes('web')) {
    web = await startWebServer({ config, outputsDir: service.storage.outputsDir, secret: service.secret, queues: service.queues.all(), log });
    log.info({ url: web.url, admin: Boolean(config.web.admin.token || config.web.admin.user) }, 'web role listening');
  }
  if (config.roles.includes('worker')) {
    worker = startEnhanceWorker(service.worker);
    sweeper = service.storage.startSweeper(SWEEP_EVERY_MS, log);
    log.info({ concurrency: config.queue.concurrency }, 'worker role waiting for jobs');
  }
  if (config.roles.includes('bots')) {
    const { startBotsRole } = await import('../bots/role.js');
    try {
      stopBots.push(await startBotsRole(service, log));
    } catch (err) {
      // Bad start-up configuration (a refused token): the roles already up stop, and `start` ends
      // with the one message startBotsRole worded.
      await worker?.close().catch(() => {});
      await web?.close().catch(() => {});
      sweeper?.stop();
      await service.close().catch(() => {});
      throw err;
    }
  }

  return {
    service,
    web,
    worker,
    async close() {
      sweeper?.stop();
      for (const stop of stopBots) await stop().catch((err: unknown) => log.warn({ err }, 'bot did not stop cleanly'));
      await worker?.close();
      await web?.close();
      await service.close();
      log.info('stopped');
    },
  };
}
