/**
 * The Telegram side of ChatUi: sending, editing (throttled per message, unchanged text skipped),
 * uploading videos, and an API transformer that honours 429 retry_after and retries network errors
 * for every call the bot makes.
 */
import { GrammyError, HttpError, InputFile, type Api, type Transformer } from 'grammy';
import type { InlineKeyboardMarkup } from 'grammy/types';
import type { Logger } from 'pino';
import { UploadTooLargeError, type ChatUi, type UiMessage, type VideoMessage } from '../flow.js';
import type { Button } from '../menu.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RetryOptions {
  /** Retries of one call (429s and network errors together). */
  maxRetries?: number;
  /** A 429 asking for longer than this is not waited for: the error goes to the caller. */
  maxRetryAfterS?: number;
  log?: Logger;
}

/**
 * Telegram answers 429 with `parameters.retry_after` (seconds) when a chat or the bot sends too
 * fast; waiting that long and sending again is what it asks for. Network errors (HttpError: the
 * request may not have reached Telegram) are retried with backoff. getUpdates is left to grammY's
 * own polling loop, which already retries.
 */
export function retryTransformer(opts: RetryOptions = {}): Transformer {
  const maxRetries = opts.maxRetries ?? 5;
  const maxRetryAfterS = opts.maxRetryAfterS ?? 120;
  return async (prev, method, payload, signal) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await prev(method, payload, signal);
        const retryAfter = !res.ok && res.error_code === 429 ? res.parameters?.retry_after : undefined;
        if (retryAfter !== undefined && attempt < maxRetries && retryAfter <= maxRetryAfterS && method !== 'getUpdates') {
          opts.log?.info({ method, retryAfter }, 'telegram 429: waiting before retrying');
          await sleep(retryAfter * 1000);
          continue;
        }
        return res;
      } catch (err) {
        if (!(err instanceof HttpError) || attempt >= maxRetries || method === 'getUpdates' || signal?.aborted) throw err;
        const delay = Math.min(30_000, 500 * 2 ** attempt);
        opts.log?.warn({ method, err: err.message, delay }, 'telegram network error: retrying');
        await sleep(delay);
      }
    }
  };
}

export function keyboard(rows: Button[][] | undefined): InlineKeyboardMarkup | undefined {
  if (rows === undefined) return undefined;
  return { inline_keyboard: rows.map((row) => row.map((b) => ({ text: b.text, callback_data: b.data }))) };
}

const isNotModified = (err: unknown) => err instanceof GrammyError && /message is not modified/i.test(err.description);
const isTooLarge = (err: unknown) =>
  err instanceof GrammyError && (err.error_code === 413 || /too large|too big|entity too large/i.test(err.description));

interface EditState {
  /** What the message shows now (text + buttons), as last sent. */
  shown?: string;
  lastAt: number;
  pending?: { msg: UiMessage; key: string; waiters: Array<{ resolve(): void; reject(err: unknown): void }> };
  timer?: NodeJS.Timeout;
  running: boolean;
}

const signature = (msg: UiMessage) => `${msg.html}\u0000${JSON.stringify(msg.buttons ?? null)}`;

export class TelegramUi implements ChatUi {
  private readonly edits = new Map<string, EditState>();

  constructor(
    private readonly api: Api,
    /** At most one edit per message this often (status messages: Telegram rate-limits edits). */
    private readonly editIntervalMs: number,
    private readonly log: Logger,
  ) {}

  async send(chatId: string, msg: UiMessage, opts: { replyTo?: string } = {}): Promise<string> {
    const sent = await this.api.sendMessage(chatId, msg.html, {
      parse_mode: 'HTML',
      link_preview_options: { is_disabled: true },
      ...(msg.buttons && msg.buttons.length > 0 ? { reply_markup: keyboard(msg.buttons) } : {}),
      ...(opts.replyTo ? { reply_parameters: { message_id: Number(opts.replyTo), allow_sending_without_reply: true } } : {}),
    });
    const id = String(sent.message_id);
    if (this.edits.size > 2000) this.prune();
    this.edits.set(`${chatId}:${id}`, { shown: signature(msg), lastAt: 0, running: false });
    return id;
  }

  /**
   * Edits are per message: the newest text wins, one edit at most every editIntervalMs, and a text
   * the message already shows is not sent again ("message is not modified" is an error on Telegram).
   */
  edit(chatId: string, messageId: string, msg: UiMessage): Promise<void> {
    const key = `${chatId}:${messageId}`;
    let st = this.edits.get(key);
    if (!st) {
      st = { lastAt: 0, running: false };
      this.edits.set(key, st);
    }
    const sig = signature(msg);
    if (!st.pending && !st.running && st.shown === sig) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const s = st!;
      const waiters = s.pending?.waiters ?? [];
      waiters.push({ resolve, reject });
      s.pending = { msg, key: sig, waiters };
      this.schedule(chatId, messageId, s);
    });
  }

  private schedule(chatId: string, messageId: string, st: EditState): void {
    if (st.timer || st.running) return;
    const wait = Math.max(0, st.lastAt + this.editIntervalMs - Date.now());
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
      await this.api.editMessageText(chatId, Number(messageId), job.msg.html, {
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
        reply_markup: keyboard(job.msg.buttons ?? []),
      });
      st.shown = job.key;
      job.waiters.forEach((w) => w.resolve());
    } catch (err) {
      if (isNotModified(err)) {
        st.shown = job.key;
        job.waiters.forEach((w) => w.resolve());
      } else {
        job.waiters.forEach((w) => w.reject(err));
      }
    } finally {
      st.lastAt = Date.now();
      st.running = false;
      if (st.pending) this.schedule(chatId, messageId, st);
    }
  }

  async sendVideo(chatId: string, v: VideoMessage): Promise<void> {
    try {
      await this.api.sendVideo(chatId, new InputFile(v.file, v.fileName), {
        caption: v.caption,
        parse_mode: 'HTML',
        supports_streaming: true,
        width: v.width,
        height: v.height,
        duration: Math.max(1, Math.round(v.durationS)),
        ...(v.thumbnail ? { thumbnail: new InputFile(v.thumbnail, 'thumb.jpg') } : {}),
        ...(v.buttons && v.buttons.length > 0 ? { reply_markup: keyboard(v.buttons) } : {}),
        ...(v.replyTo ? { reply_parameters: { message_id: Number(v.replyTo), allow_sending_without_reply: true } } : {}),
      });
    } catch (err) {
      if (isTooLarge(err)) throw new UploadTooLargeError((err as Error).message);
      throw err;
    }
  }

  async sendPhoto(chatId: string, p: { file: string; caption: string; replyTo?: string }): Promise<void> {
    await this.api.sendPhoto(chatId, new InputFile(p.file, 'backgrounds.jpg'), {
      caption: p.caption,
      parse_mode: 'HTML',
      ...(p.replyTo ? { reply_parameters: { message_id: Number(p.replyTo), allow_sending_without_reply: true } } : {}),
    });
  }

  /** Forgets messages not edited for an hour (their throttle no longer matters). */
  private prune(): void {
    const old = Date.now() - 3600_000;
    for (const [k, st] of this.edits) if (!st.pending && !st.running && !st.timer && st.lastAt < old) this.edits.delete(k);
  }

  close(): void {
    for (const st of this.edits.values()) {
      if (st.timer) clearTimeout(st.timer);
      st.pending?.waiters.forEach((w) => w.reject(new Error('bot stopped')));
    }
    this.edits.clear();
    this.log.debug('telegram ui closed');
  }
}
