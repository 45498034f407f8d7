import { stat } from 'node:fs/promises';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { enhance } from '../pipeline/index.js';
import { isPipelineError, PipelineError } from '../pipeline/errors.js';
import type { Progress, StageName } from '../pipeline/types.js';
import { ENHANCE_QUEUE, enhanceJobSchema, type DeliverJobData, type EnhanceJobData, type JobResult, type WireError } from './jobs.js';
import { summarizeProgress } from './progress.js';
import { afterOutOfMemory } from './retry.js';
import type { Queues } from './queues.js';
import { deliverOutcome } from './deliver.js';

/** What the worker needs from the rest of the service (wired in src/service/). */
export interface WorkerDeps {
  config: Config;
  connection: () => Redis;
  queues: Queues;
  storage: {
    resolveInput(rel: string): string;
    outputFor(jobId: string, kind: 'enhanced' | 'cutout'): { abs: string; rel: string };
  };
  linkFor(relOutput: string): string;
  /** Input removed, the user's slot released: called once a job has ended for good. */
  finish(jobId: string, data: EnhanceJobData): Promise<void>;
  log: Logger;
}

export function toWireError(err: unknown): WireError {
  if (isPipelineError(err)) return { code: err.code, message: err.message, params: err.params };
  return { message: err instanceof Error ? err.message : String(err), params: {} };
}

/** The config of one attempt: a retry after a GPU out-of-memory runs with a smaller tile. */
function configFor(base: Config, data: EnhanceJobData): Config {
  if (data.options.tile === undefined) return base;
  return { ...base, upscale: { ...base.upscale, realesrgan: { ...base.upscale.realesrgan, tile: data.options.tile } } };
}

const PROGRESS_EVERY_MS = 1000;

export interface EnhanceWorker {
  worker: Worker;
  /** Hands running jobs back to the queue (no attempt used) and stops. */
  close(): Promise<void>;
}

/**
 * The GPU worker: takes `enhance` jobs one (or `queue.concurrency`) at a time and runs the pipeline.
 * Heavy work happens in child processes and a worker thread, so the event loop stays free to renew
 * the job's lock: a long job is never mistaken for a stalled one, and a killed worker's job goes
 * back to the queue after `lockDurationMs`. Outputs are named after the job id, so a job that runs
 * twice (at-least-once) overwrites its own files; its delivery has a fixed id, so it is sent once.
 */
export function startEnhanceWorker(deps: WorkerDeps): EnhanceWorker {
  const { config, log } = deps;
  let shuttingDown = false;

  const processor = async (job: Job, token?: string, signal?: AbortSignal) => {
    const data = enhanceJobSchema.parse(job.data);
    const jobLog = log.child({ jobId: job.id });
    const jobId = job.id!;
    const startedAt = Date.now();
    const queueWaitS = Math.max(0, ((job.processedOn ?? startedAt) - job.timestamp) / 1000);
    jobLog.info({ attempt: job.attemptsMade + 1, queueWaitS }, 'enhance started');

    const states = new Map<StageName, Progress>();
    let lastSent = 0;
    const onProgress = (p: Progress) => {
      states.set(p.stage, p);
      const now = Date.now();
      if (now - lastSent < PROGRESS_EVERY_MS) return;
      lastSent = now;
      job.updateProgress(summarizeProgress(states)).catch((err) => jobLog.warn({ err }, 'progress update failed'));
    };
    await job.updateProgress({ stage: 'decode', percent: 0, fps: 0, etaS: null });

    const output = deps.storage.outputFor(jobId, 'enhanced');
    const cutout = data.options.keepCutout ? deps.storage.outputFor(jobId, 'cutout') : undefined;
    try {
      const r = await enhance({
        input: deps.storage.resolveInput(data.input.file),
        output: output.abs,
        cutout: cutout?.abs,
        background: data.background,
        scale: data.options.scale,
        upscaler: data.options.upscaler,
        model: data.options.model,
        matting: data.options.matting,
        config: configFor(config, data),
        signal,
        onProgress,
        jobId,
        log: (msg, extra) => jobLog.info(extra ?? {}, msg),
      });
      const { size } = await stat(output.abs);
      const result: JobResult = {
        output: output.rel,
        ...(cutout ? { cutout: cutout.rel } : {}),
        bytes: size,
        durationS: r.durationS,
        width: r.width,
        height: r.height,
        hasAudio: r.hasAudio,
        stats: { ...r.stats, queueWaitS, retries: data.notes },
      };
      const link = deps.linkFor(output.rel);
      await job.updateProgress({ stage: 'done', percent: 100, fps: 0, etaS: 0 });
      await deliverOutcome(deps.queues, jobId, data, { ok: true, result, link });
      await deps.finish(jobId, data);
      jobLog.info({ totalS: r.stats.totalS, realtimeFactor: r.stats.realtimeFactor }, 'enhance done');
      return { result, link };
    } catch (err) {
      if (shuttingDown && token) {
        // Shutting down: hand the job back without using up an attempt; another worker (or this
        // one, restarted) starts it again.
        jobLog.info('worker stopping: job handed back to the queue');
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      const error = isPipelineError(err) ? err : new PipelineError('TOOL_FAILED', err instanceof Error ? err.message : String(err), { tool: 'pipeline', detail: String(err) });
      if (error.code === 'GPU_OUT_OF_MEMORY') {
        const next = afterOutOfMemory(data.options);
        await job.updateData({ ...data, options: next.options, notes: [...data.notes, next.note] });
        jobLog.warn(next.note);
      }
      const attempts = job.opts.attempts ?? 1;
      const final = !error.retryable || job.attemptsMade + 1 >= attempts;
      jobLog.warn({ code: error.code, final, attempt: job.attemptsMade + 1 }, error.message);
      if (!final) throw error;
      await deliverOutcome(deps.queues, jobId, data, { ok: false, error: toWireError(error), attempts: job.attemptsMade + 1 });
      await deps.finish(jobId, data);
      throw new UnrecoverableError(`${error.code}: ${error.message}`);
    }
  };

  const worker = new Worker(ENHANCE_QUEUE, processor, {
    connection: deps.connection(),
    prefix: config.queue.prefix,
    concurrency: config.queue.concurrency,
    lockDuration: config.queue.lockDurationMs,
    stalledInterval: config.queue.stalledIntervalMs,
    maxStalledCount: 3,
  });
  worker.on('error', (err) => log.error({ err }, 'worker error'));

  // `dancelift cancel` runs in another process: it publishes the id, and whichever worker holds the
  // job aborts it through the pipeline's AbortSignal.
  const subscriber = deps.connection();
  const channel = cancelChannel(config);
  void subscriber.subscribe(channel);
  subscriber.on('message', (ch: string, jobId: string) => {
    if (ch !== channel) return;
    if (worker.cancelJob(jobId, 'cancelled by request')) log.info({ jobId }, 'cancelling running job');
  });

  return {
    worker,
    async close() {
      shuttingDown = true;
      worker.cancelAllJobs('shutdown');
      await worker.close();
      await subscriber.quit().catch(() => {});
    },
  };
}

export const cancelChannel = (config: Config) => `${config.queue.prefix}:cancel`;

export type { DeliverJobData };
