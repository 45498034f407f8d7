import { z } from 'zod';
import { travellingProbeSchema } from '../media/probe.js';
import { REQUESTER_PLATFORMS } from '../chat-platforms.js';
import { ERROR_CODES } from '../errors.js';
import { ASPECTS } from '../pipeline/reframe-plan.js';
import { RVM_VARIANTS } from '../machine/rvm-variants.js';
import { engineNameSchema } from '../pipeline/engines/registry.js';

/**
 * The one schema for what crosses Redis: the data of an `enhance` job, its progress and its result,
 * and the `deliver` job that carries the outcome back to whoever asked. Everything read back from
 * Redis is parsed with these, so a job written by an older version fails loudly, not strangely.
 */

export const ENHANCE_QUEUE = 'enhance';
export const DELIVER_QUEUE = 'deliver';

export const localeSchema = z.enum(['en', 'zh']);

export const requesterSchema = z.object({
  platform: z.enum(REQUESTER_PLATFORMS),
  /** Chat (Telegram), channel (Discord) or the CLI's host name. */
  chatId: z.string(),
  /** Server (Discord guild) when there is one: allow-lists apply to it. */
  guildId: z.string().optional(),
  userId: z.string(),
  userName: z.string().optional(),
  locale: localeSchema,
  /** The status message the bot edits as the job moves, when there is one. */
  messageId: z.string().optional(),
  /** Platform extras a bot needs to answer (e.g. Discord's interaction token and its expiry). */
  reply: z.record(z.string()).optional(),
});
export type Requester = z.infer<typeof requesterSchema>;

export const enhanceOptionsSchema = z.object({
  scale: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]).optional(),
  upscaler: engineNameSchema('upscale').optional(),
  /** The upscaler's model; absent = config upscale.model. */
  model: z.enum(['general', 'anime']).optional(),
  matting: engineNameSchema('matte').optional(),
  /** RVM network: 'resnet50' for fine hair (slower), 'mobilenetv3' faster; absent = config default. */
  mattingModel: z.enum(RVM_VARIANTS).optional(),
  keepCutout: z.boolean().default(false),
  /** `--preview SECONDS`: only the most active stretch; preview jobs jump ahead of full ones. */
  preview: z.number().positive().max(60).optional(),
  /** Reframing (`--aspect/--fit/--ground/--shadow`); absent = config.reframe. */
  aspect: z.enum(ASPECTS as [string, ...string[]]).optional(),
  fit: z.number().gt(0).max(1).optional(),
  ground: z.number().gt(0).max(1).optional(),
  shadow: z.boolean().optional(),
  /** `--export alpha`: also the dancer with alpha (WebM VP9 + MOV ProRes 4444), kept beside the output. */
  exportAlpha: z.boolean().optional(),
  /** Set by a retry after the GPU ran out of memory: a smaller realesrgan tile. */
  tile: z.number().int().min(0).optional(),
});
export type EnhanceOptions = z.infer<typeof enhanceOptionsSchema>;

export const enhanceJobSchema = z.object({
  requester: requesterSchema,
  input: z.object({
    /** Relative to the data dir's `inputs/`; the file belongs to the job and is removed when it ends. */
    file: z.string(),
    /** The user's own name for it (shown, never used as a path). */
    name: z.string(),
    bytes: z.number().int().nonnegative(),
    /** Content hash (hex), computed by the producer: what instant repeats know the input by. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    /** A platform's id for the same file (Telegram's file_unique_id): a hint, never trusted over the hash. */
    hint: z.string().max(128).optional(),
    /** What the producer's probe found (within the limits): the worker reads it instead of probing again. */
    probe: travellingProbeSchema.optional(),
  }),
  /** A library name, a colour, or (CLI only) a path. */
  background: z.string(),
  options: enhanceOptionsSchema,
  submittedAt: z.number(),
  /** What earlier attempts changed (smaller tile, CPU engine): shown in the stats. */
  notes: z.array(z.string()).default([]),
});
export type EnhanceJobData = z.infer<typeof enhanceJobSchema>;

export const STAGES = ['queued', 'decode', 'upscale', 'matte', 'compose', 'done'] as const;
export const progressSchema = z.object({
  stage: z.enum(STAGES),
  percent: z.number().min(0).max(100),
  fps: z.number().nonnegative(),
  etaS: z.number().nonnegative().nullable(),
  /** 1-based place in the queue while waiting. */
  position: z.number().int().positive().optional(),
});
export type JobProgress = z.infer<typeof progressSchema>;

export const stageStatsSchema = z.object({
  name: z.enum(['decode', 'upscale', 'matte', 'compose']),
  seconds: z.number(),
  fps: z.number(),
  frames: z.number().optional(),
  engine: z.string(),
  device: z.string(),
  fallbackFrom: z.string().optional(),
});

export const resultSchema = z.object({
  /** Relative to the data dir's `outputs/`. */
  output: z.string(),
  cutout: z.string().optional(),
  /** With exportAlpha: the transparent files, relative to the data dir's `outputs/`. */
  exports: z.object({ webm: z.string(), mov: z.string() }).optional(),
  /** With preview: where the stretch starts in the original and how long it is (seconds). */
  preview: z.object({ startS: z.number(), seconds: z.number(), selectS: z.number().optional() }).optional(),
  /** True when a finished result of the same input and settings was returned instead of computing again. */
  reused: z.boolean().optional(),
  bytes: z.number().int().nonnegative(),
  durationS: z.number(),
  width: z.number().int(),
  height: z.number().int(),
  hasAudio: z.boolean(),
  stats: z.object({
    stages: z.array(stageStatsSchema.required({ frames: true })),
    totalS: z.number(),
    realtimeFactor: z.number(),
    peakTempBytes: z.number(),
    /** Time the job waited in the queue before a worker took it. */
    queueWaitS: z.number(),
    /** What retries changed (smaller tile, CPU engine), in order. */
    retries: z.array(z.string()),
  }),
});
export type JobResult = z.infer<typeof resultSchema>;

/**
 * Failures the queue itself decides (not the pipeline): job data that fails this schema, an input
 * path the storage refuses, a full disk. All three are final: retrying cannot help.
 */
export const JOB_FAILURE_CODES = ['JOB_DATA_INVALID', 'INPUT_REFUSED', 'DISK_FULL'] as const;
export type JobFailureCode = (typeof JOB_FAILURE_CODES)[number];

export const wireErrorSchema = z.object({
  code: z.enum([...ERROR_CODES, ...JOB_FAILURE_CODES]).optional(),
  message: z.string(),
  params: z.record(z.union([z.string(), z.number()])).default({}),
});
export type WireError = z.infer<typeof wireErrorSchema>;

export const deliverJobSchema = z.object({
  /** The enhance job this delivers. */
  jobId: z.string(),
  requester: requesterSchema,
  inputName: z.string(),
  background: z.string(),
  outcome: z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), result: resultSchema, link: z.string().url() }),
    z.object({ ok: z.literal(false), error: wireErrorSchema, attempts: z.number().int() }),
  ]),
});
export type DeliverJobData = z.infer<typeof deliverJobSchema>;
