/**
 * The engine registry, in the manner of Video2X's processor factory: one entry per engine says all
 * the rest of dancelift needs to know about it — its name and kind, its settings (a block of the
 * config under upscale.<name> / matte.<name>), how to create it, where it hands over when it cannot
 * start, what a retry after a GPU out-of-memory changes, its doctor checks and its set-up step.
 * The config schema, the job schema, the CLI, doctor and provision all read names and settings
 * from here, so a new engine is one file in registry/ plus one line below.
 *
 * Entries load their implementations with import() inside create/doctor/provision: reading the
 * config (which composes the entries' settings) must not load onnxruntime or spawn anything.
 */
import { z } from 'zod';
import type { Config, PipelineSettings } from '../../config/schema.js';
import type { Check, EngineDoctorContext } from '../../machine/doctor.js';
import type { ProvisionContext, ProvisionOptions, StepResult } from '../../machine/provision/index.js';
import type { RvmVariant } from '../../machine/rvm-variants.js';
import type { MatteEngine, UpscaleEngine } from '../types.js';
import { ffmpegUpscaler, noUpscaler } from './registry/upscale-simple.js';
import { realesrganSettings, realesrganUpscaler } from './registry/upscale-realesrgan.js';
import { onnxSettings, onnxUpscaler } from './registry/upscale-onnx.js';
import { commandMatter, commandSettings, noMatter } from './registry/matte-simple.js';
import { rvmMatter, rvmSettings } from './registry/matte-rvm.js';

export type EngineKind = 'upscale' | 'matte';

/** What an engine that cannot start says instead of an engine: the driver then tries another. */
export interface Unavailable {
  /** Why, for the log and (unless `note` is given) the run's stats. */
  why: string;
  /** The stats' wording, when it differs from `why`. */
  note?: string;
  /** Go to this engine rather than the entry's own fallback (a choice, e.g. no GPU → onnx). */
  instead?: string;
  /** The log's wording of the switch, when it differs from the next engine's `switchPhrase`. */
  say?: string;
}

export interface UpscaleRequest {
  config: PipelineSettings;
  scale: number;
  log: (m: string) => void;
}

export interface MatteRequest {
  config: PipelineSettings;
  log: (m: string) => void;
  /** RVM network; default config matte.rvm.variant. */
  variant?: RvmVariant;
  signal?: AbortSignal;
  /** Checkout root holding tools/ (tests). */
  root?: string;
}

/** One retry after a GPU out-of-memory: the engine (and tile) the next attempt runs with. */
export interface OutOfMemoryStep {
  upscaler?: string;
  tile?: number;
  note: string;
}

interface EntryBase<K extends EngineKind, E> {
  name: string;
  kind: K;
  /** Its settings block (config upscale.<name> / matte.<name>); give it a default so older configs load. */
  settings?: z.ZodTypeAny;
  /** The engine, or why it cannot run here. Errors that are not "unavailable" (CANCELLED) are thrown. */
  create(req: K extends 'upscale' ? UpscaleRequest : MatteRequest): Promise<E | Unavailable>;
  /** The engine tried next when this one is unavailable; engines already tried are skipped along their own fallbacks. */
  fallback?: string;
  /** How the log announces a switch to this engine ("trying X instead"). */
  switchPhrase?: string;
  /** Pure: what the next attempt changes after the GPU ran out of memory (`tile` = this attempt's); absent = retry as it is. */
  outOfMemory?: (tile: number | undefined) => OutOfMemoryStep;
  /** The config of an attempt that runs with `tile` (set by `outOfMemory`). */
  withTile?: <C extends PipelineSettings>(config: C, tile: number) => C;
  /** Its doctor checks; `ctx.required` says whether the config selects it. */
  doctor?: (ctx: EngineDoctorContext) => Promise<Check[]>;
  /** Its set-up steps (idempotent; nothing touches the network when all is present). */
  provision?: (config: Config, ctx: ProvisionContext, opts: ProvisionOptions) => Promise<StepResult[]>;
}

export type UpscalerEntry = EntryBase<'upscale', UpscaleEngine>;
export type MatterEntry = EntryBase<'matte', MatteEngine>;
export type EngineEntry = UpscalerEntry | MatterEntry;

/** The built-in engines, in the order doctor and provision walk them (the ONNX conversion reads what realesrgan's step installs). */
const entries: EngineEntry[] = [realesrganUpscaler, onnxUpscaler, ffmpegUpscaler, noUpscaler, rvmMatter, commandMatter, noMatter];

/** The settings blocks of the built-in engines, spelled out for the config's static type. */
export const BUILTIN_SETTINGS = {
  upscale: { realesrgan: realesrganSettings, onnx: onnxSettings },
  matte: { rvm: rvmSettings, command: commandSettings },
};

/** Adds an engine (a plugin, or a stub in a test). Names are unique within a kind. */
export function registerEngine(entry: EngineEntry): void {
  if (entries.some((e) => e.kind === entry.kind && e.name === entry.name)) throw new Error(`a ${entry.kind} engine named "${entry.name}" is already registered`);
  entries.push(entry);
}

export function engines(): readonly EngineEntry[] {
  return entries;
}

export function engineNames(kind: EngineKind): string[] {
  return entries.filter((e) => e.kind === kind).map((e) => e.name);
}

export function upscalerEntry(name: string): UpscalerEntry {
  const e = entries.find((x): x is UpscalerEntry => x.kind === 'upscale' && x.name === name);
  if (!e) throw new Error(`unknown upscaler "${name}" (known: ${engineNames('upscale').join(', ')})`);
  return e;
}

export function matterEntry(name: string): MatterEntry {
  const e = entries.find((x): x is MatterEntry => x.kind === 'matte' && x.name === name);
  if (!e) throw new Error(`unknown matting engine "${name}" (known: ${engineNames('matte').join(', ')})`);
  return e;
}

/** A name of a registered engine of `kind`; checked when parsed, so engines registered later count. */
export function engineNameSchema(kind: EngineKind) {
  return z.string().superRefine((name, ctx) => {
    const known = engineNames(kind);
    if (!known.includes(name)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `Invalid enum value. Expected ${known.map((n) => `'${n}'`).join(' | ')}, received '${name}'` });
  });
}

/** The settings blocks of every registered engine of `kind`, keyed by engine name. */
export function settingsShape(kind: EngineKind): Record<string, z.ZodTypeAny> {
  return Object.fromEntries(entries.filter((e) => e.kind === kind && e.settings).map((e) => [e.name, e.settings as z.ZodTypeAny]));
}

export function isUnavailable(x: unknown): x is Unavailable {
  return typeof x === 'object' && x !== null && 'why' in x && !('info' in x);
}
