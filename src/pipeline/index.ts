import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { PipelineSettings } from '../config/schema.js';
import { backgroundsDir, prepareBackground } from '../backgrounds/library.js';
import { Channel } from './channel.js';
import { composeFromChunks } from './compose.js';
import { tapAlphaExport } from './export-alpha.js';
import { reframeStage, wantsReframe } from './reframe-stage.js';
import { decodeChunks, planNormalize } from './decode.js';
import { createMatter, createUpscaler, type MattingName, type UpscalerName } from './engines/index.js';
import { PipelineError, isPipelineError } from '../errors.js';
import { runInCalls } from './engines/run-in-calls.js';
import { noteEncoderFailure, resolveEncode } from './encoder.js';
import { isCallEngine } from './engines/upscale-realesrgan.js';
import { inputLimits, probeVideo, type VideoInfo } from '../media/probe.js';
import type { RvmVariant } from '../machine/rvm-variants.js';
import { encodeColour } from '../media/colour.js';
import { withCleanEdges, type EdgeMethod } from './edges.js';
import type { UpscaleModel } from '../machine/upscale-models.js';
import { StageMeter } from './stage.js';
import { pipelineSettings } from './settings.js';
import { chooseTempRoot, makeRunDir, watchPeak } from './tempdir.js';
import type { Chunk, ChunkEngine, Progress, RunStats, StageContext } from './types.js';
import { FFMPEG } from '../media/ffmpeg.js';

