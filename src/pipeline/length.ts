/**
 * Length: the whole picture and the whole sound come out, whichever is longer. The shorter one is
 * padded: the picture by holding its last frame, the sound with silence. Pure.
 *
 * Why not `-shortest`: it cut the music to the picture, and when the music ended first ffmpeg
 * stopped reading the frames on its stdin, the pipe broke and the job failed.
 */

export interface LengthPlan {
  /** Length of the output: the longer of picture and sound. */
  totalS: number;
  /** Seconds the last frame is held after the picture ends (0: none). */
  videoPadS: number;
  /** The sound is padded with silence to this length (null: copied as it is). */
  audioPadToS: number | null;
}

export function rationalValue(r: string): number {
  const [n, d] = r.split('/').map(Number);
  return d === undefined ? n : n / d;
}

/** Pure: what to pad, for `frames` frames at `fpsRational` and a sound of `audioS` seconds (null: none). */
export function planLength(frames: number, fpsRational: string, audioS: number | null): LengthPlan {
  const fps = rationalValue(fpsRational);
  const pictureS = frames / fps;
  if (audioS === null || !(audioS > 0)) return { totalS: pictureS, videoPadS: 0, audioPadToS: null };
  const totalS = Math.max(pictureS, audioS);
  // Differences under half a frame are what rounding to whole frames gives: nothing to pad.
  const slack = 0.5 / fps;
  return {
    totalS,
    videoPadS: audioS - pictureS > slack ? audioS - pictureS : 0,
    audioPadToS: pictureS - audioS > slack ? pictureS : null,
  };
}

const secs = (s: number) => s.toFixed(6);

/**
 * Pure: the filters that carry out a plan: `video` goes at the end of the picture's chain (empty
 * or ",tpad=..."), `audio` is a filter-graph entry that reads input `audioIndex` and is mapped by
 * `audioLabel`.
 */
export function lengthFilters(l: LengthPlan, audioIndex: number): { video: string; audio: string; audioLabel?: string } {
  const video = l.videoPadS > 0 ? `,tpad=stop_mode=clone:stop_duration=${secs(l.videoPadS)}` : '';
  if (l.audioPadToS === null || audioIndex < 0) return { video, audio: '' };
  return { video, audio: `[${audioIndex}:a:0]apad=whole_dur=${secs(l.audioPadToS)}[apad]`, audioLabel: '[apad]' };
}
