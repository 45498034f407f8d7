/**
 * A bounded hand-off between two stages. `push` waits while the channel is full, which is what
 * keeps a fast stage from running ahead of a slow one (back-pressure): memory and temp space stay
 * bounded by `capacity` chunks, whatever the video's length.
 */
export class Channel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private closed = false;
  private failure: unknown = undefined;
  private readers: Array<() => void> = [];
  private writers: Array<() => void> = [];

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new RangeError('capacity must be at least 1');
  }

  async push(item: T): Promise<void> {
    while (this.items.length >= this.capacity && !this.closed && this.failure === undefined) {
      await new Promise<void>((resolve) => this.writers.push(resolve));
    }
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new Error('push after close');
    this.items.push(item);
    this.wake(this.readers);
  }

  /** No more items: readers finish once the queue is drained. */
  close(): void {
    this.closed = true;
    this.wake(this.readers);
    this.wake(this.writers);
  }

  /** Both sides stop: readers and blocked writers see `err`. */
  fail(err: unknown): void {
    if (this.failure === undefined) this.failure = err ?? new Error('channel failed');
    this.items.length = 0;
    this.wake(this.readers);
    this.wake(this.writers);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const item = this.items.shift();
      if (item !== undefined) {
        this.wake(this.writers);
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => this.readers.push(resolve));
    }
  }

  private wake(list: Array<() => void>): void {
    const waiting = list.splice(0, list.length);
    for (const resume of waiting) resume();
  }
}
