import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { Chunk, EngineInfo, StageContext, UpscaleEngine } from '../types.js';
import { frameBytes } from '../types.js';
import { PipelineError } from '../errors.js';

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
}

/** Pure: the upscaler's arguments for one folder of frames. */
export function realesrganArgs(o: RealesrganOptions, inDir: string, outDir: string): string[] {
  const args = ['-i', inDir, '-o', outDir, '-n', `${o.model}-x${o.scale}`, '-s', String(o.scale), '-m', o.modelsDir, '-f', 'png', '-t', String(o.tile)];
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
  const detail = stderr.split('\n').filter((l) => l.trim() && !/^\d+\.\d+%$/.test(l.trim())).slice(-3).join(' | ') || `exit ${exitCode}`;
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
    throw new PipelineError('TOOL_FAILED', `ffmpeg failed: ${detail}`, { tool: 'ffmpeg', detail });
  }
  return Buffer.from(r.stdout as Uint8Array);
}

/**
 * `--upscaler realesrgan`: the real realesrgan-ncnn-vulkan. It reads and writes image files only, so
 * each chunk goes through a folder of PNGs that lives only as long as the chunk: temp space is one
 * chunk's worth, never the whole video's.
 */
export function createRealesrganUpscale(o: RealesrganOptions): UpscaleEngine {
  const ffmpeg = o.ffmpeg ?? 'ffmpeg';
  let device = 'Vulkan (device not reported yet)';
  return {
    scale: o.scale,
    info: (): EngineInfo => ({ engine: `realesrgan-ncnn-vulkan ${o.label ?? `${o.model}-x${o.scale}`}`, device }),
    async process(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
      if (chunk.format !== 'rgb24') throw new Error('realesrgan engine expects rgb24 frames');
      const dir = await mkdtemp(path.join(ctx.tempDir, `upscale-${chunk.index}-`));
      const inDir = path.join(dir, 'in');
      const outDir = path.join(dir, 'out');
      try {
        await mkdir(inDir);
        await mkdir(outDir);
        // Fast PNG settings: these files live for seconds, size matters less than encode time.
        await ffmpegOrThrow(ffmpeg, [
          '-v', 'error', '-nostdin', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${chunk.width}x${chunk.height}`, '-i', 'pipe:0',
          '-c:v', 'png', '-compression_level', '1', '-start_number', '0', path.join(inDir, '%06d.png'),
        ], ctx.signal, chunk.pixels);

        const run = await execa(o.binary, realesrganArgs(o, inDir, outDir), {
          cwd: path.dirname(o.binary),
          cancelSignal: ctx.signal,
          reject: false,
          stdin: 'ignore',
          all: true,
        });
        if (run.isCanceled || ctx.signal.aborted) throw new PipelineError('CANCELLED', 'cancelled');
        const stderr = String(run.all ?? '');
        device = parseVulkanDevice(stderr, o.gpu) ?? device;
        const written = (await readdir(outDir)).filter((f) => f.endsWith('.png')).length;
        // The binary can print an error and still exit 0: trust the files, not the exit code.
        if (run.exitCode !== 0 || written !== chunk.count) throw classifyRealesrganFailure(stderr, run.exitCode);

        const width = chunk.width * o.scale;
        const height = chunk.height * o.scale;
        const pixels = await ffmpegOrThrow(ffmpeg, [
          '-v', 'error', '-nostdin', '-start_number', '0', '-i', path.join(outDir, '%06d.png'),
          '-frames:v', String(chunk.count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
        ], ctx.signal);
        if (pixels.length !== frameBytes(width, height, 'rgb24') * chunk.count) {
          throw new PipelineError('TOOL_FAILED', `realesrgan-ncnn-vulkan wrote frames of an unexpected size`, { tool: 'realesrgan-ncnn-vulkan', detail: 'size' });
        }
        return { ...chunk, width, height, pixels };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    close: async () => {},
  };
}
