/**
 * The background library as the bots see it. The default backgrounds and the gallery picture are
 * made once, when the bots role starts, in the background; a request never makes them. A request
 * that arrives before that run has ended is acknowledged first and then waits for the same run.
 *
 * One warm-up per library folder in this process (both bots share it); other processes (a CLI
 * `submit`) wait on the library's own lock instead of starting a generation of their own.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { backgroundsDir, ensureDefaultBackgrounds, listBackgrounds, type BackgroundEntry } from '../backgrounds/library.js';
import type { Config } from '../config/schema.js';
import { cachedGallery } from './gallery.js';

export interface BotLibrary {
  readonly dir: string;
  /** Resolves when the start-up run has ended, made or failed (a failure is logged, never thrown). */
  ready(): Promise<void>;
  /** The library after the start-up run. */
  list(): Promise<BackgroundEntry[]>;
  /** The names of the last listing, for answers due at once (Discord's autocomplete). */
  knownNames(): readonly string[];
  /** The gallery picture of these entries (rendered once per library state). */
  gallery(entries: readonly BackgroundEntry[]): Promise<string>;
  /** Stops a warm-up still running (the service is stopping); a later botLibrary() starts anew. */
  stop(): void;
}

const warmups = new Map<string, BotLibrary>();

/** The library of this config's folder; the first call starts its warm-up, later calls share it. */
export function botLibrary(config: Config, log: Logger): BotLibrary {
  const dir = backgroundsDir(config);
  const existing = warmups.get(dir);
  if (existing) return existing;
  const cacheDir = path.join(config.dataDir, 'cache', 'gallery');
  let names: readonly string[] = [];
  const list = async (): Promise<BackgroundEntry[]> => {
    const entries = await listBackgrounds(dir);
    names = entries.map((e) => e.name);
    return entries;
  };
  const gallery = (entries: readonly BackgroundEntry[]) => cachedGallery(entries, dir, cacheDir);
  const started = Date.now();
  const abort = new AbortController();
  const run = (async () => {
    const made = await ensureDefaultBackgrounds(dir, { size: config.backgrounds.size, signal: abort.signal });
    const entries = await list();
    if (entries.length > 0) await gallery(entries);
    log.info({ dir, generated: made.generated, backgrounds: entries.length, ms: Date.now() - started }, 'background library ready');
  })().catch((err: unknown) => {
    if (abort.signal.aborted) return void log.info({ dir }, 'background library warm-up stopped');
    // The bots go on: a menu then offers what the folder has, and says so if that is nothing.
    log.error({ err, dir }, 'background library warm-up failed');
  });
  const library: BotLibrary = {
    dir,
    ready: () => run,
    async list() {
      await run;
      return list();
    },
    knownNames: () => names,
    gallery,
    stop() {
      abort.abort();
      if (warmups.get(dir) === library) warmups.delete(dir);
    },
  };
  warmups.set(dir, library);
  return library;
}
