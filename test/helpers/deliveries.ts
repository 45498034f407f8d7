import type { Logger } from 'pino';
import type { Config } from '../../src/config/schema.js';
import { startDeliverWorker } from '../../src/queue/deliver.js';
import type { DeliverJobData } from '../../src/queue/jobs.js';
import type { Service } from '../../src/service/context.js';
import { until } from './wait.js';

/** The telegram platform's delivery queue, read by the test instead of a bot: a real deliver worker that keeps what it is handed. */
export interface DeliverySink {
  all: DeliverJobData[];
  of(jobId: string): DeliverJobData[];
  /** The first delivery of `jobId`, once there is one. */
  delivered(jobId: string, timeoutMs?: number): Promise<DeliverJobData>;
  close(): Promise<void>;
}

export function deliverySink(config: Config, service: Service, log?: Logger): DeliverySink {
  const all: DeliverJobData[] = [];
  const worker = startDeliverWorker(config, () => service.redisHandle.connection(), 'telegram', async (d) => void all.push(d), log);
  const of = (jobId: string) => all.filter((d) => d.jobId === jobId);
  return {
    all,
    of,
    delivered: (jobId, timeoutMs = 90_000) => until(`delivery of ${jobId}`, () => of(jobId)[0], timeoutMs),
    close: () => worker.close(),
  };
}
