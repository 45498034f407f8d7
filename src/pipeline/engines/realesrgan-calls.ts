/**
 * How many frames one call of realesrgan-ncnn-vulkan should take. Every call loads the model and
 * builds its Vulkan pipelines before the first frame: on a GPU that start-up costs as much as
 * dozens to hundreds of frames, so calls must be long enough for it to be a small share, yet short
 * enough that their PNG files stay within a temp budget. Pure: the engine feeds it what it measured.
 */

/** A call's start-up as seen from outside: the binary prints one "… -> …png done" line per frame. */
export interface CallTiming {
  /** Seconds from the start of the call to each frame's "done" line, in the order they came. */
  doneS: number[];
  /**
   * Seconds to its first progress line ("0.00%"): the model is loaded and the first frame read, so
   * this much is start-up whatever else happens. A floor under the estimate, which the spacing of
   * the done lines alone can push to nothing on a machine whose load changes during the call.
   */
  firstProgressS?: number;
}

export interface StartupEstimate {
  startupS: number;
  perFrameS: number;
}

/**
 * Start-up and per-frame time of one call from its time to first output: frames finish at about
 * startup + k·perFrame, so perFrame is the spacing of the "done" lines after the first and the
 * start-up is the first line's time less one frame. Null with fewer than 2 frames (nothing to
 * separate the two).
 */
export function estimateStartup(t: CallTiming): StartupEstimate | null {
  const n = t.doneS.length;
  if (n < 2) return t.firstProgressS !== undefined && n === 1 ? { startupS: t.firstProgressS, perFrameS: Math.max(0, t.doneS[0] - t.firstProgressS) } : null;
  const first = Math.min(...t.doneS);
  const last = Math.max(...t.doneS);
  const perFrameS = Math.max(0, (last - first) / (n - 1));
  return { startupS: Math.max(t.firstProgressS ?? 0, first - perFrameS), perFrameS };
}

/**
 * Frames per call that keep the start-up at or below `share` of a call (s / (s + N·p) ≤ share, so
 * N ≥ s·(1 − share) / (share·p)), within [minFrames, maxFrames]. Without a measurable per-frame
 * time (p = 0) the start-up dominates whatever N is: take the most the budget allows.
 */
export function framesForShare(e: StartupEstimate, share: number, minFrames: number, maxFrames: number): number {
  if (!(share > 0 && share < 1)) throw new RangeError(`startup share must be in (0, 1), got ${share}`);
  const hi = Math.max(1, Math.floor(maxFrames));
  const lo = Math.min(hi, Math.max(1, Math.floor(minFrames)));
  if (e.perFrameS <= 0) return hi;
  const n = Math.ceil((e.startupS * (1 - share)) / (share * e.perFrameS));
  return Math.min(hi, Math.max(lo, n));
}

/**
 * The most frames one call may hold in temp files: its input PNGs (written before the binary
 * starts; it lists the folder once), plus the next call's, written while this one runs. A PNG is
 * counted at its raw size, an upper bound for the fast compression level used.
 */
export function maxFramesForTemp(width: number, height: number, budgetBytes: number): number {
  const perFrame = width * height * 3;
  return Math.max(1, Math.floor(budgetBytes / (2 * perFrame)));
}

/**
 * Frames to gather for the next call: `target`, unless what is left after it would be a short
 * call of its own (under half a target), in which case the rest of the video, if the budget allows.
 */
export function planCallFrames(target: number, remaining: number, maxFrames: number): number {
  if (remaining > target && remaining - target < target / 2 && remaining <= maxFrames) return remaining;
  return Math.max(1, Math.min(target, maxFrames));
}

/** Pure: the frame number in a "<in> -> <dir>/000012.png done" line of the binary's -v output. */
export function parseDoneLine(line: string): number | null {
  const m = /(\d+)\.png done\s*$/.exec(line);
  return m ? Number(m[1]) : null;
}

/** Totals of the calls an engine made, for the stats and the bench's start-up share. */
export interface CallTotals {
  calls: number;
  frames: number;
  /** Sum of the calls' estimated start-ups (calls of one frame count whole: nothing to separate). */
  startupS: number;
  /** Sum of the calls' wall times, binary start to exit. */
  callS: number;
  /** Frames per call chosen after the first call's measurement (the first call's own until then). */
  framesPerCall: number;
  /** Largest bytes of PNG files held by one call at once (its inputs and outputs). */
  peakCallTempBytes: number;
}

export const noCalls = (framesPerCall: number): CallTotals => ({ calls: 0, frames: 0, startupS: 0, callS: 0, framesPerCall, peakCallTempBytes: 0 });
