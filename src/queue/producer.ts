import { stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { backgroundsDir, ensureDefaultBackgrounds, resolveBackground } from '../backgrounds/library.js';
import { inputLimits, probeVideo, travelling, type VideoInfo } from '../media/probe.js';
import { enhanceJobSchema, type EnhanceJobData, type EnhanceOptions, type Requester } from './jobs.js';
import { queuePosition, type Queues } from './queues.js';
import { deduplicationId, hashFile, jobPriority, reuseKeys } from './reuse.js';
import type { ResultCache } from './result-cache.js';

export interface ProducerDeps {
  config: Config;
  queues: Queues;
  storage: {
    /** Copies (or moves) the user's file into the data dir's inputs; returns its relative name. */
    importInput(source: string, jobId: string, originalName: string, move: boolean): Promise<{ rel: string; bytes: number }>;
    removeInput(rel: string): Promise<void>;
    resolveInput(rel: string): string;
    ensureFree(bytesNeeded: number): Promise<void>;
  };
  limits: {
    /** Refuses (ServiceRefusal) or records the job against the queue's and the user's limits, atomically. */
    reserve(requester: Requester, jobId: string): Promise<void>;
    /** The job is in the queue: its reserved place there is now counted by the queue itself. */
    enqueued(jobId: string): Promise<void>;
    release(requester: Requester, jobId: string): Promise<void>;
  };
  /** Finished results: a request they answer jumps the queue, as it needs a worker only for a moment. */
  cache: Pick<ResultCache, 'find'>;
}

export interface SubmitRequest {
  file: string;
  /** The name the user knows the video by (defaults to the file's). */
  name?: string;
  requester: Requester;
  background: string;
  options: Partial<EnhanceOptions>;
  /** Bots download into a temp file that can simply be moved; the CLI copies. */
  move?: boolean;
  /** Bots accept only library names and colours, never a path on the server. */
  allowBackgroundPaths?: boolean;
  /** A platform's id for the same file (Telegram's file_unique_id), carried as a hint. */
  hint?: string;
  /** The caller's probe of this very file within inputLimits() (a bot probed its download): not taken again. */
  probe?: VideoInfo;
}

export interface Submitted {
  jobId: string;
  position: number | undefined;
  /** The same request from the same chat was still running: this is that job, nothing new was queued. */
  joined?: boolean;
}

// A letter first: BullMQ refuses custom ids that look like integers, and 12 hex digits can be all digits.
export const newJobId = () => `j${randomBytes(6).toString('hex')}`;

/**
 * Checks a request the way a user would want it checked — before anything waits in a queue — and
 * enqueues it: the file must be a video ffprobe can read within the limits, the background must
 * exist, the disk must have room, and the user must be within their limits. A refusal leaves
 * nothing behind.
 */
export async function submitEnhance(deps: ProducerDeps, req: SubmitRequest): Promise<Submitted> {
  const { config, queues } = deps;
  // Probed once on its way: the job carries this probe to the worker.
  const info = req.probe ?? (await probeVideo(req.file, inputLimits(config.pipeline)));
  const bgDir = backgroundsDir(config);
  await ensureDefaultBackgrounds(bgDir);
  const bg = await resolveBackground(req.background, bgDir, { allowPaths: req.allowBackgroundPaths ?? false });
  // Stored as something the worker can resolve again: the colour, the library name, or (CLI) a path.
  const background = bg.kind === 'color' ? req.background : req.allowBackgroundPaths ? bg.path : bg.name;

  const { size } = await stat(req.file);
  // Room for the input, the output (a few times the input at twice the size) and a kept cut-out.
  await deps.storage.ensureFree(size * 12 + 256 * 1024 * 1024);

  const jobId = newJobId();
  // The queue's length is checked inside the reservation, never read beside it: a burst of
  // submits would all see the same room.
  await deps.limits.reserve(req.requester, jobId);
  let imported: { rel: string; bytes: number } | undefined;
  try {
    const name = req.name ?? path.basename(req.file);
    imported = await deps.storage.importInput(req.file, jobId, name, req.move ?? false);
    // Hashed from our own copy: the file the worker will read is the file the hash names.
    const sha256 = await hashFile(deps.storage.resolveInput(imported.rel));
    const data: EnhanceJobData = enhanceJobSchema.parse({
      requester: req.requester,
      input: { file: imported.rel, name, bytes: imported.bytes, sha256, probe: travelling(info), ...(req.hint ? { hint: req.hint } : {}) },
      background,
      options: req.options,
      submittedAt: Date.now(),
      notes: [],
    });
    const keys = reuseKeys(config, data, sha256);
    const cached = (await deps.cache.find(keys.result).catch(() => null)) !== null;
    const keepS = Math.round(config.storage.keepOutputsHours * 3600);
    const job = await queues.enhance.add('enhance', data, {
      jobId,
      priority: jobPriority(data.options, cached),
      // Instant repeats off (storage.cacheGb 0): every request is a job of its own.
      ...(config.storage.cacheGb > 0 ? { deduplication: { id: deduplicationId(keys.result, req.requester) } } : {}),
      attempts: config.queue.attempts,
      backoff: { type: 'exponential', delay: config.queue.backoffMs },
      removeOnComplete: { age: keepS },
      removeOnFail: { age: keepS },
    });
    if (job.id !== jobId) {
      // Deduplicated: the same request from this chat is still running; follow that job instead.
      await deps.storage.removeInput(imported.rel).catch(() => {});
      await deps.limits.release(req.requester, jobId).catch(() => {});
      return { jobId: job.id!, position: await queuePosition(queues.enhance, job.id!), joined: true };
    }
    await deps.limits.enqueued(jobId).catch(() => {});
    return { jobId, position: await queuePosition(queues.enhance, jobId) };
  } catch (err) {
    if (imported) await deps.storage.removeInput(imported.rel).catch(() => {});
    await deps.limits.release(req.requester, jobId).catch(() => {});
    throw err;
  }
}
