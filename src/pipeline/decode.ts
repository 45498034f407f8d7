import { execa } from 'execa';
import type { VideoInfo } from './probe.js';
import { safeInputArgs } from './probe.js';
import { readFrameChunks } from './frames.js';
import { frameBytes, type Chunk } from './types.js';
import { PipelineError } from './errors.js';

export interface NormalizePlan {
  width: number;
  height: number;
  fpsRational: string;
  fps: number;
  /** Frames the decoder is expected to produce (for progress; the real count may differ by one). */
  expectedFrames: number;
}

const even = (x: number) => Math.max(2, 2 * Math.round(x / 2));

/**
 * Pure: the size and rate the pipeline works at. Inputs are scaled down (never up) so that their
 * shorter side is at most `maxShortSide` — "720p" whether the clip is landscape or portrait — and
 * rounded to even sizes, which H.264 4:2:0 needs and which keeps x2/x4 output even too.
 */
export function planNormalize(info: Pick<VideoInfo, 'width' | 'height' | 'fps' | 'fpsRational' | 'durationS'>, maxShortSide: number): NormalizePlan {
  const short = Math.min(info.width, info.height);
  const s = Math.min(1, maxShortSide / short);
  return {
    width: even(info.width * s),
    height: even(info.height * s),
    fpsRational: info.fpsRational,
    fps: info.fps,
    expectedFrames: Math.max(1, Math.round(info.durationS * info.fps)),
  };
}

/** Pure: ffmpeg arguments that decode, resample to constant frame rate and scale to raw rgb24. */
export function decodeArgs(file: string, plan: NormalizePlan): string[] {
  return [
    '-v', 'error', '-nostdin',
    ...safeInputArgs(file),
    '-map', '0:v:0', '-an', '-sn', '-dn',
    // fps first (drops/duplicates cheaply at the source size), then one area-averaged downscale.
    '-vf', `fps=${plan.fpsRational},scale=${plan.width}:${plan.height}:flags=area,setsar=1`,
    '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1',
  ];
}

/** Decodes the whole input as a stream of chunks; only `chunkFrames` frames are ever held here. */
export async function* decodeChunks(
  file: string,
  plan: NormalizePlan,
  chunkFrames: number,
  signal: AbortSignal,
  ffmpeg = 'ffmpeg',
): AsyncGenerator<Chunk> {
  const child = execa(ffmpeg, decodeArgs(file, plan), {
    buffer: { stdout: false, stderr: true },
    encoding: 'buffer',
    cancelSignal: signal,
    stdin: 'ignore',
    reject: false,
  });
  const bytes = frameBytes(plan.width, plan.height, 'rgb24');
  let index = 0;
  let start = 0;
  try {
    for await (const { pixels, count } of readFrameChunks(child.stdout!, bytes, chunkFrames)) {
      yield { index: index++, start, count, width: plan.width, height: plan.height, format: 'rgb24', pixels };
      start += count;
    }
  } finally {
    // A consumer that stops early (error, cancel) must not leave ffmpeg blocked on a full pipe.
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const result = await child;
  if (signal.aborted || result.isCanceled) throw new PipelineError('CANCELLED', 'cancelled');
  if (result.exitCode !== 0) {
    const detail = Buffer.from(result.stderr as Uint8Array).toString().trim().split('\n').slice(-2).join(' ');
    if (start === 0) throw new PipelineError('CORRUPT', `${file}: cannot be decoded (${detail})`, { file, detail });
    throw new PipelineError('CORRUPT', `${file}: decoding failed after ${start} frames (${detail})`, { file, detail });
  }
  if (start === 0) throw new PipelineError('NO_FRAMES', `${file}: no frame could be decoded`, { file });
}
