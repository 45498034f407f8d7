import type { Writable } from 'node:stream';
import { execa } from 'execa';
import { backgroundFileInputArgs, type Background } from '../backgrounds/library.js';
import { FFMPEG, ffmpegBin, fileUrl, INPUT_GUARDS } from '../media/ffmpeg.js';
import type { Chunk, PixelFormat } from './types.js';
import { PipelineError } from '../errors.js';
import { colourArgs, toYuvFilter, type EncodeColour } from '../media/colour.js';
import { lengthFilters, planLength, type LengthPlan } from './length.js';

export interface EncodeSettings {
  codec: 'libx264' | 'h264_nvenc';
  crf: number;
  preset: string;
}

export interface ComposePlan {
  width: number;
  height: number;
  fpsRational: string;
  /** Pixel format of the frames piped in: rgba when matted (alpha = the cut-out), rgb24 otherwise. */
  frameFormat: PixelFormat;
  /** The user's original file, read only for its audio (durationS: the sound's own length). */
  audioFrom: { file: string; codec: string; durationS: number } | null;
  /** Frames that will come through the pipe (the picture's length). */
  frames: number;
  /** The matrix the output is converted with and tagged as. */
  colour: EncodeColour;
  /** null: no matting, keep the frames' own background. */
  background: Background | null;
  output: string;
  /** Also write the cut-out (foreground + alpha + audio) here, for `recompose`. */
  cutout?: string;
  encode: EncodeSettings;
}

/** Audio codecs MP4 carries as they are; anything else is re-encoded to AAC. */
const MP4_AUDIO = new Set(['aac', 'mp3', 'alac', 'ac3', 'eac3']);

/** Pure: the input arguments of a background, confined to local files like every user input. */
export function backgroundInputArgs(bg: Background, width: number, height: number, fps: string): string[] {
  if (bg.kind === 'color') return ['-f', 'lavfi', '-i', `color=c=${bg.color}:s=${width}x${height}:r=${fps}`];
  // A still is read once and repeated by the filter graph (see coverFilter): looping it at the
  // input would decode the picture again for every frame, which costs more than the whole compose.
  return backgroundFileInputArgs(bg, { loop: bg.kind === 'video' });
}

/** Pure: scale to *cover* the frame and centre-crop, never stretch; a still is then repeated forever. */
export function coverFilter(width: number, height: number, fps: string, kind: Background['kind']): string {
  const repeat = kind === 'image' ? ',loop=loop=-1:size=1' : '';
  return `scale=${width}:${height}:force_original_aspect_ratio=increase:flags=bicubic,crop=${width}:${height},setsar=1${repeat},fps=${fps}`;
}

/**
 * The sound of the output: copied as it is when it is at least as long as the picture, else
 * (`padded`: the label of its apad in the filter graph) re-encoded with the silence after it.
 */
export function audioArgs(audio: { codec: string } | null, inputIndex: number, padded?: string): string[] {
  if (!audio) return [];
  if (padded) return ['-map', padded, '-c:a', 'aac', '-b:a', '192k'];
  const codec = MP4_AUDIO.has(audio.codec) ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '192k'];
  return ['-map', `${inputIndex}:a:0?`, ...codec];
}

export function videoEncodeArgs(e: EncodeSettings, colour: EncodeColour): string[] {
  const rate = e.codec === 'h264_nvenc' ? ['-preset', 'p5', '-cq', String(e.crf)] : ['-preset', e.preset, '-crf', String(e.crf)];
  return ['-c:v', e.codec, ...rate, '-pix_fmt', 'yuv420p', ...colourArgs(colour), '-movflags', '+faststart'];
}

/** The cut-out keeps the foreground sharp (4:4:4, near-lossless) and the alpha lossless (FFV1). */
export function cutoutEncodeArgs(colour: EncodeColour): string[] {
  return ['-c:v:0', 'libx264', '-preset', 'veryfast', '-crf', '12', '-pix_fmt:v:0', 'yuv444p', ...colourArgs(colour, 'v:0'), '-c:v:1', 'ffv1', '-pix_fmt:v:1', 'gray'];
}

/**
 * Pure: the end of every compose graph: the dancer over the background in RGB (so that no
 * conversion happens with a matrix we did not choose), the picture held to the sound's length,
 * then one conversion to 4:2:0 with the matrix the encode tags.
 */
export function overlayChain(bg: string, fg: string, colour: EncodeColour, videoPad: string): string {
  return `${bg}${fg}overlay=shortest=1:format=rgb${videoPad},${toYuvFilter(colour, 'yuv420p')}[out]`;
}

