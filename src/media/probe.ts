import { stat } from 'node:fs/promises';
import { execa } from 'execa';
import { z } from 'zod';
import { PipelineError } from '../errors.js';
import { sourceColour, type SourceColour } from './colour.js';
import { ffprobeBin, fileUrl, INPUT_GUARDS } from './ffmpeg.js';

const streamSchema = z.object({
  index: z.number(),
  codec_type: z.string().optional(),
  codec_name: z.string().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  r_frame_rate: z.string().optional(),
  avg_frame_rate: z.string().optional(),
  nb_frames: z.string().optional(),
  duration: z.string().optional(),
  color_space: z.string().optional(),
  color_range: z.string().optional(),
  disposition: z.object({ attached_pic: z.number().optional() }).partial().optional(),
  tags: z.record(z.string()).optional(),
  side_data_list: z.array(z.object({ rotation: z.number().optional() }).passthrough()).optional(),
});
const probeSchema = z.object({
  streams: z.array(streamSchema).default([]),
  format: z.object({ format_name: z.string(), duration: z.string().optional(), size: z.string().optional() }).optional(),
});
export type RawProbe = z.infer<typeof probeSchema>;

export interface VideoInfo {
  file: string;
  format: string;
  /** Display size, after the rotation a phone may have recorded. */
  width: number;
  height: number;
  /** Frame rate as ffmpeg reads it ("30000/1001"), and its value. */
  fpsRational: string;
  fps: number;
  /** The whole file: the longer of picture and sound. */
  durationS: number;
  /** The picture alone (the video stream's own duration, else the file's). */
  videoDurationS: number;
  /** How the picture's YCbCr is to be read back to RGB. */
  colour: SourceColour;
  audio: { codec: string; durationS: number } | null;
}

/**
 * A probe as it travels with a job (the file it was taken of is the job's input, so it is left
 * out): the producer probes an upload once and the worker reads this instead of probing again.
 */
export const travellingProbeSchema = z.object({
  format: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  fpsRational: z.string(),
  fps: z.number(),
  durationS: z.number(),
  videoDurationS: z.number(),
  colour: z.object({ matrix: z.enum(['bt709', 'bt601', 'bt2020']), range: z.enum(['tv', 'pc']) }),
  audio: z.object({ codec: z.string(), durationS: z.number() }).nullable(),
});
export type TravellingProbe = z.infer<typeof travellingProbeSchema>;

/** Pure: a probe without its file, to travel with a job; `withFile` puts the job's own path back. */
export function travelling(info: VideoInfo): TravellingProbe {
  const { file: _file, ...rest } = info;
  return rest;
}
export const withFile = (probe: TravellingProbe, file: string): VideoInfo => ({ ...probe, file });

export interface ProbeLimits {
  maxDurationS: number;
  /** Longest side and shortest side allowed (4K: 4096 x 2160 either way round). */
  maxLongSide: number;
  maxShortSide: number;
}

export const defaultLimits: ProbeLimits = { maxDurationS: 600, maxLongSide: 4096, maxShortSide: 2160 };

/** Pure: what an upload may be: up to 4K either way round, and the configured length. */
export function inputLimits(pipeline: { maxDurationS: number }): ProbeLimits {
  return { ...defaultLimits, maxDurationS: pipeline.maxDurationS };
}

/** Pure: a stream's own duration: `duration` (MP4), else the DURATION tag (Matroska "00:00:02.000000000"). */
export function streamDurationS(s: { duration?: string; tags?: Record<string, string> }): number | null {
  const d = parseFloat(s.duration ?? '');
  if (Number.isFinite(d) && d > 0) return d;
  const tag = s.tags?.DURATION ?? s.tags?.duration;
  const m = tag ? /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(tag) : null;
  if (!m) return null;
  const t = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  return t > 0 ? t : null;
}

function parseRational(r: string | undefined): number {
  if (!r) return 0;
  const [n, d] = r.split('/').map(Number);
  if (d === undefined) return Number.isFinite(n) ? n : 0;
  return d > 0 && Number.isFinite(n) ? n / d : 0;
}

const MAX_FPS = 60;

