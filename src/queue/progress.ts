import type { Progress, StageName } from '../pipeline/types.js';
import type { JobProgress } from './jobs.js';

const ORDER: StageName[] = ['decode', 'upscale', 'matte', 'compose'];

/**
 * Pure: one line of progress for a user out of four overlapping stages. Decoding runs far ahead and
 * says little; what a user wants is the first unfinished stage after it — "upscaling 41 %" while
 * the upscaler works, then "matting", then "encoding" — with that stage's speed and an ETA.
 */
export function summarizeProgress(states: ReadonlyMap<StageName, Progress>): JobProgress {
  const work = ORDER.slice(1).map((name) => states.get(name)).filter((p): p is Progress => p !== undefined);
  const current = work.find((p) => p.done < p.total) ?? work[work.length - 1] ?? states.get('decode');
  if (!current) return { stage: 'decode', percent: 0, fps: 0, etaS: null };
  const total = Math.max(1, current.total);
  const percent = Math.min(100, Math.round((current.done / total) * 1000) / 10);
  // Everything downstream must still pass the last frames through, so the slowest stage seen so
  // far sets the pace for the rest.
  const composeDone = states.get('compose')?.done ?? 0;
  const rates = work.map((p) => p.fps).filter((f) => f > 0);
  const pace = rates.length > 0 ? Math.min(...rates) : 0;
  const etaS = pace > 0 ? Math.max(0, Math.round((total - composeDone) / pace)) : null;
  return { stage: current.stage, percent, fps: Math.round(current.fps * 10) / 10, etaS };
}
