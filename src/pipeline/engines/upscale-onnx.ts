/**
 * `--upscaler onnx`: Real-ESRGAN (realesr-animevideov3, converted from the ncnn files at
 * provisioning) in onnxruntime-node. Frames go from the decoder's buffer to a tensor and back without
 * touching the disk, and the session lives as long as the engine, so there is no per-chunk start-up.
 *
 * Providers are tried in the configured order (cuda → webgpu → cpu), each proved by a tiny real
 * inference before it is chosen; info() says which one runs and why the earlier ones were passed
 * over. This module runs inside the worker thread (upscale-onnx-worker.ts): session.run blocks the
 * thread that calls it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { PipelineError } from '../../errors.js';
import { frameBytes, type Chunk, type EngineInfo, type StageContext, type UpscaleEngine } from '../types.js';
import { firstWorkingProvider, openCheckedSession, ortReason, ortSessionOptions } from './ort/providers.js';
import { modelForProvider } from '../../machine/fp16-models.js';
import { planTiles, planarToTile, tileToPlanar, type Tile } from './upscale-tiles.js';

export interface OnnxUpscaleOptions {
  modelPath: string;
  /** Its fp16 copy made at provisioning, for GPU providers only (modelForProvider); absent: fp32 everywhere. */
  fp16ModelPath?: string;
  scale: number;
  /** Execution providers to try in order. */
  providers: string[];
  /** Tile size in input pixels; 0 = the whole frame. */
  tile: number;
  /** Context around each tile, as realesrgan-ncnn-vulkan uses (10 px). */
  pad?: number;
  threads?: number;
  /** How the stats name the model, e.g. "general: realesrgan-x4fast-x2"; default the file's name. */
  label?: string;
  log?: (msg: string) => void;
}

export const DEFAULT_PAD = 10;
/** Below this a tile is mostly margin. */
const MIN_TILE = 32;

/** A 16x16 grey frame must come back grey at 16·scale: proves the provider runs this graph. */
async function smokeTest(session: ort.InferenceSession, scale: number): Promise<void> {
  const [input] = session.inputNames;
  const [output] = session.outputNames;
  const side = 16;
  const t = new ort.Tensor('float32', new Float32Array(3 * side * side).fill(0.5), [1, 3, side, side]);
  const out = (await session.run({ [input]: t }))[output] as ort.Tensor;
  const want = `1x3x${side * scale}x${side * scale}`;
  if (out.dims.join('x') !== want) throw new Error(`the model gives ${out.dims.join('x')} for a 1x3x${side}x${side} input, expected ${want} (wrong scale?)`);
  const v = (out.data as Float32Array)[0];
  if (!Number.isFinite(v) || Math.abs(v - 0.5) > 0.2) throw new Error(`implausible output ${v} for a grey frame`);
  out.dispose();
}

export async function createOnnxUpscale(opts: OnnxUpscaleOptions): Promise<UpscaleEngine> {
  const log = opts.log ?? (() => {});
  const modelPath = path.resolve(opts.modelPath);
  if (!existsSync(modelPath)) {
    throw new PipelineError('MODEL_MISSING', `ONNX upscale model not found: ${modelPath} (run \`npm run setup\` to convert it)`, { path: modelPath });
  }
  const providers = opts.providers.length > 0 ? opts.providers : ['cpu'];
  const { chosen, failures } = await firstWorkingProvider({
    providers,
    label: 'upscale onnx',
    // Without the CUDA install hint: these reasons read as they always have in the stats.
    reason: (err) => ortReason(err),
    log,
    async attempt(provider) {
      const t0 = performance.now();
      const open = (file: string) => openCheckedSession(file, ortSessionOptions(provider, opts.threads), (s) => smokeTest(s, opts.scale));
      const { file, precision } = modelForProvider(provider, modelPath, opts.fp16ModelPath);
      let session: ort.InferenceSession;
      try {
        session = await open(file);
      } catch (err) {
        if (precision === 'fp32') throw err;
        log(`upscale onnx: ${provider} fp16 failed: ${ortReason(err)}; trying fp32`);
        return { session: await open(modelPath), provider, precision: 'fp32' as const };
      }
      log(`upscale onnx: using onnxruntime ${provider} ${precision}, ready in ${Math.round(performance.now() - t0)} ms`);
      return { session, provider, precision };
    },
  });
  if (!chosen) {
    throw new PipelineError('TOOL_FAILED', `the ONNX upscaler could not run on any onnxruntime execution provider: ${failures.join('; ')}`, {
      tool: 'onnxruntime',
      detail: failures.join('; '),
    });
  }
  const info: EngineInfo = {
    engine: `${opts.label ?? path.basename(modelPath, '.onnx')} (onnxruntime-node)`,
    device: `onnxruntime ${chosen.provider}${chosen.precision === 'fp16' ? ' fp16' : ''}`,
  };
  if (failures.length > 0) info.fallbackFrom = failures.join('; ');
  return new OnnxUpscale(chosen.session, opts, info);
}

