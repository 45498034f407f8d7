import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { Chunk, EngineInfo, StageContext, UpscaleEngine } from '../types.js';
import { frameBytes } from '../types.js';
import { PipelineError } from '../../errors.js';
import { dirBytes } from '../tempdir.js';
import {
  estimateStartup,
  framesForShare,
  maxFramesForTemp,
  noCalls,
  parseDoneLine,
  planCallFrames,
  type CallTotals,
} from './realesrgan-calls.js';
import { FFMPEG, ffmpegBin } from '../../media/ffmpeg.js';

export interface RealesrganOptions {
  binary: string;
  modelsDir: string;
  /** Model family, e.g. "realesr-animevideov3": the file used is `<model>-x<scale>`. */
  model: string;
  scale: number;
  /** 0 = the binary's automatic tile size. */
  tile: number;
  gpu: string;
  /** How the stats name the model, e.g. "general: realesrgan-x4fast-x2"; default the file's name. */
  label?: string;
  ffmpeg?: string;
  /** 'auto': chosen from the first call's measured start-up (see realesrgan-calls.ts). */
  framesPerCall?: 'auto' | number;
  /** Frames of the first call in 'auto', before anything is measured. */
  firstCallFrames?: number;
  /** Largest share of a call its start-up may take, in 'auto'. */
  startupShare?: number;
  /** Temp bytes the PNG files of one call (and the next one's inputs) may take. */
  maxCallTempBytes?: number;
}

const DEFAULTS = { firstCallFrames: 64, startupShare: 0.05, maxCallTempBytes: 2 * 2 ** 30 };

/** Pure: the upscaler's arguments for one folder of frames. -v: one "… done" line per frame. */
export function realesrganArgs(o: RealesrganOptions, inDir: string, outDir: string): string[] {
  const args = ['-i', inDir, '-o', outDir, '-n', `${o.model}-x${o.scale}`, '-s', String(o.scale), '-m', o.modelsDir, '-f', 'png', '-t', String(o.tile), '-v'];
  if (o.gpu !== '') args.push('-g', o.gpu);
  return args;
}

/**
 * Pure: the Vulkan device the binary reports on stderr ("[0 NVIDIA GeForce RTX 3060]  queueC=2[8]
 * ..."), i.e. the one that really did the work, for the stats.
 */
export function parseVulkanDevice(stderr: string, gpu = ''): string | null {
  const devices = new Map<string, string>();
  for (const m of stderr.matchAll(/^\[(\d+) (.+?)\]\s+queueC=/gm)) devices.set(m[1], m[2]);
  if (devices.size === 0) return null;
  return devices.get(gpu === '' ? '0' : gpu) ?? [...devices.values()][0];
}

/** Pure: what a failed run means for the user and for retries. */
export function classifyRealesrganFailure(stderr: string, exitCode: number | undefined): PipelineError {
  const detail = stderr.split('\n').filter((l) => l.trim() && !/^\d+\.\d+%$/.test(l.trim()) && parseDoneLine(l) === null).slice(-3).join(' | ') || `exit ${exitCode}`;
  if (/out of (device )?memory|vkAllocateMemory failed|VK_ERROR_OUT_OF_DEVICE_MEMORY/i.test(stderr)) {
    return new PipelineError('GPU_OUT_OF_MEMORY', `realesrgan-ncnn-vulkan ran out of GPU memory: ${detail}`, { tool: 'realesrgan-ncnn-vulkan', detail });
  }
  if (/vkCreateInstance failed|invalid gpu device|no vulkan/i.test(stderr)) {
    return new PipelineError('TOOL_FAILED', `realesrgan-ncnn-vulkan found no usable Vulkan device: ${detail}`, { tool: 'realesrgan-ncnn-vulkan', detail });
  }
  return new PipelineError('TOOL_FAILED', `realesrgan-ncnn-vulkan failed: ${detail}`, { tool: 'realesrgan-ncnn-vulkan', detail });
}

