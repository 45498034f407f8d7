import type { Chunk, StageContext } from '../types.js';
import type { CallUpscaleEngine, PreparedCall } from './upscale-realesrgan.js';

/**
 * Drives a call engine over a stream of chunks: gathers a call, runs it, and hands on its output
 * chunks as they come, while the next call is already being gathered (its PNGs written), so the
 * binary's next start follows the last one's end. At most two calls' files exist at once.
 */
export async function runInCalls(
  engine: CallUpscaleEngine,
  source: AsyncIterable<Chunk>,
  expectedFrames: number,
  ctx: StageContext,
  emit: (chunk: Chunk) => Promise<void>,
): Promise<void> {
  const it = source[Symbol.asyncIterator]();
  let remaining = expectedFrames;
  let next: Promise<PreparedCall | null> = engine.prepareCall(it, remaining, ctx);
  try {
    for (;;) {
      const call = await next;
      if (!call) return;
      remaining = Math.max(0, remaining - call.frames);
      next = call.last ? Promise.resolve(null) : engine.prepareCall(it, remaining, ctx);
      // The gathering runs on while this call's outputs are handed on; its failure surfaces at the await above.
      next.catch(() => {});
      for await (const out of engine.runCall(call, ctx)) await emit(out);
    }
  } catch (err) {
    // A failed or cancelled run leaves the call being gathered: remove its files once it settles
    // (not awaited: it may be waiting on a source that fails only after we do).
    void next.then((left) => left && engine.discardCall(left), () => {});
    throw err;
  }
}
