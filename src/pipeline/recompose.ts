import { resolveEncode } from './encoder.js';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { PipelineSettings } from '../config/schema.js';
import type { Background } from '../backgrounds/library.js';
import { backgroundsDir, prepareBackground } from '../backgrounds/library.js';
import { audioArgs, backgroundInputArgs, coverFilter, overlayChain, videoEncodeArgs, type EncodeSettings } from './compose.js';
import { encodeColour, fromYuvOptions, sourceColour, type SourceColour } from '../media/colour.js';
import { lengthFilters, planLength } from './length.js';
import { PipelineError } from '../errors.js';
import { partialName, type EnhanceResult } from './index.js';
import { FFMPEG, ffmpegBin, ffprobeBin, fileUrl, INPUT_GUARDS } from '../media/ffmpeg.js';
import { streamDurationS } from '../media/probe.js';
import type { Progress } from './types.js';

export interface CutoutInfo {
  width: number;
  height: number;
  fpsRational: string;
  durationS: number;
  frames: number;
  audioCodec: string | null;
  /** The sound's own length (null: no sound). */
  audioDurationS: number | null;
  /** What the foreground was converted with (its tags). */
  colour: SourceColour;
}

/** Reads what `enhance --keep-cutout` wrote: foreground (stream 0), alpha (stream 1), audio. */
export async function probeCutout(file: string, signal?: AbortSignal): Promise<CutoutInfo> {
  const r = await execa(ffprobeBin(), ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', ...INPUT_GUARDS, fileUrl(file)], {
    reject: false,
    cancelSignal: signal,
  });
  if (r.exitCode !== 0) throw new PipelineError('INPUT_MISSING', `${file}: not a readable cut-out (${String(r.stderr).trim()})`, { file });
  const data = JSON.parse(String(r.stdout)) as {
    streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; r_frame_rate?: string; color_space?: string; color_range?: string; duration?: string; tags?: Record<string, string> }>;
    format: { duration?: string };
  };
  const videos = data.streams.filter((s) => s.codec_type === 'video');
  if (videos.length < 2 || !videos[0].width || !videos[0].height) {
    throw new PipelineError('UNSUPPORTED', `${file}: not a dancelift cut-out (expected a foreground and an alpha stream)`, { file, format: 'cutout' });
  }
  const fpsRational = videos[0].r_frame_rate ?? '25';
  const [n, d] = fpsRational.split('/').map(Number);
  const durationS = parseFloat(data.format.duration ?? '0');
  const audio = data.streams.find((s) => s.codec_type === 'audio');
  const { width, height } = videos[0];
  return {
    width,
    height,
    fpsRational,
    durationS,
    frames: Math.round((streamDurationS(videos[0]) ?? durationS) * (n / (d || 1))),
    audioCodec: audio ? audio.codec_name : null,
    audioDurationS: audio ? streamDurationS(audio) ?? durationS : null,
    colour: sourceColour({ width, height, colorSpace: videos[0].color_space, colorRange: videos[0].color_range }),
  };
}

/** Pure: one ffmpeg that re-lays a kept cut-out over another background: no upscaling, no matting. */
export function recomposeArgs(cutout: string, info: CutoutInfo, bg: Background, output: string, encode: EncodeSettings): string[] {
  const { width: w, height: h, fpsRational: fps } = info;
  const colour = encodeColour(info.colour, w, h);
  const pad = lengthFilters(planLength(info.frames, fps, info.audioCodec ? info.audioDurationS : null), info.audioCodec ? 0 : -1);
  const graph = [
    `[0:v:0]scale=${fromYuvOptions(info.colour)},format=rgb24[fgc]`,
    `[0:v:1]format=gray[fga]`,
    `[fgc][fga]alphamerge[fg]`,
    `[1:v]${coverFilter(w, h, fps, bg.kind)}[bg]`,
    overlayChain('[bg]', '[fg]', colour, pad.video),
    ...(pad.audio ? [pad.audio] : []),
  ];
  return [
    '-v', 'error', '-nostdin', '-y', '-progress', 'pipe:1', '-nostats',
    ...INPUT_GUARDS, '-i', fileUrl(cutout),
    ...backgroundInputArgs(bg, w, h, fps),
    '-filter_complex', graph.join(';'),
    '-map', '[out]',
    ...audioArgs(info.audioCodec ? { codec: info.audioCodec } : null, 0, pad.audioLabel),
    ...videoEncodeArgs(encode, colour), '-f', 'mp4', output,
  ];
}

export interface RecomposeRequest {
  cutout: string;
  output: string;
  background: string;
  config: PipelineSettings;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export async function recompose(req: RecomposeRequest): Promise<EnhanceResult> {
  const t0 = performance.now();
  const info = await probeCutout(req.cutout, req.signal);
  const bg = await prepareBackground(req.background, backgroundsDir(req.config));
  await mkdir(path.dirname(req.output), { recursive: true });
  const partial = partialName(req.output);
  const encode = await resolveEncode(req.config.encode);
  const child = execa(ffmpegBin(), recomposeArgs(req.cutout, info, bg, partial, encode), {
    cancelSignal: req.signal,
    reject: false,
    buffer: { stdout: false },
  });
  let frames = 0;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => {
    for (const m of text.matchAll(/^frame=(\d+)/gm)) {
      frames = Number(m[1]);
      const s = (performance.now() - t0) / 1000;
      req.onProgress?.({ stage: 'compose', done: frames, total: Math.max(info.frames, frames), fps: s > 0 ? frames / s : 0 });
    }
  });
  const r = await child;
  if (r.isCanceled || req.signal?.aborted || r.exitCode !== 0) {
    await rm(partial, { force: true });
    if (r.isCanceled || req.signal?.aborted) throw new PipelineError('CANCELLED', 'cancelled');
    const detail = String(r.stderr).trim().split('\n').slice(-3).join(' | ');
    throw new PipelineError('TOOL_FAILED', `recompose failed: ${detail}`, { tool: FFMPEG, detail });
  }
  await rename(partial, req.output);
  const totalS = (performance.now() - t0) / 1000;
  return {
    input: req.cutout,
    output: req.output,
    durationS: info.durationS,
    width: info.width,
    height: info.height,
    hasAudio: info.audioCodec !== null,
    stats: {
      stages: [{ name: 'compose', seconds: totalS, fps: totalS > 0 ? frames / totalS : 0, frames, engine: `ffmpeg ${encode.codec}`, device: encode.codec === 'h264_nvenc' ? 'nvenc' : 'cpu' }],
      totalS,
      realtimeFactor: info.durationS > 0 ? totalS / info.durationS : 0,
      peakTempBytes: 0,
    },
  };
}