async function ffmpegOrThrow(ffmpeg: string, args: string[], signal: AbortSignal, input?: Buffer): Promise<Buffer> {
  const r = await execa(ffmpeg, args, { input, encoding: 'buffer', maxBuffer: 2 ** 31, cancelSignal: signal, reject: false });
  if (r.isCanceled || signal.aborted) throw new PipelineError('CANCELLED', 'cancelled');
  if (r.exitCode !== 0) {
    const detail = Buffer.from(r.stderr as Uint8Array).toString().trim();
    throw new PipelineError('TOOL_FAILED', `ffmpeg failed: ${detail}`, { tool: FFMPEG, detail });
  }
  return Buffer.from(r.stdout as Uint8Array);
}

/** Input frames of one call, written as PNGs and waiting for the binary. */
export interface PreparedCall {
  dir: string;
  frames: number;
  chunks: Chunk[];
  /** The source ran dry while this call was gathered: no call follows. */
  last: boolean;
}

/**
 * The binary engine in calls of many frames (frames per call need not be the pipeline's chunk
 * size). The pump (runInCalls) gathers a call's chunks with prepareCall, runs it with runCall and
 * hands on the output chunks as their frames finish, while it gathers the next call.
 */
export interface CallUpscaleEngine extends UpscaleEngine {
  prepareCall(source: AsyncIterator<Chunk>, remaining: number, ctx: StageContext): Promise<PreparedCall | null>;
  runCall(call: PreparedCall, ctx: StageContext): AsyncGenerator<Chunk>;
  discardCall(call: PreparedCall): Promise<void>;
  totals(): CallTotals;
  /** Seconds the engine had work going (a binary, a PNG encode or decode), overlaps counted once. */
  busyS(): number;
}

export const isCallEngine = (e: UpscaleEngine): e is CallUpscaleEngine => typeof (e as Partial<CallUpscaleEngine>).runCall === 'function';

/** Union of busy intervals: the engine's work overlaps itself (next call's PNGs while a call runs). */
class BusyClock {
  private active = 0;
  private since = 0;
  private total = 0;
  async time<T>(work: () => Promise<T>): Promise<T> {
    if (this.active++ === 0) this.since = performance.now();
    try {
      return await work();
    } finally {
      if (--this.active === 0) this.total += performance.now() - this.since;
    }
  }
  seconds(): number {
    return (this.total + (this.active > 0 ? performance.now() - this.since : 0)) / 1000;
  }
}

/**
 * `--upscaler realesrgan`: the real realesrgan-ncnn-vulkan. It reads and writes image files only and
 * loads its model and builds its pipelines at every call, so frames go through folders of PNGs in
 * calls long enough that this start-up is a small share (measured at the first call from its time
 * to first output), and short enough that the files stay within a temp budget. Each output frame is
 * read back as soon as the binary reports it done and its files are deleted at once.
 */
