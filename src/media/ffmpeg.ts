import path from 'node:path';
import { FFMPEG, FFPROBE } from '../ffmpeg-names.js';
import { requireFfmpeg, requireFfprobe } from '../machine/tools.js';

/**
 * The one home of ffmpeg and ffprobe: their names, the resolved binaries and the guards every
 * input passes through. Outside src/media/ nothing names or runs them but through this module
 * (test/architecture.test.ts greps src/ for it).
 */
export { FFMPEG, FFPROBE };

const resolved = new Map<string, string>();

/** Resolve once per environment (FFMPEG_PATH / FFPROBE_PATH and PATH): tests may change it. */
function once(key: string, resolve: () => string): string {
  const hit = resolved.get(key);
  if (hit) return hit;
  const p = resolve();
  resolved.set(key, p);
  return p;
}

/** The ffmpeg to run: FFMPEG_PATH, else ffmpeg on PATH; TOOL_MISSING when neither. */
export function ffmpegBin(env: NodeJS.ProcessEnv = process.env): string {
  return once(`${FFMPEG}\0${env.FFMPEG_PATH ?? ''}\0${env.PATH ?? ''}`, () => requireFfmpeg(env));
}

/** The ffprobe to run: FFPROBE_PATH, else ffprobe on PATH; TOOL_MISSING when neither. */
export function ffprobeBin(env: NodeJS.ProcessEnv = process.env): string {
  return once(`${FFPROBE}\0${env.FFPROBE_PATH ?? ''}\0${env.PATH ?? ''}`, () => requireFfprobe(env));
}

/**
 * Demuxers we let ffmpeg use on user files. Anything else (concat lists, HLS playlists, image
 * sequences, network-aware formats) is refused before a byte is decoded, so a crafted "video" cannot
 * make ffmpeg read other files or URLs. Together with `-protocol_whitelist file` and the `file:`
 * prefix this is the whole of our input sandbox.
 */
export const VIDEO_DEMUXERS = 'mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,gif,mpeg,asf,ogg';

/** Input options that confine ffmpeg/ffprobe to local files in video containers. */
export const INPUT_GUARDS: readonly string[] = ['-protocol_whitelist', 'file', '-format_whitelist', VIDEO_DEMUXERS];

/** The arguments that open a user-supplied file safely; use them for every ffmpeg input. */
export function safeInputArgs(file: string): string[] {
  return [...INPUT_GUARDS, '-i', fileUrl(file)];
}

/** `file:` stops ffmpeg from reading a name like "http:..." or "concat:a|b" as a protocol. */
export function fileUrl(file: string): string {
  return `file:${path.resolve(file)}`;
}
