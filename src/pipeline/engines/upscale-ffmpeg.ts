import { execa } from 'execa';
import type { Chunk, EngineInfo, StageContext, UpscaleEngine } from '../types.js';
import { frameBytes } from '../types.js';
import { PipelineError } from '../../errors.js';
import { FFMPEG, ffmpegBin } from '../../media/ffmpeg.js';

/** Pure: one ffmpeg call that scales a chunk of raw frames with lanczos. */
export function lanczosArgs(width: number, height: number, scale: number, format: Chunk['format']): string[] {
  return [
    '-v', 'error', '-nostdin',
    '-f', 'rawvideo', '-pix_fmt', format, '-s', `${width}x${height}`, '-i', 'pipe:0',
    '-vf', `scale=${width * scale}:${height * scale}:flags=lanczos`,
    '-f', 'rawvideo', '-pix_fmt', format, 'pipe:1',
  ];
}

/** `--upscaler ffmpeg`: plain lanczos on the CPU. Not sharper, only bigger: the honest cheap option. */
export function createFfmpegUpscale(scale: number, ffmpeg = ffmpegBin()): UpscaleEngine {
  return {
    scale,
    info: (): EngineInfo => ({ engine: 'ffmpeg lanczos', device: 'cpu' }),
    async process(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
      const result = await execa(ffmpeg, lanczosArgs(chunk.width, chunk.height, scale, chunk.format), {
        input: chunk.pixels,
        encoding: 'buffer',
        maxBuffer: chunk.pixels.length * scale * scale + 1024,
        cancelSignal: ctx.signal,
        reject: false,
      });
      if (result.isCanceled || ctx.signal.aborted) throw new PipelineError('CANCELLED', 'cancelled');
      const width = chunk.width * scale;
      const height = chunk.height * scale;
      const out = Buffer.from(result.stdout as Uint8Array);
      if (result.exitCode !== 0 || out.length !== frameBytes(width, height, chunk.format) * chunk.count) {
        const detail = Buffer.from(result.stderr as Uint8Array).toString().trim() || `exit ${result.exitCode}`;
        throw new PipelineError('TOOL_FAILED', `ffmpeg upscale failed: ${detail}`, { tool: FFMPEG, detail });
      }
      return { ...chunk, width, height, pixels: out };
    },
    close: async () => {},
  };
}
