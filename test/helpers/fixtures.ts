import path from 'node:path';
import { execa } from 'execa';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { JobResult } from '../../src/queue/jobs.js';
import { clips, ffmpeg, rvmModel } from './media.js';

/** Small real clips cut from ../shared/media, so that the real tools run in seconds on a CPU. */
export async function makeClip(dir: string, name: string, source: string, opts: { seconds: number; width: number; height: number; fps?: number; audio?: boolean; start?: number }): Promise<string> {
  const out = path.join(dir, name);
  const vf = [`scale=${opts.width}:${opts.height}:flags=area`, ...(opts.fps ? [`fps=${opts.fps}`] : [])].join(',');
  await ffmpeg([
    ...(opts.start ? ['-ss', String(opts.start)] : []),
    '-i', source, '-t', String(opts.seconds), '-vf', vf,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '16', '-pix_fmt', 'yuv420p',
    ...(opts.audio === false ? ['-an'] : ['-c:a', 'aac']),
    out,
  ]);
  return out;
}

/** A config for tests: everything under `dir`, the shared RVM model, CPU only. */
export function testConfig(dir: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    env: {
      DANCELIFT_DATA_DIR: path.join(dir, 'data'),
      DANCELIFT_TEMP_DIR: path.join(dir, 'tmp'),
      DANCELIFT_RVM_MODEL: rvmModel,
      DANCELIFT_ORT_PROVIDERS: 'cpu',
      // Instant repeats off unless a test turns them on: tests send the same clip again and
      // again and mean it to be processed each time.
      DANCELIFT_CACHE_GB: '0',
      ...env,
    },
  });
}

/** Decodes one frame of a video as rgb24 at its own size. */
export async function frameAt(file: string, index: number, width: number, height: number): Promise<Buffer> {
  const { stdout } = await execa('ffmpeg', ['-v', 'error', '-i', file, '-vf', `select=eq(n\\,${index})`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer' });
  const buf = Buffer.from(stdout);
  if (buf.length !== width * height * 3) throw new Error(`frame ${index} of ${file}: ${buf.length} bytes, expected ${width * height * 3}`);
  return buf;
}

export function pixel(frame: Buffer, width: number, x: number, y: number): [number, number, number] {
  const i = (y * width + x) * 3;
  return [frame[i], frame[i + 1], frame[i + 2]];
}

/** Mean colour of a w x h box. */
export function boxMean(frame: Buffer, width: number, x0: number, y0: number, w: number, h: number): [number, number, number] {
  const sum = [0, 0, 0];
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) {
    const p = pixel(frame, width, x, y);
    sum[0] += p[0]; sum[1] += p[1]; sum[2] += p[2];
  }
  const n = w * h;
  return [sum[0] / n, sum[1] / n, sum[2] / n];
}

/**
 * A finished job as the bots report it: one CPU fallback (the footnote), a model file in the
 * device name (left out of what users see), fps that need rounding.
 */
export const sampleResult: JobResult = {
  output: 'x.mp4',
  bytes: 1000,
  durationS: 2,
  width: 192,
  height: 192,
  hasAudio: true,
  stats: {
    stages: [
      { name: 'decode', seconds: 0.2, fps: 40.84, frames: 8, engine: 'ffmpeg', device: 'cpu' },
      { name: 'upscale', seconds: 0.15, fps: 54.06, frames: 8, engine: 'ffmpeg lanczos', device: 'cpu', fallbackFrom: 'realesrgan: no GPU' },
      { name: 'matte', seconds: 0.65, fps: 12.25, frames: 8, engine: 'rvm', device: 'onnxruntime cpu (rvm_mobilenetv3_from_tfjs.onnx)' },
      { name: 'compose', seconds: 0.11, fps: 70.16, frames: 8, engine: 'ffmpeg libx264', device: 'cpu' },
    ],
    totalS: 1.87,
    realtimeFactor: 0.93,
    peakTempBytes: 0,
    queueWaitS: 0,
    retries: [],
  },
};

export { clips };
