/**
 * Names of the Redis keys dancelift keeps beside BullMQ's own, all under the queue prefix, so that
 * one prefix (a test's, a second deployment's) separates everything.
 */

/** The result cache of instant repeats (src/queue/result-cache.ts). */
export function resultCacheKeys(prefix: string) {
  return {
    /** hash: reuse key → a finished result, when it was cached and what it costs on disk (JSON). */
    results: `${prefix}:cache:results`,
    /** hash: cut-out key (input + everything but the background) → the kept cut-out (JSON). */
    cutouts: `${prefix}:cache:cutouts`,
  };
}
