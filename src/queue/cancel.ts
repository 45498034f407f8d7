import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { deliverOutcome } from './deliver.js';
import { enhanceJobSchema, type EnhanceJobData } from './jobs.js';
import type { Queues } from './queues.js';
import { cancelChannel } from './worker.js';

export type CancelOutcome = 'removed' | 'cancelling' | 'finished' | 'not-found';

export interface CancelDeps {
  config: Config;
  queues: Queues;
  /** A connection that may publish (not one in subscriber mode). */
  redis: Redis;
  finish(jobId: string, data: EnhanceJobData): Promise<void>;
}

/**
 * Cancels a job wherever it is: a waiting one is removed (its input deleted, its user's slot freed,
 * its requester told); a running one is aborted by the worker that holds it, through the pipeline's
 * AbortSignal (child processes killed, temp files removed), and then ends as a final failure.
 */
export async function cancelJob(deps: CancelDeps, jobId: string): Promise<CancelOutcome> {
  const job = await deps.queues.enhance.getJob(jobId);
  if (!job) return 'not-found';
  const state = await job.getState();
  if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') {
    try {
      await job.remove();
    } catch {
      // It was taken by a worker in the meantime: abort it there.
      await deps.redis.publish(cancelChannel(deps.config), jobId);
      return 'cancelling';
    }
    const data = enhanceJobSchema.parse(job.data);
    await deliverOutcome(deps.queues, jobId, data, { ok: false, error: { code: 'CANCELLED', message: 'cancelled', params: {} }, attempts: job.attemptsMade });
    await deps.finish(jobId, data);
    return 'removed';
  }
  if (state === 'active') {
    await deps.redis.publish(cancelChannel(deps.config), jobId);
    return 'cancelling';
  }
  return 'finished';
}