class OnnxUpscale implements UpscaleEngine {
  readonly scale: number;
  private session: ort.InferenceSession | undefined;
  private readonly input: string;
  private readonly output: string;
  private readonly pad: number;
  private readonly tileSize: number;
  /** Input buffers by padded tile size: a video has at most four different ones. */
  private buffers = new Map<string, Float32Array>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(session: ort.InferenceSession, opts: OnnxUpscaleOptions, private readonly engineInfo: EngineInfo) {
    this.session = session;
    this.scale = opts.scale;
    this.input = session.inputNames[0];
    this.output = session.outputNames[0];
    this.pad = opts.pad ?? DEFAULT_PAD;
    this.tileSize = opts.tile > 0 ? Math.max(MIN_TILE, opts.tile) : 0;
  }

  info(): EngineInfo {
    return { ...this.engineInfo };
  }

  process(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
    // One run at a time: the session and the reused buffers are shared.
    const run = this.tail.then(() => this.processNow(chunk, ctx));
    this.tail = run.catch(() => {});
    return run;
  }

  private buffer(tile: Tile): Float32Array {
    const key = `${tile.w}x${tile.h}`;
    let b = this.buffers.get(key);
    if (!b) {
      b = new Float32Array(3 * (tile.w + 2 * this.pad) * (tile.h + 2 * this.pad));
      this.buffers.set(key, b);
    }
    return b;
  }

  private async processNow(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
    const session = this.session;
    if (!session) throw new PipelineError('TOOL_FAILED', 'onnx upscale engine used after close()');
    if (chunk.format !== 'rgb24') throw new PipelineError('TOOL_FAILED', `onnx upscale expects rgb24 frames, got ${chunk.format}`);
    const { width: w, height: h, count } = chunk;
    const s = this.scale;
    const inBytes = frameBytes(w, h, 'rgb24');
    const outBytes = frameBytes(w * s, h * s, 'rgb24');
    if (chunk.pixels.length < count * inBytes) throw new PipelineError('TOOL_FAILED', `chunk ${chunk.index}: ${chunk.pixels.length} bytes for ${count} frames of ${w}x${h}`);
    const tiles = planTiles(w, h, this.tileSize);
    const pixels = Buffer.allocUnsafe(count * outBytes);
    const t0 = performance.now();
    for (let f = 0; f < count; f++) {
      for (const tile of tiles) {
        if (ctx.signal.aborted) throw new PipelineError('CANCELLED', 'cancelled', {}, { cause: ctx.signal.reason });
        const data = this.buffer(tile);
        tileToPlanar(chunk.pixels, f * inBytes, w, h, tile, this.pad, data);
        const ph = tile.h + 2 * this.pad;
        const pw = tile.w + 2 * this.pad;
        const feed = new ort.Tensor('float32', data, [1, 3, ph, pw]);
        let out: ort.Tensor;
        try {
          out = (await session.run({ [this.input]: feed }))[this.output] as ort.Tensor;
        } catch (err) {
          throw new PipelineError('TOOL_FAILED', `ONNX upscale failed on frame ${chunk.start + f}: ${ortReason(err)}`, { tool: 'onnxruntime', detail: ortReason(err) }, { cause: err });
        }
        if (out.dims.join('x') !== `1x3x${ph * s}x${pw * s}`) {
          throw new PipelineError('TOOL_FAILED', `the ONNX upscale model gave ${out.dims.join('x')} for ${pw}x${ph}; expected x${s}`, { tool: 'onnxruntime', detail: 'shape' });
        }
        planarToTile(out.data as Float32Array, tile, this.pad, s, w, pixels, f * outBytes);
        out.dispose();
      }
    }
    const ms = performance.now() - t0;
    ctx.log(`upscale onnx: chunk ${chunk.index}: ${count} frames ${w}x${h} → x${s} in ${Math.round(ms)} ms (${(ms / Math.max(1, count)).toFixed(1)} ms/frame, ${tiles.length} tile(s))`, {
      chunk: chunk.index,
      frames: count,
      ms: Math.round(ms),
      device: this.engineInfo.device,
    });
    return { ...chunk, width: w * s, height: h * s, pixels };
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await this.tail.catch(() => {});
    this.buffers.clear();
    if (session) await session.release();
  }
}
