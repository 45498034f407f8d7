import type { Redis } from 'ioredis';
import { z } from 'zod';
import { resultCacheKeys } from '../redis/keys.js';
import { resultSchema, type JobResult } from './jobs.js';

/**
 * The finished results that instant repeats return: an index in Redis (reuse key → result), the
 * files where the jobs left them in the data dir's outputs. The files decide: an entry whose files
 * are gone (swept, evicted, deleted by hand) is a miss and is dropped, never an error. Beyond
 * `storage.cacheGb` the oldest entries go first, their files with them.
 */

const entrySchema = z.object({ jobId: z.string(), at: z.number(), bytes: z.number().nonnegative(), result: resultSchema });
type Entry = z.infer<typeof entrySchema>;
const cutoutSchema = z.object({ jobId: z.string(), cutout: z.string() });
export type KeptCutout = z.infer<typeof cutoutSchema>;

export interface ResultCacheFiles {
  /** Size of an output (relative to outputs/), null when it is gone. */
  outputBytes(rel: string): Promise<number | null>;
  /** Removes every output of a job. */
  removeOutputsOf(jobId: string): Promise<unknown>;
}

export interface ResultCache {
  /** The cached result of `key` when all its files are still there; else null (and the entry is dropped). */
  find(key: string): Promise<(JobResult & { fromJob: string }) | null>;
  /** Records a finished job's result, then evicts the oldest entries beyond the limit. */
  remember(key: string, jobId: string, result: JobResult): Promise<void>;
  /** A kept cut-out of the same input and settings, when its file is still there. */
  findCutout(key: string): Promise<KeptCutout | null>;
  rememberCutout(key: string, jobId: string, cutout: string): Promise<void>;
}

/** Pure: every output file a result names. */
export function resultFiles(r: JobResult): string[] {
  return [r.output, ...(r.cutout ? [r.cutout] : []), ...(r.exports ? [r.exports.webm, r.exports.mov] : [])];
}

/**
 * Pure: the entries to evict, oldest first, until the rest fit in `limitBytes`. The newest entry
 * always stays: it is the one just made, and its user is about to download it.
 */
export function evictions(entries: ReadonlyArray<{ key: string; at: number; bytes: number }>, limitBytes: number): string[] {
  const sorted = [...entries].sort((a, b) => a.at - b.at);
  let total = sorted.reduce((n, e) => n + e.bytes, 0);
  const out: string[] = [];
  for (const e of sorted.slice(0, -1)) {
    if (total <= limitBytes) break;
    out.push(e.key);
    total -= e.bytes;
  }
  return out;
}

const GB = 1024 ** 3;

function parse<T>(schema: z.ZodType<T>, raw: string | null): T | null {
  if (raw === null) return null;
  try {
    const r = schema.safeParse(JSON.parse(raw));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

export function createResultCache(redis: Redis, prefix: string, cacheGb: number, files: ResultCacheFiles): ResultCache {
  const keys = resultCacheKeys(prefix);
  const limitBytes = cacheGb * GB;
  const drop = (key: string) => redis.hdel(keys.results, key);
  const allThere = async (rels: string[]) => (await Promise.all(rels.map((r) => files.outputBytes(r)))).every((b) => b !== null);

  const evict = async () => {
    const all = await redis.hgetall(keys.results);
    const entries = Object.entries(all).flatMap(([key, raw]) => {
      const e = parse(entrySchema, raw);
      return e ? [{ key, ...e }] : [];
    });
    const byKey = new Map(entries.map((e) => [e.key, e]));
    for (const key of evictions(entries, limitBytes)) {
      await drop(key);
      await files.removeOutputsOf(byKey.get(key)!.jobId);
    }
  };

  return {
    async find(key) {
      if (cacheGb <= 0) return null;
      const e = parse<Entry>(entrySchema, await redis.hget(keys.results, key));
      if (!e) return null;
      if (!(await allThere(resultFiles(e.result)))) {
        await drop(key);
        return null;
      }
      return { ...e.result, fromJob: e.jobId };
    },
    async remember(key, jobId, result) {
      if (cacheGb <= 0) return;
      // Only the job's own files count: a recomposed result names an older job's cut-out.
      const own = resultFiles(result).filter((rel) => rel.startsWith(`${jobId}.`));
      const bytes = (await Promise.all(own.map((r) => files.outputBytes(r)))).reduce<number>((n, b) => n + (b ?? 0), 0);
      const at = Date.now();
      const entry: Entry = { jobId, at, bytes, result };
      await redis.hset(keys.results, key, JSON.stringify(entry));
      await evict();
    },
    async findCutout(key) {
      if (cacheGb <= 0) return null;
      const kept = parse(cutoutSchema, await redis.hget(keys.cutouts, key));
      if (!kept) return null;
      if (!(await allThere([kept.cutout]))) {
        await redis.hdel(keys.cutouts, key);
        return null;
      }
      return kept;
    },
    async rememberCutout(key, jobId, cutout) {
      if (cacheGb <= 0) return;
      await redis.hset(keys.cutouts, key, JSON.stringify({ jobId, cutout }));
    },
  };
}
