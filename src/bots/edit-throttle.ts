/**
 * Per-message edit throttling, shared by the chat UIs. A status message is edited on every progress
 * tick, but chat platforms rate-limit edits of one message (and a queue of stale progress texts is
 * worth nothing), so: the newest text wins, at most one edit per interval goes out, and a text the
 * message already shows is not sent again. Callers of a superseded edit are told it is done once
 * a newer text is shown. How an edit is sent, and which errors count as "shown anyway", is each
 * platform's `perform`.
 */
import type { UiMessage } from './chat-ui.js';

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface EditState {
  /** Signature of what the message shows now, as last sent. */
  shown?: string;
  lastAt: number;
  pending?: { msg: UiMessage; key: string; waiters: Waiter[] };
  timer?: NodeJS.Timeout;
  running: boolean;
}

export interface EditThrottleOptions {
  intervalMs: number;
  /** Equal signatures mean the platform would show the same thing. */
  signature: (msg: UiMessage) => string;
  /** Sends one edit; resolving means the message now shows `msg`. */
  perform: (chatId: string, messageId: string, msg: UiMessage) => Promise<void>;
}

/** Above this many tracked messages, `sent` forgets the idle ones. */
const PRUNE_ABOVE = 2000;
/** Past an hour without edits a message's throttle no longer matters. */
const IDLE_MS = 3600_000;

export class EditThrottle {
  private readonly edits = new Map<string, EditState>();

  constructor(private readonly opts: EditThrottleOptions) {}

  edit(chatId: string, messageId: string, msg: UiMessage): Promise<void> {
    const key = `${chatId}:${messageId}`;
    let st = this.edits.get(key);
    if (!st) {
      // Pruned here too: a platform that never calls sent() must not grow the map for ever.
      if (this.edits.size > PRUNE_ABOVE) this.prune();
      st = { lastAt: 0, running: false };
      this.edits.set(key, st);
    }
    const sig = this.opts.signature(msg);
    if (!st.pending && !st.running && st.shown === sig) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const s = st!;
      const waiters = s.pending?.waiters ?? [];
      waiters.push({ resolve, reject });
      s.pending = { msg, key: sig, waiters };
      this.schedule(chatId, messageId, s);
    });
  }

  /** A message just sent already shows `msg`: editing it to the same text needs no call. */
  sent(chatId: string, messageId: string, msg: UiMessage): void {
    if (this.edits.size > PRUNE_ABOVE) this.prune();
    this.edits.set(`${chatId}:${messageId}`, { shown: this.opts.signature(msg), lastAt: 0, running: false });
  }

  /** Edits still waiting are rejected: nothing will send them. */
  close(): void {
    for (const st of this.edits.values()) {
      if (st.timer) clearTimeout(st.timer);
      st.pending?.waiters.forEach((w) => w.reject(new Error('bot stopped')));
    }
    this.edits.clear();
  }

  private schedule(chatId: string, messageId: string, st: EditState): void {
    if (st.timer || st.running) return;
    const wait = Math.max(0, st.lastAt + this.opts.intervalMs - Date.now());
    st.timer = setTimeout(() => {
      st.timer = undefined;
      void this.flush(chatId, messageId, st);
    }, wait);
  }

  private async flush(chatId: string, messageId: string, st: EditState): Promise<void> {
    const job = st.pending;
    st.pending = undefined;
    if (!job) return;
    if (job.key === st.shown) {
      job.waiters.forEach((w) => w.resolve());
      return;
    }
    st.running = true;
    try {
      await this.opts.perform(chatId, messageId, job.msg);
      st.shown = job.key;
      job.waiters.forEach((w) => w.resolve());
    } catch (err) {
      job.waiters.forEach((w) => w.reject(err));
    } finally {
      st.lastAt = Date.now();
      st.running = false;
      if (st.pending) this.schedule(chatId, messageId, st);
    }
  }

  private prune(): void {
    const old = Date.now() - IDLE_MS;
    for (const [k, st] of this.edits) if (!st.pending && !st.running && !st.timer && st.lastAt < old) this.edits.delete(k);
  }
}
