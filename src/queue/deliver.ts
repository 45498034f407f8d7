import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { deliverJobSchema, type DeliverJobData, type EnhanceJobData, type Requester } from './jobs.js';
import { deliverQueueName, type Queues } from './queues.js';
import { createOutageLog } from '../redis/outage.js';
import { outageOf } from '../redis/redis.js';

/**
 * Puts the outcome of an enhance job on its platform's delivery queue. The delivery's id is fixed
 * by the enhance job's id, so when an enhance job runs twice (a worker killed after finishing but
 * before saying so) the second delivery is a no-op: the user gets one video, not two. The CLI reads
 * results from the job itself and has no delivery queue.
 */
export async function deliverOutcome(queues: Queues, jobId: string, data: EnhanceJobData, outcome: DeliverJobData['outcome']): Promise<void> {
  if (data.requester.platform === 'cli') return;
  const payload: DeliverJobData = { jobId, requester: data.requester, inputName: data.input.name, background: data.background, outcome };
  await queues.deliver(data.requester.platform).add('deliver', payload, {
    jobId: `deliver-${jobId}`,
    attempts: 20,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: false,
  });
}

/**
 * A platform's side of delivery: takes its deliveries one by one and hands them to `send` (upload
 * the video, post the link, edit the status message). A failed send is retried with backoff; the
 * job stays in Redis until it succeeds, so a bot that was down delivers when it comes back.
 */
export function startDeliverWorker(
  config: Config,
  connection: () => Redis,
  platform: Requester['platform'],
  send: (data: DeliverJobData) => Promise<void>,
  log?: Logger,
): Worker {
  const conn = connection();
  const worker = new Worker(
    deliverQueueName(platform),
    async (job) => {
      const data = deliverJobSchema.parse(job.data);
      await send(data);
    },
    { connection: conn, prefix: config.queue.prefix, concurrency: 4 },
  );
  worker.on('failed', (job, err) => log?.warn({ jobId: job?.data?.jobId, err: err.message, attempt: job?.attemptsMade }, 'delivery failed, will retry'));
  // One line per Redis outage (the service's own log when the connection is one of its handle's).
  const outage = outageOf(conn) ?? (log ? createOutageLog(log) : undefined);
  if (outage) outage.watch(`deliver worker ${platform}`, worker);
  else worker.on('error', () => {});
  return worker;
}