/** Pure: turns ffprobe's JSON into what the pipeline needs, or refuses the file with a reason. */
export function interpretProbe(file: string, raw: RawProbe, limits: ProbeLimits): VideoInfo {
  const format = raw.format?.format_name ?? 'unknown';
  const video = raw.streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!video) throw new PipelineError('NOT_A_VIDEO', `${file}: no video stream`, { file });
  if (format === 'gif' && raw.streams.length === 1 && video.nb_frames === '1') {
    throw new PipelineError('NOT_A_VIDEO', `${file}: a still image, not a video`, { file });
  }
  let width = video.width ?? 0;
  let height = video.height ?? 0;
  if (width <= 0 || height <= 0) throw new PipelineError('CORRUPT', `${file}: video has no frame size`, { file });
  const rotation = video.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation ?? Number(video.tags?.rotate ?? 0);
  if (Math.abs(rotation) % 180 === 90) [width, height] = [height, width];

  const long = Math.max(width, height);
  const short = Math.min(width, height);
  if (long > limits.maxLongSide || short > limits.maxShortSide) {
    throw new PipelineError('TOO_LARGE', `${file}: ${width}x${height} is larger than 4K`, {
      file,
      width,
      height,
      max: `${limits.maxLongSide}x${limits.maxShortSide}`,
    });
  }
  if (video.nb_frames === '0') throw new PipelineError('NO_FRAMES', `${file}: the video has no frames`, { file });

  const durationS = parseFloat(raw.format?.duration ?? video.duration ?? '');
  if (!Number.isFinite(durationS) || durationS <= 0) {
    throw new PipelineError('NO_FRAMES', `${file}: the video has no duration`, { file });
  }
  if (durationS > limits.maxDurationS) {
    throw new PipelineError('TOO_LONG', `${file}: ${durationS.toFixed(1)} s is longer than ${limits.maxDurationS} s`, {
      file,
      durationS: Math.round(durationS),
      maxS: limits.maxDurationS,
    });
  }

  // avg_frame_rate is what a variable-rate phone clip really plays at; r_frame_rate can be a
  // timebase-like 90000/1. Prefer avg, fall back to r, and cap: above 60 fps nobody sees the gain
  // and the GPU pays for every frame.
  let fpsRational = video.avg_frame_rate && parseRational(video.avg_frame_rate) > 0 ? video.avg_frame_rate : video.r_frame_rate ?? '';
  let fps = parseRational(fpsRational);
  if (!(fps > 0)) throw new PipelineError('CORRUPT', `${file}: unknown frame rate`, { file });
  if (fps > MAX_FPS) {
    fps = MAX_FPS;
    fpsRational = String(MAX_FPS);
  }
  // ffmpeg's fps filter wants a tidy rational; 2997/125 style values from avg are fine as they are.
  const audioStream = raw.streams.find((s) => s.codec_type === 'audio');
  return {
    file,
    format,
    width,
    height,
    fpsRational,
    fps,
    durationS,
    videoDurationS: Math.min(durationS, streamDurationS(video) ?? durationS),
    colour: sourceColour({ width, height, colorSpace: video.color_space, colorRange: video.color_range }),
    audio: audioStream ? { codec: audioStream.codec_name ?? 'unknown', durationS: Math.min(durationS, streamDurationS(audioStream) ?? durationS) } : null,
  };
}

const IMAGE_DEMUXER = /^(image2|\w+_pipe)$/;
const PLAYLIST_MAGIC: Array<[string, string]> = [
  ['#EXTM3U', 'HLS/M3U playlist'],
  ['ffconcat', 'ffmpeg concat list'],
  ['[playlist]', 'PLS playlist'],
  ['<?xml', 'XML playlist/manifest'],
];

/** Magic numbers of the containers we accept: a file that starts like one but fails is damaged. */
function looksLikeContainer(head: Buffer): boolean {
  if (head.length >= 8 && head.toString('latin1', 4, 8) === 'ftyp') return true;
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return true;
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 11) === 'AVI') return true;
  return false;
}

/** Pure: words a failed ffprobe run as the error a user can act on. */
export function classifyProbeFailure(file: string, stderr: string, head: Buffer): PipelineError {
  const text = head.subarray(0, 64).toString('latin1').trimStart();
  for (const [magic, what] of PLAYLIST_MAGIC) {
    if (text.startsWith(magic)) {
      return new PipelineError('UNSUPPORTED', `${file}: a ${what} that points to other files, not a video`, { file, format: what });
    }
  }
  const refused = /\[(\w+) @ [^\]]+\] Format not on whitelist/.exec(stderr);
  if (refused) {
    const demuxer = refused[1];
    if (IMAGE_DEMUXER.test(demuxer)) return new PipelineError('NOT_A_VIDEO', `${file}: a still image, not a video`, { file });
    if (/^(concat|hls|dash|playlist|m3u)/.test(demuxer)) {
      return new PipelineError('UNSUPPORTED', `${file}: a ${demuxer} list that points to other files, not a video`, { file, format: demuxer });
    }
    if (/^(mp3|wav|flac|aac|ogg|opus|w64|aiff|amr|ape|caf)$/.test(demuxer)) {
      return new PipelineError('NOT_A_VIDEO', `${file}: audio only (${demuxer}), not a video`, { file });
    }
    return new PipelineError('UNSUPPORTED', `${file}: unsupported container "${demuxer}"`, { file, format: demuxer });
  }
  if (looksLikeContainer(head)) {
    const detail = stderr.trim().split('\n').pop() ?? '';
    return new PipelineError('CORRUPT', `${file}: a damaged or truncated video (${detail})`, { file, detail });
  }
  if (/Invalid data found when processing input/.test(stderr)) {
    return new PipelineError('NOT_A_VIDEO', `${file}: not a video file`, { file });
  }
  const firstLine = stderr.trim().split('\n').pop() ?? 'unreadable';
  return new PipelineError('CORRUPT', `${file}: cannot be read (${firstLine})`, { file, detail: firstLine });
}

async function readHead(file: string): Promise<Buffer> {
  const { open } = await import('node:fs/promises');
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, 64, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function probeVideo(
  file: string,
  limits: ProbeLimits = defaultLimits,
  opts: { ffprobe?: string; signal?: AbortSignal } = {},
): Promise<VideoInfo> {
  const st = await stat(file).catch(() => null);
  if (!st) throw new PipelineError('INPUT_MISSING', `${file}: no such file`, { file });
  if (!st.isFile()) throw new PipelineError('INPUT_MISSING', `${file}: not a file`, { file });
  if (st.size === 0) throw new PipelineError('NOT_A_VIDEO', `${file}: the file is empty`, { file });
  const result = await execa(
    opts.ffprobe ?? ffprobeBin(),
    ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...INPUT_GUARDS, fileUrl(file)],
    { reject: false, cancelSignal: opts.signal, timeout: 60_000 },
  );
  if (result.isCanceled) throw new PipelineError('CANCELLED', 'cancelled');
  if (result.exitCode !== 0) throw classifyProbeFailure(file, String(result.stderr), await readHead(file));
  let raw: RawProbe;
  try {
    raw = probeSchema.parse(JSON.parse(String(result.stdout)));
  } catch (err) {
    throw new PipelineError('CORRUPT', `${file}: unreadable probe output`, { file }, { cause: err });
  }
  return interpretProbe(file, raw, limits);
}
