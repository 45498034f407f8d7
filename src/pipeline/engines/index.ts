import type { PipelineSettings } from '../../config/schema.js';
import type { RvmVariant } from '../../machine/rvm-variants.js';
import type { MatteEngine, UpscaleEngine } from '../types.js';
import { isUnavailable, matterEntry, upscalerEntry, type UpscalerEntry } from './registry.js';

export type UpscalerName = PipelineSettings['upscale']['engine'];
export type MattingName = PipelineSettings['matte']['engine'];

/** `engine`, with the reasons it stands in for another in front of whatever fallback it reports itself. */
function withNotes(engine: UpscaleEngine, notes: string[]): UpscaleEngine {
  return {
    ...engine,
    info: () => {
      const i = engine.info();
      return { ...i, fallbackFrom: [...notes, i.fallbackFrom].filter(Boolean).join('; ') };
    },
  };
}

/** The next engine along `entry`'s fallbacks that has not been tried yet. */
function nextFallback(entry: UpscalerEntry, tried: readonly string[]): string | undefined {
  let next = entry.fallback;
  while (next !== undefined && tried.includes(next)) next = upscalerEntry(next).fallback;
  return next;
}

/**
 * The upscaler asked for, or an honest substitute that says in the stats what it replaced: each
 * registry entry names its fallback, and an engine already tried is skipped along its own.
 */
export async function createUpscaler(config: PipelineSettings, engine: UpscalerName, scale: number, log: (m: string) => void): Promise<UpscaleEngine> {
  let name = scale === 1 ? 'none' : engine;
  const tried: string[] = [];
  const notes: string[] = [];
  for (;;) {
    const entry = upscalerEntry(name);
    const made = await entry.create({ config, scale, log });
    if (!isUnavailable(made)) return notes.length > 0 ? withNotes(made, notes) : made;
    tried.push(name);
    notes.push(made.note ?? made.why);
    const next = made.instead ?? nextFallback(entry, tried);
    if (next === undefined) throw new Error(made.why);
    log(`${made.why}; ${made.say ?? upscalerEntry(next).switchPhrase ?? `trying ${next} instead`}`);
    name = next;
  }
}

export interface MatterOptions {
  /** RVM network; default config matte.rvm.variant. */
  variant?: RvmVariant;
  signal?: AbortSignal;
  /** Checkout root holding tools/ (tests). */
  root?: string;
}

export async function createMatter(config: PipelineSettings, engine: MattingName, log: (m: string) => void, opts: MatterOptions = {}): Promise<MatteEngine> {
  const made = await matterEntry(engine).create({ config, log, ...opts });
  // No matting engine hands over to another today: one that cannot run fails the job, saying why.
  if (isUnavailable(made)) throw new Error(made.why);
  return made;
}
