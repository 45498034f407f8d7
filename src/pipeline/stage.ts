import type { Channel } from './channel.js';
import type { Chunk, EngineInfo, Progress, StageName, StageStats } from './types.js';

/**
 * Times one stage of the overlapped pipeline. A stage's own work is its lifetime minus the time it
 * sat waiting for the stage before it (input) or for room in the stage after it (output): that is
 * what tells which stage is the bottleneck, whereas wall time is the same for all of them.
 */
export class StageMeter {
  private started = 0;
  private ended = 0;
  private waitIn = 0;
  private waitOut = 0;
  frames = 0;

  constructor(
    readonly name: StageName,
    private readonly total: number,
    private readonly onProgress?: (p: Progress) => void,
  ) {}

  begin(): void {
    this.started = performance.now();
  }

  end(): void {
    if (this.ended === 0) this.ended = performance.now();
  }

  /** Iterates `source`, counting the time spent waiting for it. */
  async *input(source: AsyncIterable<Chunk>): AsyncGenerator<Chunk> {
    const it = source[Symbol.asyncIterator]();
    for (;;) {
      const t = performance.now();
      const next = await it.next();
      this.waitIn += performance.now() - t;
      if (next.done) return;
      yield next.value;
    }
  }

  async push(out: Channel<Chunk>, chunk: Chunk): Promise<void> {
    const t = performance.now();
    await out.push(chunk);
    this.waitOut += performance.now() - t;
  }

  done(count: number): void {
    this.frames += count;
    this.onProgress?.({ stage: this.name, done: this.frames, total: Math.max(this.total, this.frames), fps: this.fps() });
  }

  /**
   * For an engine that overlaps its own work (a call running while the next is gathered): its
   * input and output waits overlap its work too, so its own account of busy time replaces ours.
   */
  busyFrom(seconds: () => number): void {
    this.ownBusy = seconds;
  }

  private ownBusy: (() => number) | undefined;

  busySeconds(): number {
    if (this.ownBusy) return this.ownBusy();
    const end = this.ended || performance.now();
    return Math.max(0, end - this.started - this.waitIn - this.waitOut) / 1000;
  }

  fps(): number {
    const s = this.busySeconds();
    return s > 0 ? this.frames / s : 0;
  }

  stats(info: EngineInfo): StageStats {
    return {
      name: this.name,
      seconds: this.busySeconds(),
      fps: this.fps(),
      frames: this.frames,
      engine: info.engine,
      device: info.device,
      ...(info.fallbackFrom ? { fallbackFrom: info.fallbackFrom } : {}),
      ...(info.calls ? { calls: info.calls } : {}),
    };
  }
}
