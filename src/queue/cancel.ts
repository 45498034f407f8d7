import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { deliverOutcome } from './deliver.js';
import { enhanceJobSchema, type EnhanceJobData } from './jobs.js';
import type { Queues } from './queues.js';

/**
 * - removed:    it was waiting; it is gone, its requester told.
 * - cancelling: a live worker holds it and said it is aborting it now.
 * - recorded:   no live worker holds it (its worker died, or is cut off from Redis); the cancel is
 *               stored on the job and the next worker to take it ends it as cancelled without running it.
 */
export type CancelOutcome = 'removed' | 'cancelling' | 'recorded' | 'finished' | 'not-found';

/** Whether the outcome means the job will not deliver a result. */
export const cancelTookEffect = (o: CancelOutcome): boolean => o === 'removed' || o === 'cancelling' || o === 'recorded';

export interface CancelDeps {
  config: Config;
  queues: Queues;
  /** A connection that may publish (not one in subscriber mode). */
  redis: Redis;
  finish(jobId: string, data: EnhanceJobData): Promise<void>;
  /** How long to wait for a live worker to say it is aborting the job. Default 2000 ms. */
  ackTimeoutMs?: number;
}

export const cancelChannel = (config: Pick<Config, 'queue'>) => `${config.queue.prefix}:cancel`;
/** Set (before anything is published) when a job is cancelled; read by workers before and during a job. */
export const cancelKey = (config: Pick<Config, 'queue'>, jobId: string) => `${config.queue.prefix}:cancel:${jobId}`;
/** Set by the worker that aborts the job, so that `cancel` can say a running job was stopped. */
export const cancelAckKey = (config: Pick<Config, 'queue'>, jobId: string) => `${cancelKey(config, jobId)}:ack`;
/** A cancel outlives any job that could still be taken up (outputs are kept for days, not weeks). */
const CANCEL_TTL_S = 14 * 24 * 3600;

export async function cancelRequested(redis: Redis, config: Pick<Config, 'queue'>, jobId: string): Promise<boolean> {
  return (await redis.exists(cancelKey(config, jobId))) === 1;
}

/** The worker's side: it is aborting the job now. */
export async function acknowledgeCancel(redis: Redis, config: Pick<Config, 'queue'>, jobId: string): Promise<void> {
  await redis.set(cancelAckKey(config, jobId), '1', 'EX', 3600);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Cancels a job wherever it is. The cancel is first recorded on the job (a key of its own), so it
 * holds whatever happens next: a worker checks the key before it starts a job and between chunks.
 * Then a waiting job is removed (its input deleted, its user's slot freed, its requester told); a
 * running one is aborted through pub/sub by the worker that holds it (child processes killed, temp
 * files removed) and ends as a final failure. A job that no live worker holds is left to the next
 * worker, which ends it as cancelled without running it.
 */
export async function cancelJob(deps: CancelDeps, jobId: string): Promise<CancelOutcome> {
  const job = await deps.queues.enhance.getJob(jobId);
  if (!job) return 'not-found';
  let state = await job.getState();
  if (state === 'completed' || state === 'failed') return 'finished';
  await deps.redis.set(cancelKey(deps.config, jobId), String(Date.now()), 'EX', CANCEL_TTL_S);
  if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') {
    try {
      await job.remove();
      const data = enhanceJobSchema.parse(job.data);
      await deliverOutcome(deps.queues, jobId, data, { ok: false, error: { code: 'CANCELLED', message: 'cancelled', params: {} }, attempts: job.attemptsMade });
      await deps.finish(jobId, data);
      return 'removed';
    } catch {
      // Taken by a worker in the meantime (it holds a lock, so remove() refused): abort it there.
      state = 'active';
    }
  }
  if (state !== 'active') return 'finished';
  await deps.redis.del(cancelAckKey(deps.config, jobId));
  const listeners = await deps.redis.publish(cancelChannel(deps.config), jobId);
  if (listeners === 0) return 'recorded';
  const deadline = Date.now() + (deps.ackTimeoutMs ?? 2000);
  while (Date.now() < deadline) {
    if ((await deps.redis.exists(cancelAckKey(deps.config, jobId))) === 1) return 'cancelling';
    await sleep(100);
  }
  return 'recorded';
}
