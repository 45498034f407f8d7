import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { probeVideo } from '../media/probe.js';
import { ffmpegBin, safeInputArgs } from '../media/ffmpeg.js';
import { resultSchema, type JobResult } from './jobs.js';

/**
 * What the watch page shows beside a video, kept next to it in outputs/ (`<file>.meta.json`), so
 * the web role needs neither Redis nor the job (which may be gone) to describe the file. The
 * sweeper removes it with the video, by age. A video without one (a recomposed result, an output
 * from before this file existed) is described from ffprobe alone.
 */

export const META_SUFFIX = '.meta.json';
export const POSTER_SUFFIX = '.poster.jpg';

const metaSchema = z.object({
  version: z.literal(1),
  /** The user's own name for the input (shown, never used as a path). */
  inputName: z.string(),
  background: z.string(),
  result: resultSchema,
});
export type WatchMeta = z.infer<typeof metaSchema>;

/** What the page needs about a file, whichever way it was learnt. */
export interface VideoFacts {
  /** The name offered for the download. */
  downloadName: string;
  durationS: number;
  width: number;
  height: number;
  bytes: number;
  mtimeMs: number;
  /** The job's timing stats, when the worker left them. */
  stats?: JobResult['stats'];
  background?: string;
}

/** Written aside and renamed into place: a reader sees the whole file or none. */
export async function writeWatchMeta(videoAbs: string, meta: Omit<WatchMeta, 'version'>): Promise<void> {
  const file = videoAbs + META_SUFFIX;
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, JSON.stringify({ version: 1, ...meta }));
  await fs.rename(tmp, file);
}

async function readWatchMeta(videoAbs: string): Promise<WatchMeta | undefined> {
  const text = await fs.readFile(videoAbs + META_SUFFIX, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const parsed = metaSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** "dance.mov" → "dance.enhanced.mp4": the user's name, with the output's extension. */
export function downloadName(inputName: string, outputFile: string): string {
  const ext = path.extname(outputFile) || '.mp4';
  const base = inputName.replace(/[\\/]/g, '_').replace(/\.[^.]{1,8}$/, '').slice(0, 80) || 'video';
  return `${base}.enhanced${ext}`;
}

const NO_LIMITS = { maxDurationS: Infinity, maxLongSide: 100_000, maxShortSide: 100_000 };

/** The facts about `videoAbs` (which must exist): the kept meta when there is one, else ffprobe's. */
export async function videoFacts(videoAbs: string): Promise<VideoFacts> {
  const st = await fs.stat(videoAbs);
  const meta = await readWatchMeta(videoAbs);
  if (meta) {
    const r = meta.result;
    return {
      downloadName: downloadName(meta.inputName, videoAbs),
      durationS: r.durationS,
      width: r.width,
      height: r.height,
      bytes: st.size,
      mtimeMs: st.mtimeMs,
      stats: r.stats,
      background: meta.background,
    };
  }
  const info = await probeVideo(videoAbs, NO_LIMITS).catch(() => undefined);
  return {
    downloadName: path.basename(videoAbs),
    durationS: info?.durationS ?? 0,
    width: info?.width ?? 0,
    height: info?.height ?? 0,
    bytes: st.size,
    mtimeMs: st.mtimeMs,
  };
}

const making = new Map<string, Promise<string | undefined>>();

/**
 * A JPEG poster frame beside the video (its short side at most 720 px), made on first request and
 * kept; undefined when ffmpeg cannot make one. Concurrent requests share one ffmpeg run.
 */
export function posterFor(videoAbs: string, durationS: number): Promise<string | undefined> {
  const target = videoAbs + POSTER_SUFFIX;
  let p = making.get(target);
  if (!p) {
    p = makePoster(videoAbs, target, durationS).finally(() => making.delete(target));
    making.set(target, p);
  }
  return p;
}

async function makePoster(videoAbs: string, target: string, durationS: number): Promise<string | undefined> {
  if (await fs.stat(target).then((s) => s.isFile() && s.size > 0, () => false)) return target;
  const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp.jpg`;
  // A frame a little in: the first one is often black or a fade.
  const at = durationS > 2 ? Math.min(1, durationS / 4) : 0;
  try {
    await execa(
      ffmpegBin(),
      [
        '-v', 'error', '-nostdin', '-y', '-ss', String(at), ...safeInputArgs(videoAbs),
        '-frames:v', '1', '-vf', "scale='if(lt(iw,ih),min(720,iw),-2)':'if(lt(iw,ih),-2,min(720,ih))'", '-q:v', '4', tmp,
      ],
      { timeout: 30_000 },
    );
    await fs.rename(tmp, target);
    return target;
  } catch {
    return undefined;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}
