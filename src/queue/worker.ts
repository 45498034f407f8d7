import { stat } from 'node:fs/promises';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { withFile } from '../media/probe.js';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { enhance, type EnhanceRequest, type EnhanceResult } from '../pipeline/index.js';
import { enhancePreview, type PreviewInfo } from '../pipeline/preview.js';
import { recompose } from '../pipeline/recompose.js';
import { reframeRequest } from '../pipeline/reframe-stage.js';
import { PipelineError } from '../errors.js';
import type { Progress, StageName } from '../pipeline/types.js';
import { ENHANCE_QUEUE, enhanceJobSchema, requesterSchema, type DeliverJobData, type EnhanceJobData, type JobResult, type WireError } from './jobs.js';
import { summarizeProgress } from './progress.js';
import { afterOutOfMemory } from './retry.js';
import { upscalerEntry } from '../pipeline/engines/registry.js';
import type { Queues } from './queues.js';
import { deliverOutcome } from './deliver.js';
import { writeWatchMeta } from './watch-meta.js';
import { acknowledgeCancel, cancelChannel, cancelRequested } from './cancel.js';
import { classifyFailure } from './failure.js';
import { readDoneMarker, writeDoneMarker } from './done-marker.js';
import { createOutageLog } from '../redis/outage.js';
import { outageOf } from '../redis/redis.js';
import { reuseKeys } from './reuse.js';
import type { ResultCache } from './result-cache.js';

/** What the worker needs from the rest of the service (wired in src/service/). */
export interface WorkerDeps {
  config: Config;
  connection: () => Redis;
  queues: Queues;
  storage: {
    resolveInput(rel: string): string;
    resolveOutput(rel: string): string;
    /** `<job>.<suffix>.<ext>` in the data dir's outputs (removed by the sweeper with the rest). */
    outputFor(jobId: string, suffix: string, ext: string): StoredPath;
  };
  /** Finished results by input and settings: instant repeats, and kept cut-outs for recompose. */
  cache: ResultCache;
  linkFor(relOutput: string): string;
  /** Input removed, the user's slot released: called once BullMQ has recorded the job's end. */
  finish(jobId: string, data: EnhanceJobData): Promise<void>;
  log: Logger;
}

export function toWireError(err: unknown): WireError {
  return classifyFailure(err).error;
}

/** The config of one attempt: a retry after a GPU out-of-memory runs with a smaller tile (the upscaler's registry entry says where it goes). */
function configFor(base: Config, data: EnhanceJobData): Config {
  if (data.options.tile === undefined) return base;
  const withTile = upscalerEntry(data.options.upscaler ?? base.upscale.engine).withTile;
  return withTile ? withTile(base, data.options.tile) : base;
}

const PROGRESS_EVERY_MS = 1000;
/** How often a running job looks for a cancel recorded while its worker missed the message. */
const CANCEL_CHECK_EVERY_MS = 1000;

export interface EnhanceWorker {
  worker: Worker;
  /** Hands running jobs back to the queue (no attempt used) and stops. */
  close(): Promise<void>;
}

const cancelled = () => new PipelineError('CANCELLED', 'cancelled');

interface StoredPath {
  abs: string;
  rel: string;
}

/** Where a job's files go: a preview is named as one, and `--export alpha` adds two files beside it. */
function jobOutputs(storage: WorkerDeps['storage'], jobId: string, options: EnhanceJobData['options']) {
  return {
    output: storage.outputFor(jobId, options.preview ? 'preview' : 'enhanced', 'mp4'),
    cutout: options.keepCutout ? storage.outputFor(jobId, 'cutout', 'mkv') : undefined,
    exports: options.exportAlpha ? { webm: storage.outputFor(jobId, 'alpha', 'webm'), mov: storage.outputFor(jobId, 'alpha', 'mov') } : undefined,
  };
}

/**
 * The GPU worker: takes `enhance` jobs one (or `queue.concurrency`) at a time and runs the pipeline.
 * Heavy work happens in child processes and a worker thread, so the event loop stays free to renew
 * the job's lock; a killed worker's job goes back to the queue after `lockDurationMs`.
 *
 * Exactly once, whatever fails in between:
 * - the output is named after the job, and a done-marker written atomically beside it says it is
 *   complete: a job that runs again after its output was written (lock lost in a Redis outage,
 *   worker killed before BullMQ recorded it) finishes from the marker without computing again;
 * - the delivery has an id fixed by the job, so a second one is a no-op;
 * - the job's input is removed and its user's slot freed only once BullMQ has recorded the job's end
 *   (the 'completed' / final 'failed' events; the sweeper catches a worker that died in between), so
 *   a rerun never finds its input gone.
 */
