import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readdir, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { logger as defaultLogger, type Logger } from '../log.js';
import { ServiceRefusal, formatDuration } from '../errors.js';

/**
 * The data dir's job files. Every host running a role must see the same data dir (one machine, or a
 * shared directory). Layout:
 *   <dataDir>/inputs/<job>-<random>.<ext>     the user's upload; removed when its job ends
 *   <dataDir>/outputs/<job>.<suffix>.<ext>    results (`enhanced`, `cutout`, ...); removed after
 *                                             storage.keepOutputsHours by the sweeper
 * Paths stored in jobs are relative to inputs/ or outputs/ and are resolved only through
 * resolveInput / resolveOutput, which refuse anything that would leave their folder.
 */

export class UnsafePathError extends Error {
  constructor(readonly rel: string, readonly base: string) {
    super(`refusing path ${JSON.stringify(rel)}: not a plain file name inside ${base}`);
    this.name = 'UnsafePathError';
  }
}

export interface StoredPath {
  /** Absolute path. */
  abs: string;
  /** Relative to its folder (inputs/ or outputs/): what goes in job data and links. */
  rel: string;
}

export interface SweptFile {
  rel: string;
  bytes: number;
  mtimeMs: number;
}

export interface Storage {
  root: string;
  inputsDir: string;
  /** Results and kept cut-outs (one folder, one expiry, one kind of link). */
  outputsDir: string;
  newInputPath(jobIdOrUuid: string, originalName: string): StoredPath;
  outputPathFor(jobId: string, suffix: string, ext: string): StoredPath;
  resolveInput(rel: string): string;
  resolveOutput(rel: string): string;
  /** Removes an input (no error if it is already gone); true when something was removed. */
  removeInput(rel: string): Promise<boolean>;
  /** Size of an output, or null when it is gone (a cached result whose file went is a miss, not an error). */
  outputBytes(rel: string): Promise<number | null>;
  /** Removes every output of one job (`<job>.*`: video, cut-out, exports, markers); returns their names. */
  removeOutputsOf(jobId: string): Promise<string[]>;
  /** Removes outputs whose mtime is older than keepOutputsHours before `now`; returns them. */
  sweepOutputs(now?: number): Promise<SweptFile[]>;
  /** Bytes free for us on the data dir's file system. */
  freeBytes(): Promise<number>;
  /** Throws ServiceRefusal DISK_FULL unless `bytesNeeded` fit and minFreeMb stays free. */
  ensureFree(bytesNeeded?: number, now?: number): Promise<void>;
  /**
   * Removes inputs older than INPUT_GRACE_MS whose job `ended` says has ended (recorded done or
   * failed for good, or gone): the ones a worker that died between BullMQ's record and its own
   * clean-up left behind. Returns them.
   */
  sweepInputs(ended: (jobId: string) => Promise<boolean>, now?: number): Promise<SweptFile[]>;
  /**
   * Sweeps outputs (and, given `inputEnded`, inputs) now and every `intervalMs` (timer unref'd: it
   * never keeps the process alive).
   */
  startSweeper(intervalMs?: number, log?: Pick<Logger, 'info' | 'warn'>, inputEnded?: (jobId: string) => Promise<boolean>): { stop(): void };
}

const MiB = 1024 * 1024;
/** An input this young may belong to a job being submitted right now (imported, not yet queued). */
export const INPUT_GRACE_MS = 10 * 60 * 1000;

/** The job id an input's name starts with (`<job>-<8 hex>[.ext]`, see newInputPath), or null. */
export function jobIdOfInput(rel: string): string | null {
  const m = /^([A-Za-z0-9_-]+)-[0-9a-f]{8}(?:\.[a-z0-9]{1,8})?$/.exec(rel);
  return m ? m[1] : null;
}

/** A job id (or uuid) reduced to [A-Za-z0-9_-], at most 64 characters; a new uuid if nothing is left. */
export function safeId(id: string): string {
  const s = id.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[_-]+|[_-]+$/g, '').slice(0, 64);
  return s || randomUUID();
}

/** ".mp4" from "My Dance!.MP4"; "" when the name has no plausible extension. */
export function safeExtension(name: string): string {
  const ext = path.extname(name.replace(/\\/g, '/').split('/').pop() ?? '').slice(1).toLowerCase();
  return /^[a-z0-9]{1,8}$/.test(ext) ? `.${ext}` : '';
}

function safeToken(s: string, what: string): string {
  const t = s.toLowerCase().replace(/^\./, '');
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(t)) throw new Error(`bad output ${what}: ${JSON.stringify(s)}`);
  return t;
}

/**
 * `rel` resolved inside `base`, or UnsafePathError: no absolute paths, no `..`, no backslashes, no NUL,
 * no hidden names. Sub-folders are allowed (a later layout may shard), the folder itself is not.
 */
export function resolveInside(base: string, rel: string): string {
  if (
    typeof rel !== 'string' ||
    rel === '' ||
    rel.includes('\0') ||
    rel.includes('\\') ||
    path.isAbsolute(rel) ||
    rel.split('/').some((part) => part === '' || part === '.' || part === '..' || part.startsWith('.'))
  ) {
    throw new UnsafePathError(rel, base);
  }
  const abs = path.resolve(base, rel);
  if (!abs.startsWith(base + path.sep)) throw new UnsafePathError(rel, base);
  return abs;
}

async function walk(dir: string, prefix = ''): Promise<Array<{ abs: string; rel: string }>> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: Array<{ abs: string; rel: string }> = [];
  for (const e of entries) {
    const abs = path.join(dir, e.name);
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(abs, rel)));
    else if (e.isFile()) out.push({ abs, rel });
  }
  return out;
}

