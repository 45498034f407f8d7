import type { PipelineSettings } from '../config/schema.js';
import { reframeChunks } from './reframe.js';
import { canvasSize, reframeSettings } from './reframe-plan.js';
import type { Chunk } from './types.js';

/** Reframing is on when the aspect changes or the dancer is scaled, grounded or given a shadow. */
export function wantsReframe(r: PipelineSettings['reframe']): boolean {
  return r.aspect !== 'source' || r.fit > 0 || r.ground > 0 || r.shadow;
}

/** The stage between matting and compose: its canvas size, and the transform of the frame stream. */
export function reframeStage(r: PipelineSettings['reframe'], width: number, height: number, fpsRational: string) {
  const [num, den] = fpsRational.split('/').map(Number);
  const canvas = canvasSize(r.aspect, width, height);
  const settings = { ...reframeSettings(canvas, num / (den || 1), { fit: r.fit, ground: r.ground }), shadow: r.shadow };
  return { canvas, run: (frames: AsyncIterable<Chunk>) => reframeChunks(frames, settings) };
}

/** Pure: the reframing a request asks for (`--aspect/--fit/--ground/--shadow`, or a job's options); what it leaves out comes from the config. */
export function reframeRequest(o: { aspect?: string; fit?: number; ground?: number; shadow?: boolean }): Partial<PipelineSettings['reframe']> {
  return {
    ...(o.aspect ? { aspect: o.aspect as PipelineSettings['reframe']['aspect'] } : {}),
    ...(o.fit !== undefined ? { fit: o.fit } : {}),
    ...(o.ground !== undefined ? { ground: o.ground } : {}),
    ...(o.shadow ? { shadow: true } : {}),
  };
}