export interface EnhanceRequest {
  input: string;
  output: string;
  /** Library name, image/video path or colour (see backgrounds). Ignored with matting "none". */
  background?: string;
  scale?: 1 | 2 | 3 | 4;
  upscaler?: UpscalerName;
  /** The upscaler's model (config upscale.model when absent). */
  model?: UpscaleModel;
  matting?: MattingName;
  /** Which RVM network (default config matte.rvm.variant); fetched on first use if missing. */
  mattingModel?: RvmVariant;
  /** Edge cleaning (config matte.edges when absent). */
  edges?: EdgeMethod;
  /** Keep the cut-out (foreground + alpha + audio) at this path, for `recompose`. */
  cutout?: string;
  /** `--aspect/--fit/--ground/--shadow`; default: config.reframe. */
  reframe?: Partial<PipelineSettings['reframe']>;
  /** `--export alpha`: also write the dancer with alpha as WebM (VP9) and MOV (ProRes 4444) here. */
  exportAlpha?: { webm: string; mov: string };
  /** A whole config may be handed in; the run keeps only its pipeline part (settings.ts). */
  config: PipelineSettings;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  jobId?: string;
  /** The input's probe when the caller has one (a queued job carries it); else it is probed here. */
  probe?: VideoInfo;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export interface EnhanceResult {
  input: string;
  output: string;
  cutout?: string;
  /** The transparent exports, when asked for. */
  exports?: { webm: string; mov: string };
  durationS: number;
  width: number;
  height: number;
  hasAudio: boolean;
  stats: RunStats;
}

/** Partial files get this suffix until they are complete, so a failed run never leaves a half video. */
export const partialName = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.partial`);

/**
 * Runs one video through probe → decode+normalise → upscale → matte → compose+encode. The four
 * stages run at the same time on successive chunks with bounded hand-offs between them, so wall
 * time tends to the slowest stage and temp space to one chunk's worth.
 */
export async function enhance(req: EnhanceRequest): Promise<EnhanceResult> {
  const t0 = performance.now();
  const base = pipelineSettings(req.config);
  const config = req.model ? { ...base, upscale: { ...base.upscale, model: req.model } } : base;
  const log = req.log ?? (() => {});
  const upscalerName = req.upscaler ?? config.upscale.engine;
  const mattingName = req.matting ?? config.matte.engine;
  const scale = req.scale ?? config.upscale.scale;

  if (req.exportAlpha && mattingName === 'none') throw new PipelineError('UNSUPPORTED', 'a transparent export needs matting', { format: '--export alpha with --matting none' });
  const reframe = { ...config.reframe, ...req.reframe };
  if (wantsReframe(reframe) && mattingName === 'none') throw new PipelineError('UNSUPPORTED', 'reframing follows the cut-out: it needs matting', { format: '--aspect/--fit/--ground/--shadow with --matting none' });

  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(req.signal?.reason);
  if (req.signal?.aborted) throw new PipelineError('CANCELLED', 'cancelled');
  req.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = abort.signal;

  const info = req.probe ?? (await probeVideo(req.input, inputLimits(config.pipeline), { signal }));
  const plan = planNormalize(info, config.pipeline.maxInputShortSide);
  const background = mattingName === 'none' ? null : await prepareBackground(req.background ?? config.backgrounds.default, backgroundsDir(config));

  const chunkFrames = config.pipeline.chunkFrames;
  const tempRoot = await chooseTempRoot(config.pipeline.tempDir, chunkFrames * plan.width * plan.height * scale * scale * 8);
  const runDir = await makeRunDir(tempRoot, req.jobId ?? randomUUID().slice(0, 8));
  const peak = watchPeak(runDir);
  const ctx: StageContext = { signal, tempDir: runDir, log };
  const engines: ChunkEngine[] = [];
  const partial = partialName(req.output);
  const partialCutout = req.cutout ? partialName(req.cutout) : undefined;
  const exportAlpha = req.exportAlpha && { webm: partialName(req.exportAlpha.webm), mov: partialName(req.exportAlpha.mov) };

  try {
    const upscaler = await createUpscaler(config, upscalerName, scale, log);
    engines.push(upscaler);
    const matter = withCleanEdges(await createMatter(config, mattingName, log, { variant: req.mattingModel, signal }), mattingName === 'none' ? 'off' : req.edges ?? config.matte.edges);
    engines.push(matter);
    const reframer = wantsReframe(reframe) ? reframeStage(reframe, plan.width * upscaler.scale, plan.height * upscaler.scale, plan.fpsRational) : null;
    const [outW, outH] = reframer?.canvas ?? [plan.width * upscaler.scale, plan.height * upscaler.scale];
    await mkdir(path.dirname(req.output), { recursive: true });
    if (req.cutout) await mkdir(path.dirname(req.cutout), { recursive: true });

    const meters = {
      decode: new StageMeter('decode', plan.expectedFrames, req.onProgress),
      upscale: new StageMeter('upscale', plan.expectedFrames, req.onProgress),
      matte: new StageMeter('matte', plan.expectedFrames, req.onProgress),
      compose: new StageMeter('compose', plan.expectedFrames, req.onProgress),
    };
    const encode = await resolveEncode(config.encode);
    const depth = config.pipeline.queueDepth;
    const toUpscale = new Channel<Chunk>(depth);
    const toMatte = new Channel<Chunk>(depth);
    const toCompose = new Channel<Chunk>(depth);
    const channels = [toUpscale, toMatte, toCompose];

    // The first failure wins: the others then fail only because we aborted them.
    let firstError: unknown;
    const guard = async (meter: StageMeter, body: () => Promise<void>, out?: Channel<Chunk>) => {
      meter.begin();
      try {
        await body();
        out?.close();
      } catch (err) {
        firstError ??= err;
        abort.abort(err);
        for (const c of channels) c.fail(err);
        throw err;
      } finally {
        meter.end();
      }
    };
    const pump = (meter: StageMeter, engine: ChunkEngine, from: Channel<Chunk>, to: Channel<Chunk>) =>
      guard(meter, async () => {
        for await (const chunk of meter.input(from)) {
          const done = await engine.process(chunk, ctx);
          meter.done(done.count);
          await meter.push(to, done);
        }
      }, to);

    // Between matting and the encoder: the reframing (its own canvas), then the transparent export's tap.
    let composeFrames: AsyncIterable<Chunk> = meters.compose.input(toCompose);
    if (reframer) composeFrames = reframer.run(composeFrames);
    if (exportAlpha) composeFrames = tapAlphaExport(composeFrames, { width: outW, height: outH, fpsRational: plan.fpsRational, audioFrom: info.audio ? { file: req.input } : null, ...exportAlpha }, signal);

    const stages = [
      guard(meters.decode, async () => {
        for await (const chunk of decodeChunks(req.input, plan, chunkFrames, signal)) {
          meters.decode.done(chunk.count);
          await meters.decode.push(toUpscale, chunk);
        }
      }, toUpscale),
      isCallEngine(upscaler)
        ? guard(meters.upscale, async () => {
          meters.upscale.busyFrom(() => upscaler.busyS());
          await runInCalls(upscaler, meters.upscale.input(toUpscale), plan.expectedFrames, ctx, async (chunk) => {
            meters.upscale.done(chunk.count);
            await meters.upscale.push(toMatte, chunk);
          });
        }, toMatte)
        : pump(meters.upscale, upscaler, toUpscale, toMatte),
      pump(meters.matte, matter, toMatte, toCompose),
      guard(meters.compose, () =>
        composeFromChunks(
          {
            width: outW,
            height: outH,
            fpsRational: plan.fpsRational,
            frameFormat: mattingName === 'none' ? 'rgb24' : 'rgba',
            audioFrom: info.audio ? { file: req.input, codec: info.audio.codec, durationS: info.audio.durationS } : null,
            frames: plan.expectedFrames,
            colour: encodeColour(info.colour, outW, outH),
            background,
            output: partial,
            cutout: partialCutout,
            encode,
          },
          composeFrames,
          signal,
          (chunk) => meters.compose.done(chunk.count),
        ).catch((err: unknown) => {
          noteEncoderFailure(encode.codec, err instanceof Error ? err.message : String(err));
          throw err;
        }),
      ),
    ];
    const settled = await Promise.allSettled(stages);
    if (settled.some((s) => s.status === 'rejected')) {
      throw signal.aborted && req.signal?.aborted ? new PipelineError('CANCELLED', 'cancelled') : firstError;
    }

    await rename(partial, req.output);
    if (req.cutout && partialCutout) await rename(partialCutout, req.cutout);
    if (req.exportAlpha && exportAlpha) {
      await rename(exportAlpha.webm, req.exportAlpha.webm);
      await rename(exportAlpha.mov, req.exportAlpha.mov);
    }
    const totalS = (performance.now() - t0) / 1000;
    const composeInfo = { engine: `ffmpeg ${encode.codec}`, device: encode.codec === 'h264_nvenc' ? 'nvenc' : 'cpu', ...(encode.fallbackFrom ? { fallbackFrom: encode.fallbackFrom } : {}) };
    const stats: RunStats = {
      stages: [
        meters.decode.stats({ engine: FFMPEG, device: 'cpu' }),
        meters.upscale.stats(upscaler.info()),
        meters.matte.stats(matter.info()),
        meters.compose.stats(composeInfo),
      ],
      totalS,
      realtimeFactor: totalS / info.durationS,
      peakTempBytes: await peak.stop(),
    };
    return { input: req.input, output: req.output, ...(req.cutout ? { cutout: req.cutout } : {}), ...(req.exportAlpha ? { exports: req.exportAlpha } : {}), durationS: info.durationS, width: outW, height: outH, hasAudio: info.audio !== null, stats };
  } catch (err) {
    await rm(partial, { force: true });
    if (partialCutout) await rm(partialCutout, { force: true });
    if (exportAlpha) await Promise.all([rm(exportAlpha.webm, { force: true }), rm(exportAlpha.mov, { force: true })]);
    if (req.signal?.aborted && !(isPipelineError(err) && err.code !== 'CANCELLED')) throw new PipelineError('CANCELLED', 'cancelled', {}, { cause: err });
    throw err;
  } finally {
    req.signal?.removeEventListener('abort', onOuterAbort);
    await Promise.allSettled(engines.map((e) => e.close()));
    await peak.stop();
    await rm(runDir, { recursive: true, force: true });
  }
}