export function createStorage(config: Pick<Config, 'dataDir'> & { storage: Pick<Config['storage'], 'keepOutputsHours' | 'minFreeMb'> }): Storage {
  const root = path.resolve(config.dataDir);
  const inputsDir = path.join(root, 'inputs');
  const outputsDir = path.join(root, 'outputs');
  mkdirSync(inputsDir, { recursive: true });
  mkdirSync(outputsDir, { recursive: true });
  const keepMs = config.storage.keepOutputsHours * 3600 * 1000;
  const minFreeBytes = config.storage.minFreeMb * MiB;

  const resolveInput = (rel: string): string => resolveInside(inputsDir, rel);
  const resolveOutput = (rel: string): string => resolveInside(outputsDir, rel);

  const sweepOutputs = async (now = Date.now()): Promise<SweptFile[]> => {
    const removed: SweptFile[] = [];
    for (const f of await walk(outputsDir)) {
      try {
        const st = await stat(f.abs);
        if (now - st.mtimeMs <= keepMs) continue;
        await rm(f.abs, { force: true });
        removed.push({ rel: f.rel, bytes: st.size, mtimeMs: st.mtimeMs });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return removed;
  };

  const sweepInputs = async (ended: (jobId: string) => Promise<boolean>, now = Date.now()): Promise<SweptFile[]> => {
    const removed: SweptFile[] = [];
    for (const f of await walk(inputsDir)) {
      const jobId = jobIdOfInput(f.rel);
      try {
        const st = await stat(f.abs);
        if (jobId === null || now - st.mtimeMs <= INPUT_GRACE_MS || !(await ended(jobId))) continue;
        await rm(f.abs, { force: true });
        removed.push({ rel: f.rel, bytes: st.size, mtimeMs: st.mtimeMs });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return removed;
  };

  const freeBytes = async (): Promise<number> => {
    const s = await statfs(root);
    return Number(s.bavail) * Number(s.bsize);
  };

  /** Seconds until the oldest output expires (space comes back then), or undefined. */
  const nextExpiryS = async (now: number): Promise<number | undefined> => {
    let oldest = Infinity;
    for (const f of await walk(outputsDir)) {
      try {
        oldest = Math.min(oldest, (await stat(f.abs)).mtimeMs);
      } catch {
        // gone meanwhile
      }
    }
    if (!Number.isFinite(oldest)) return undefined;
    return Math.min(Math.max(60, (oldest + keepMs - now) / 1000), keepMs / 1000);
  };

  return {
    root,
    inputsDir,
    outputsDir,
    newInputPath(jobIdOrUuid, originalName) {
      const rel = `${safeId(jobIdOrUuid)}-${randomBytes(4).toString('hex')}${safeExtension(originalName)}`;
      return { abs: resolveInput(rel), rel };
    },
    outputPathFor(jobId, suffix, ext) {
      const rel = `${safeId(jobId)}.${safeToken(suffix, 'suffix')}.${safeToken(ext, 'extension')}`;
      return { abs: resolveOutput(rel), rel };
    },
    resolveInput,
    resolveOutput,
    async removeInput(rel) {
      const abs = resolveInput(rel);
      try {
        await stat(abs);
      } catch {
        return false;
      }
      await rm(abs, { force: true });
      return true;
    },
    async outputBytes(rel) {
      try {
        return (await stat(resolveOutput(rel))).size;
      } catch {
        return null;
      }
    },
    async removeOutputsOf(jobId) {
      const stem = `${safeId(jobId)}.`;
      const mine = (await walk(outputsDir)).filter((f) => !f.rel.includes('/') && f.rel.startsWith(stem));
      await Promise.all(mine.map((f) => rm(f.abs, { force: true })));
      return mine.map((f) => f.rel);
    },
    sweepOutputs,
    sweepInputs,
    freeBytes,
    async ensureFree(bytesNeeded = 0, now = Date.now()) {
      const free = await freeBytes();
      if (free - bytesNeeded >= minFreeBytes) return;
      const freeMb = Math.floor(free / MiB);
      const neededMb = Math.ceil((bytesNeeded + minFreeBytes) / MiB);
      const retry = await nextExpiryS(now);
      throw new ServiceRefusal(
        'DISK_FULL',
        `The server is short of disk space (${freeMb} MB free, ${neededMb} MB needed); please try again ` +
          (retry !== undefined ? `in ${formatDuration(retry)}.` : 'later.'),
        { freeMb, neededMb, limit: config.storage.minFreeMb },
        retry,
      );
    },
    startSweeper(intervalMs = 15 * 60 * 1000, log = defaultLogger, inputEnded) {
      let running = false;
      const tick = async (): Promise<void> => {
        if (running) return;
        running = true;
        try {
          const removed = await sweepOutputs();
          if (removed.length) {
            const mb = removed.reduce((n, f) => n + f.bytes, 0) / MiB;
            log.info(`removed ${removed.length} expired output${removed.length === 1 ? '' : 's'} (${mb.toFixed(1)} MB)`);
          }
          const inputs = inputEnded ? await sweepInputs(inputEnded) : [];
          if (inputs.length) log.info(`removed ${inputs.length} input${inputs.length === 1 ? '' : 's'} of ended jobs`);
        } catch (err) {
          log.warn(`output sweep failed: ${(err as Error).message}`);
        } finally {
          running = false;
        }
      };
      void tick();
      const timer = setInterval(() => void tick(), intervalMs);
      timer.unref();
      return { stop: () => clearInterval(timer) };
    },
  };
}