export function createRealesrganUpscale(o: RealesrganOptions): CallUpscaleEngine {
  const ffmpeg = o.ffmpeg ?? ffmpegBin();
  const firstCallFrames = o.firstCallFrames ?? DEFAULTS.firstCallFrames;
  const share = o.startupShare ?? DEFAULTS.startupShare;
  const budget = o.maxCallTempBytes ?? DEFAULTS.maxCallTempBytes;
  const fixed = typeof o.framesPerCall === 'number' ? Math.max(1, Math.floor(o.framesPerCall)) : null;
  let device = 'Vulkan (device not reported yet)';
  let target = fixed ?? firstCallFrames;
  let measured = fixed !== null;
  const totals = noCalls(target);
  const clock = new BusyClock();
  const pngName = (n: number) => `${String(n).padStart(6, '0')}.png`;

  const engine: CallUpscaleEngine = {
    scale: o.scale,
    info: (): EngineInfo => ({ engine: `realesrgan-ncnn-vulkan ${o.label ?? `${o.model}-x${o.scale}`}`, device, calls: { ...totals } }),
    totals: () => ({ ...totals }),
    busyS: () => clock.seconds(),

    async prepareCall(source, remaining, ctx) {
      let call: PreparedCall | undefined;
      try {
        for (;;) {
          // Re-read each time: the first call's measurement may arrive while this one gathers.
          const width = call?.chunks[0].width;
          const cap = width ? maxFramesForTemp(width, call!.chunks[0].height, budget) : Infinity;
          if (call && call.frames >= planCallFrames(target, remaining, cap)) return call;
          const next = await source.next();
          if (next.done) {
            if (call) call.last = true;
            return call ?? null;
          }
          const chunk = next.value;
          if (chunk.format !== 'rgb24') throw new Error('realesrgan engine expects rgb24 frames');
          if (call && (chunk.width !== call.chunks[0].width || chunk.height !== call.chunks[0].height)) {
            throw new PipelineError('TOOL_FAILED', `realesrgan: frame size changed within a video (${chunk.width}x${chunk.height})`, { tool: 'realesrgan-ncnn-vulkan', detail: 'size' });
          }
          if (!call) {
            const dir = await mkdtemp(path.join(ctx.tempDir, `upscale-${chunk.index}-`));
            await mkdir(path.join(dir, 'in'));
            await mkdir(path.join(dir, 'out'));
            call = { dir, frames: 0, chunks: [], last: false };
          }
          const first = call.frames;
          const inPattern = path.join(call.dir, 'in', '%06d.png');
          // Fast PNG settings: these files live for seconds, size matters less than encode time.
          await clock.time(() => ffmpegOrThrow(ffmpeg, [
            '-v', 'error', '-nostdin', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${chunk.width}x${chunk.height}`, '-i', 'pipe:0',
            '-c:v', 'png', '-compression_level', '1', '-start_number', String(first), inPattern,
          ], ctx.signal, chunk.pixels));
          // The pixels are on disk now: keep the chunk's shape only, not its memory.
          call.chunks.push({ ...chunk, pixels: Buffer.alloc(0) });
          call.frames += chunk.count;
        }
      } catch (err) {
        if (call) await engine.discardCall(call);
        throw err;
      }
    },

    discardCall: (call) => rm(call.dir, { recursive: true, force: true }),

    async *runCall(call, ctx) {
      const inDir = path.join(call.dir, 'in');
      const outDir = path.join(call.dir, 'out');
      const { width: w, height: h } = call.chunks[0];
      const done = new Set<number>();
      const doneS: number[] = [];
      let firstProgressS: number | undefined;
      let stderrTail = '';
      let wake: (() => void) | undefined;
      const poke = () => {
        wake?.();
        wake = undefined;
      };
      const t0 = performance.now();
      let exited = false;
      const sub = execa(o.binary, realesrganArgs(o, inDir, outDir), {
        cwd: path.dirname(o.binary),
        cancelSignal: ctx.signal,
        reject: false,
        stdin: 'ignore',
        stdout: 'ignore',
        buffer: false,
      });
      let partial = '';
      sub.stderr?.on('data', (d: Buffer) => {
        const lines = (partial + d.toString()).split(/\r?\n/);
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const n = parseDoneLine(line);
          if (n !== null) {
            done.add(n);
            doneS.push((performance.now() - t0) / 1000);
            poke();
          } else if (/^\d+\.\d+%$/.test(line.trim())) {
            firstProgressS ??= (performance.now() - t0) / 1000;
          } else if (line.trim()) {
            stderrTail = `${stderrTail}${line}\n`.slice(-8000);
          }
        }
      });
      const finished = clock.time(() => sub).then((r) => {
        exited = true;
        poke();
        return r;
      });
      let peak = await dirBytes(call.dir);
      try {
        device = parseVulkanDevice(stderrTail, o.gpu) ?? device;
        for (let c = 0, first = 0; c < call.chunks.length; first += call.chunks[c].count, c++) {
          const chunk = call.chunks[c];
          const frames = Array.from({ length: chunk.count }, (_, k) => first + k);
          // Wait for this chunk's frames; a binary without "done" lines is trusted once it exits 0.
          while (!frames.every((n) => done.has(n)) && !exited) await new Promise<void>((r) => (wake = r));
          if (ctx.signal.aborted) throw new PipelineError('CANCELLED', 'cancelled');
          device = parseVulkanDevice(stderrTail, o.gpu) ?? device;
          if (exited) {
            const r = await finished;
            if (r.isCanceled || ctx.signal.aborted) throw new PipelineError('CANCELLED', 'cancelled');
            if (r.exitCode !== 0 && !frames.every((n) => done.has(n))) throw classifyRealesrganFailure(`${stderrTail}${String(r.stderr ?? '')}`, r.exitCode);
          }
          peak = Math.max(peak, await dirBytes(call.dir));
          const pixels = await clock.time(() => ffmpegOrThrow(ffmpeg, [
            '-v', 'error', '-nostdin', '-start_number', String(first), '-i', path.join(outDir, '%06d.png'),
            '-frames:v', String(chunk.count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
          ], ctx.signal).catch((err: unknown) => {
            // Missing files: the binary printed an error and still exited 0. Trust the files, not the exit code.
            throw exited ? classifyRealesrganFailure(stderrTail, 0) : err;
          }));
          const width = w * o.scale;
          const height = h * o.scale;
          if (pixels.length !== frameBytes(width, height, 'rgb24') * chunk.count) {
            throw new PipelineError('TOOL_FAILED', `realesrgan-ncnn-vulkan wrote frames of an unexpected size`, { tool: 'realesrgan-ncnn-vulkan', detail: 'size' });
          }
          // Temp space is what is still to do, not what was done.
          await Promise.all(frames.flatMap((n) => [rm(path.join(inDir, pngName(n)), { force: true }), rm(path.join(outDir, pngName(n)), { force: true })]));
          yield { ...chunk, width, height, pixels };
        }
        const r = await finished;
        if (r.exitCode !== 0) throw classifyRealesrganFailure(stderrTail, r.exitCode);
        const callS = (performance.now() - t0) / 1000;
        const est = estimateStartup({ doneS, firstProgressS });
        totals.calls += 1;
        totals.frames += call.frames;
        totals.callS += callS;
        totals.startupS += est ? Math.min(callS, est.startupS) : callS;
        totals.peakCallTempBytes = Math.max(totals.peakCallTempBytes, peak);
        if (!measured && est) {
          // The first measured call decides the rest; later calls keep it (their shares are in the stats).
          // Never below what the first call took: a noisy measurement must not shrink calls to a frame.
          target = framesForShare(est, share, call.frames, maxFramesForTemp(w, h, budget));
          totals.framesPerCall = target;
          measured = true;
          ctx.log(`realesrgan: start-up ${est.startupS.toFixed(2)} s, ${est.perFrameS.toFixed(3)} s per frame: ${target} frames per call`, {
            startupS: est.startupS,
            perFrameS: est.perFrameS,
            framesPerCall: target,
          });
        }
      } finally {
        if (!exited) sub.kill();
        await finished.catch(() => {});
        await engine.discardCall(call);
      }
    },

    async process(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
      // One chunk, one call: for callers that hand chunks one by one (the bench's stages alone use runInCalls).
      const it = (async function* () {
        yield chunk;
      })();
      const call = await engine.prepareCall(it, chunk.count, ctx);
      if (!call) throw new Error('realesrgan: empty chunk');
      let out: Chunk | undefined;
      for await (const c of engine.runCall(call, ctx)) out = c;
      if (!out) throw new PipelineError('TOOL_FAILED', 'realesrgan-ncnn-vulkan produced nothing', { tool: 'realesrgan-ncnn-vulkan', detail: 'empty' });
      return out;
    },
    close: async () => {},
  };
  return engine;
}