/**
 * Pure: the one ffmpeg that takes the processed frames on stdin, lays them over the background,
 * adds the input's audio and encodes (and, with a cut-out, writes that in the same pass).
 */
export function composeArgs(p: ComposePlan): string[] {
  const args = ['-v', 'error', '-nostdin', '-y'];
  const length: LengthPlan = planLength(p.frames, p.fpsRational, p.audioFrom?.durationS ?? null);
  const inputs: string[] = [];
  let next = 0;
  const frames = next++;
  inputs.push('-f', 'rawvideo', '-pix_fmt', p.frameFormat, '-s', `${p.width}x${p.height}`, '-framerate', p.fpsRational, '-i', 'pipe:0');
  let audioIndex = -1;
  if (p.audioFrom) {
    audioIndex = next++;
    inputs.push(...INPUT_GUARDS, '-vn', '-i', fileUrl(p.audioFrom.file));
  }
  let bgIndex = -1;
  if (p.background) {
    bgIndex = next++;
    inputs.push(...backgroundInputArgs(p.background, p.width, p.height, p.fpsRational));
  }

  const graph: string[] = [];
  const pad = lengthFilters(length, audioIndex);
  let fg = `[${frames}:v]`;
  if (p.cutout) {
    graph.push(`${fg}split=3[fg][cutc][cuta]`, `[cutc]${toYuvFilter(p.colour, 'yuv444p')}[cutrgb]`, '[cuta]alphaextract[cutalpha]');
    fg = '[fg]';
  }
  if (p.background) {
    graph.push(`[${bgIndex}:v]${coverFilter(p.width, p.height, p.fpsRational, p.background.kind)}[bg]`);
    // shortest=1: the background is looped forever; the dancer's frames decide the length.
    graph.push(overlayChain('[bg]', fg, p.colour, pad.video));
  } else {
    graph.push(`${fg}null${pad.video},${toYuvFilter(p.colour, 'yuv420p')}[out]`);
  }
  if (pad.audio) graph.push(pad.audio);

  // No -shortest: the longer of picture and sound decides the length (the other is padded), and
  // ffmpeg reads its stdin to the end, so the pipe never breaks when the music stops first.
  args.push(...inputs, '-filter_complex', graph.join(';'));
  args.push('-map', '[out]', ...audioArgs(p.audioFrom, audioIndex, pad.audioLabel), ...videoEncodeArgs(p.encode, p.colour), '-f', 'mp4', p.output);
  if (p.cutout) {
    args.push('-map', '[cutrgb]', '-map', '[cutalpha]', ...(p.audioFrom ? ['-map', `${audioIndex}:a:0?`, '-c:a', 'copy'] : []), ...cutoutEncodeArgs(p.colour), '-f', 'matroska', p.cutout);
  }
  return args;
}

/** Resolves when the pipe wants more data or is gone, leaving no listener behind. */
export function drainedOrClosed(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** Runs the compose ffmpeg, feeding it chunks as they arrive; resolves when the file is complete. */
export async function composeFromChunks(
  plan: ComposePlan,
  chunks: AsyncIterable<Chunk>,
  signal: AbortSignal,
  onChunk: (chunk: Chunk) => void,
  ffmpeg = ffmpegBin(),
): Promise<void> {
  // ffmpeg starts with the first chunk, not before: an encoder whose raw input ends without a single
  // frame (its parent killed mid-job) never ends on its own — the looping background keeps it busy
  // forever — whereas one that has frames finishes when the pipe closes.
  const it = chunks[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) throw new PipelineError('NO_FRAMES', 'no frame reached the encoder', {});
  const child = execa(ffmpeg, composeArgs(plan), { stdin: 'pipe', stdout: 'ignore', cancelSignal: signal, reject: false });
  const stdin = child.stdin!;
  // If ffmpeg dies, writes fail with EPIPE; the exit status below says why, so swallow it here.
  let broken = false;
  stdin.on('error', () => {
    broken = true;
  });
  try {
    for (let next: IteratorResult<Chunk> = first; !next.done; next = await it.next()) {
      if (broken) break;
      if (!stdin.write(next.value.pixels)) await drainedOrClosed(stdin);
      onChunk(next.value);
    }
  } catch (err) {
    child.kill('SIGKILL');
    await child;
    throw err;
  }
  stdin.end();
  const result = await child;
  if (result.isCanceled || signal.aborted) throw new PipelineError('CANCELLED', 'cancelled');
  if (result.exitCode !== 0 || broken) {
    const detail = String(result.stderr ?? '').trim().split('\n').slice(-3).join(' | ') || `exit ${result.exitCode}`;
    throw new PipelineError('TOOL_FAILED', `encoding failed: ${detail}`, { tool: FFMPEG, detail });
  }
}