export function startEnhanceWorker(deps: WorkerDeps): EnhanceWorker {
  const { config, log } = deps;
  let shuttingDown = false;
  const commands = deps.connection();

  /** Ends the job for good: the requester is told (when we know who asked), BullMQ does not retry. */
  const failForGood = async (job: Job, error: WireError, requester: unknown): Promise<never> => {
    const who = requesterSchema.safeParse(requester);
    const input = (job.data as { input?: { name?: unknown } } | undefined)?.input;
    if (who.success) {
      const data = { requester: who.data, input: { name: typeof input?.name === 'string' ? input.name : '' }, background: String((job.data as { background?: unknown }).background ?? '') };
      await deliverOutcome(deps.queues, job.id!, data as EnhanceJobData, { ok: false, error, attempts: job.attemptsMade + 1 });
    }
    throw new UnrecoverableError(`${error.code ?? 'FAILED'}: ${error.message}`);
  };

  const processor = async (job: Job, token?: string, signal?: AbortSignal) => {
    const jobId = job.id!;
    const jobLog = log.child({ jobId });
    const attempt = job.attemptsMade + 1;
    const parsed = enhanceJobSchema.safeParse(job.data);
    if (!parsed.success) {
      const { error } = classifyFailure(parsed.error);
      jobLog.error({ attempt, code: error.code, final: true }, error.message);
      return failForGood(job, error, (job.data as { requester?: unknown } | undefined)?.requester);
    }
    const data = parsed.data;
    if (await cancelRequested(commands, config, jobId)) {
      jobLog.info({ attempt }, 'cancelled before it started: not running it');
      return failForGood(job, classifyFailure(cancelled()).error, data.requester);
    }

    const { output, cutout, exports } = jobOutputs(deps.storage, jobId, data.options);
    const succeed = async (result: JobResult) => {
      const link = deps.linkFor(result.output);
      await job.updateProgress({ stage: 'done', percent: 100, fps: 0, etaS: 0 });
      await deliverOutcome(deps.queues, jobId, data, { ok: true, result, link });
      return { result, link };
    };
    const already = await readDoneMarker(output.abs, jobId, [cutout, exports?.webm, exports?.mov].flatMap((f) => (f ? [f.abs] : [])));
    if (already) {
      jobLog.info({ attempt }, 'output already complete (done-marker): finishing without recomputing');
      return succeed(already);
    }

    const startedAt = Date.now();
    const queueWaitS = Math.max(0, ((job.processedOn ?? startedAt) - job.timestamp) / 1000);
    const keys = data.input.sha256 ? reuseKeys(config, data, data.input.sha256) : null;
    const cacheFailed = (err: unknown) => {
      jobLog.warn({ err: (err as Error).message }, 'result cache unavailable: computing');
      return null;
    };
    const hit = keys ? await deps.cache.find(keys.result).catch(cacheFailed) : null;
    if (hit) {
      const { fromJob, ...cached } = hit;
      jobLog.info({ attempt, fromJob }, 'the same input with the same settings was done before: returning that result');
      return succeed({ ...cached, reused: true, stats: { ...cached.stats, queueWaitS } });
    }
    // The same input and settings with another background: the kept cut-out only needs composing again.
    const kept = keys && !data.options.preview && !data.options.exportAlpha ? await deps.cache.findCutout(keys.cutout).catch(cacheFailed) : null;
    jobLog.info({ attempt, queueWaitS, ...(kept ? { recomposeFrom: kept.jobId } : {}) }, 'enhance started');

    // Our own controller: BullMQ's signal (pub/sub cancel, shutdown) or a cancel found between chunks.
    const abort = new AbortController();
    const onBullAbort = () => abort.abort(signal?.reason);
    if (signal?.aborted) onBullAbort();
    signal?.addEventListener('abort', onBullAbort, { once: true });
    let lastCancelCheck = Date.now();
    const checkCancel = () => {
      lastCancelCheck = Date.now();
      cancelRequested(commands, config, jobId)
        .then(async (yes) => {
          if (!yes || abort.signal.aborted) return;
          jobLog.info('cancel recorded while running: aborting');
          await acknowledgeCancel(commands, config, jobId);
          abort.abort('cancelled by request');
        })
        .catch(() => {});
    };

    const states = new Map<StageName, Progress>();
    let lastSent = 0;
    const onProgress = (p: Progress) => {
      states.set(p.stage, p);
      const now = Date.now();
      if (now - lastCancelCheck >= CANCEL_CHECK_EVERY_MS) checkCancel();
      if (now - lastSent < PROGRESS_EVERY_MS) return;
      lastSent = now;
      job.updateProgress(summarizeProgress(states)).catch((err) => jobLog.warn({ err }, 'progress update failed'));
    };

    let result: JobResult;
    try {
      await job.updateProgress({ stage: kept ? 'compose' : 'decode', percent: 0, fps: 0, etaS: null });
      const req: EnhanceRequest = {
        input: deps.storage.resolveInput(data.input.file),
        ...(data.input.probe ? { probe: withFile(data.input.probe, deps.storage.resolveInput(data.input.file)) } : {}),
        output: output.abs,
        cutout: cutout?.abs,
        background: data.background,
        scale: data.options.scale,
        upscaler: data.options.upscaler,
        model: data.options.model,
        matting: data.options.matting,
        mattingModel: data.options.mattingModel,
        reframe: reframeRequest(data.options),
        exportAlpha: exports && { webm: exports.webm.abs, mov: exports.mov.abs },
        config: configFor(config, data),
        signal: abort.signal,
        onProgress,
        jobId,
        log: (msg, extra) => jobLog.info(extra ?? {}, msg),
      };
      let r: EnhanceResult & { preview?: PreviewInfo };
      if (kept) r = await recompose({ cutout: deps.storage.resolveOutput(kept.cutout), output: output.abs, background: data.background, config: req.config, signal: abort.signal, onProgress });
      else if (data.options.preview) r = await enhancePreview({ ...req, previewS: data.options.preview });
      else r = await enhance(req);
      const { size } = await stat(output.abs);
      const cutoutRel = kept ? (data.options.keepCutout ? kept.cutout : undefined) : cutout?.rel;
      result = {
        output: output.rel,
        ...(cutoutRel ? { cutout: cutoutRel } : {}),
        ...(exports ? { exports: { webm: exports.webm.rel, mov: exports.mov.rel } } : {}),
        ...(r.preview ? { preview: { startS: r.preview.startS, seconds: r.preview.seconds, selectS: r.preview.selectS } } : {}),
        bytes: size,
        durationS: r.durationS,
        width: r.width,
        height: r.height,
        hasAudio: r.hasAudio,
        stats: { ...r.stats, queueWaitS, retries: kept ? [...data.notes, `recomposed from the cut-out kept by job ${kept.jobId}: no upscaling or matting`] : data.notes },
      };
      // Beside the video, for its watch page (src/queue/watch-meta.ts); before the marker, so a rerun
      // that finishes from the marker finds it too.
      await writeWatchMeta(output.abs, { inputName: data.input.name, background: data.background, result });
      // From here on the output counts as done, whatever happens to this attempt.
      await writeDoneMarker(output.abs, jobId, result);
      jobLog.info({ totalS: r.stats.totalS, realtimeFactor: r.stats.realtimeFactor }, 'enhance done');
      if (keys) {
        await deps.cache.remember(keys.result, jobId, result).catch(cacheFailed);
        if (cutout && !kept && !data.options.preview) await deps.cache.rememberCutout(keys.cutout, jobId, cutout.rel).catch(cacheFailed);
      }
    } catch (err) {
      if (shuttingDown && token) {
        // Shutting down: hand the job back without using up an attempt; another worker (or this
        // one, restarted) starts it again.
        jobLog.info('worker stopping: job handed back to the queue');
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      const failure = classifyFailure(err);
      if (failure.error.code === 'GPU_OUT_OF_MEMORY') {
        const next = afterOutOfMemory(data.options);
        await job.updateData({ ...data, options: next.options, notes: [...data.notes, next.note] });
        jobLog.warn(next.note);
      }
      const final = !failure.retryable || attempt >= (job.opts.attempts ?? 1);
      jobLog.warn({ code: failure.error.code, final, attempt }, failure.error.message);
      if (!final) throw err instanceof Error ? err : new Error(failure.error.message);
      return failForGood(job, failure.error, data.requester);
    } finally {
      signal?.removeEventListener('abort', onBullAbort);
    }
    return succeed(result);
  };

  const workerConnection = deps.connection();
  const worker = new Worker(ENHANCE_QUEUE, processor, {
    connection: workerConnection,
    prefix: config.queue.prefix,
    concurrency: config.queue.concurrency,
    lockDuration: config.queue.lockDurationMs,
    stalledInterval: config.queue.stalledIntervalMs,
    maxStalledCount: 3,
  });
  (outageOf(workerConnection) ?? createOutageLog(log)).watch('enhance worker', worker);

  // The bookkeeping of a job's end, only after BullMQ has recorded it.
  const finishRecorded = (job: Job) => {
    const data = enhanceJobSchema.safeParse(job.data);
    if (!data.success) return;
    deps.finish(job.id!, data.data).catch((err: unknown) => log.warn({ jobId: job.id, err: (err as Error).message }, 'could not clean up after the job'));
  };
  worker.on('completed', (job) => finishRecorded(job));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = job.finishedOn !== undefined;
    log.warn({ jobId: job.id, attempt: job.attemptsMade, final, reason: err.message }, final ? 'enhance job failed for good' : 'enhance job failed, will retry');
    if (final) finishRecorded(job);
  });

  // `dancelift cancel` runs in another process: it records the cancel, then publishes the id, and
  // whichever worker holds the job aborts it through the pipeline's AbortSignal and says so.
  const subscriber = deps.connection();
  const channel = cancelChannel(config);
  void subscriber.subscribe(channel).catch(() => {});
  subscriber.on('message', (ch: string, jobId: string) => {
    if (ch !== channel) return;
    if (!worker.cancelJob(jobId, 'cancelled by request')) return;
    log.info({ jobId }, 'cancelling running job');
    acknowledgeCancel(commands, config, jobId).catch(() => {});
  });

  return {
    worker,
    async close() {
      shuttingDown = true;
      worker.cancelAllJobs('shutdown');
      await worker.close();
      await subscriber.quit().catch(() => {});
      await commands.quit().catch(() => {});
    },
  };
}

export { cancelChannel };
export type { DeliverJobData };
