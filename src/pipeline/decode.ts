import { execa } from 'execa';
import type { VideoInfo } from '../media/probe.js';
import { ffmpegBin, safeInputArgs } from '../media/ffmpeg.js';
import { readFrameChunks } from './frames.js';
import { frameBytes, type Chunk } from './types.js';
import { PipelineError } from '../errors.js';
import { fromYuvOptions, type SourceColour } from '../media/colour.js';

export interface NormalizePlan {
  width: number;
  height: number;
  fpsRational: string;
  fps: number;
  /**
   * Frames the decoder produces: the picture's duration at the working rate. The last frame is
   * held for as long as it lasts, so a variable-rate clip keeps its last frame.
   */
  expectedFrames: number;
  /** The matrix and range the input's pixels are read with (BT.709 for tagged or untagged HD). */
  colour?: SourceColour;
}

const even = (x: number) => Math.max(2, 2 * Math.round(x / 2));

/**
 * Pure: the size and rate the pipeline works at. Inputs are scaled down (never up) so that their
 * shorter side is at most `maxShortSide` — "720p" whether the clip is landscape or portrait — and
 * rounded to even sizes, which H.264 4:2:0 needs and which keeps x2/x4 output even too.
 */
export function planNormalize(
  info: Pick<VideoInfo, 'width' | 'height' | 'fps' | 'fpsRational' | 'durationS'> & Partial<Pick<VideoInfo, 'videoDurationS' | 'colour'>>,
  maxShortSide: number,
): NormalizePlan {
  const short = Math.min(info.width, info.height);
  const s = Math.min(1, maxShortSide / short);
  return {
    width: even(info.width * s),
    height: even(info.height * s),
    fpsRational: info.fpsRational,
    fps: info.fps,
    expectedFrames: Math.max(1, Math.round((info.videoDurationS ?? info.durationS) * info.fps)),
    ...(info.colour ? { colour: info.colour } : {}),
  };
}

/** Pure: the decoder's filters: constant rate, working size, RGB read with the input's own matrix. */
export function decodeFilter(plan: NormalizePlan): string {
  const colour = plan.colour ? `:${fromYuvOptions(plan.colour)}` : '';
  // tpad holds the last frame one second longer, and -frames:v (decodeArgs) cuts at the picture's
  // duration: the fps filter alone ends at the last frame's start, which on a variable-rate clip
  // drops that frame. fps comes before the scale: it drops/duplicates cheaply at the source size.
  return `tpad=stop_mode=clone:stop_duration=1,fps=${plan.fpsRational},scale=${plan.width}:${plan.height}:flags=area${colour},setsar=1`;
}

/** Pure: ffmpeg arguments that decode, resample to constant frame rate and scale to raw rgb24. */
export function decodeArgs(file: string, plan: NormalizePlan): string[] {
  return [
    '-v', 'error', '-nostdin',
    ...safeInputArgs(file),
    '-map', '0:v:0', '-an', '-sn', '-dn',
    '-vf', decodeFilter(plan),
    '-frames:v', String(plan.expectedFrames),
    '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1',
  ];
}

/** Decodes the whole input as a stream of chunks; only `chunkFrames` frames are ever held here. */
export async function* decodeChunks(
  file: string,
  plan: NormalizePlan,
  chunkFrames: number,
  signal: AbortSignal,
  ffmpeg = ffmpegBin(),
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
