/**
 * The names of the two ffmpeg programs. Outside src/media/ this is the only file that spells them:
 * machine/tools.ts locates the binaries by these names (machine sits below media, so it cannot
 * import media/ffmpeg.ts), and media/ffmpeg.ts re-exports them for error params and messages.
 * Everything else takes the resolved path from media/ffmpeg.ts (ffmpegBin(), ffprobeBin()).
 */
export const FFMPEG = 'ffmpeg';
export const FFPROBE = 'ffprobe';
