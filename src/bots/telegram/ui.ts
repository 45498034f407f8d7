/**
 * The Telegram side of ChatUi: sending, editing (throttled per message, unchanged text skipped),
 * uploading videos. 429s and network errors are @grammyjs/auto-retry's (see bot.ts).
 */
import { GrammyError, InputFile, type Api } from 'grammy';
import type { InlineKeyboardMarkup } from 'grammy/types';
import type { Logger } from 'pino';
import { UploadTooLargeError, type ChatUi, type PhotoMessage, type UiMessage, type VideoMessage } from '../chat-ui.js';
import type { Button } from '../menu.js';
import { EditThrottle } from '../edit-throttle.js';
import { toHtml } from './markup.js';


export function keyboard(rows: Button[][] | undefined): InlineKeyboardMarkup | undefined {
  if (rows === undefined) return undefined;
  return { inline_keyboard: rows.map((row) => row.map((b) => ({ text: b.text, callback_data: b.data }))) };
}

const isNotModified = (err: unknown) => err instanceof GrammyError && /message is not modified/i.test(err.description);
const isTooLarge = (err: unknown) =>
  err instanceof GrammyError && (err.error_code === 413 || /too large|too big|entity too large/i.test(err.description));

const signature = (msg: UiMessage) => `${toHtml(msg.text)}\u0000${JSON.stringify(msg.buttons ?? null)}`;

export class TelegramUi implements ChatUi {
  private readonly edits: EditThrottle;

  constructor(
    private readonly api: Api,
    /** At most one edit per message this often (status messages: Telegram rate-limits edits). */
    editIntervalMs: number,
    private readonly log: Logger,
  ) {
    this.edits = new EditThrottle({ intervalMs: editIntervalMs, signature, perform: (c, m, msg) => this.editNow(c, m, msg) });
  }

  async send(chatId: string, msg: UiMessage, opts: { replyTo?: string } = {}): Promise<string> {
    const sent = await this.api.sendMessage(chatId, toHtml(msg.text), {
      parse_mode: 'HTML',
      link_preview_options: { is_disabled: true },
      ...(msg.buttons && msg.buttons.length > 0 ? { reply_markup: keyboard(msg.buttons) } : {}),
      ...(opts.replyTo ? { reply_parameters: { message_id: Number(opts.replyTo), allow_sending_without_reply: true } } : {}),
    });
    const id = String(sent.message_id);
    this.edits.sent(chatId, id, msg);
    return id;
  }

  /** Throttled per message (EditThrottle): Telegram rate-limits edits and errs on unchanged text. */
  edit(chatId: string, messageId: string, msg: UiMessage): Promise<void> {
    return this.edits.edit(chatId, messageId, msg);
  }

  private async editNow(chatId: string, messageId: string, msg: UiMessage): Promise<void> {
    try {
      await this.api.editMessageText(chatId, Number(messageId), toHtml(msg.text), {
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
        reply_markup: keyboard(msg.buttons ?? []),
      });
    } catch (err) {
      // Telegram refuses an edit to the text a message already shows. The throttle cannot always
      // know (after a restart, or once it forgot an idle message), and the text is shown: done.
      if (!isNotModified(err)) throw err;
    }
  }

  async sendVideo(chatId: string, v: VideoMessage): Promise<void> {
    try {
      await this.api.sendVideo(chatId, new InputFile(v.file, v.fileName), {
        caption: toHtml(v.caption),
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

  async sendPhoto(chatId: string, p: PhotoMessage): Promise<void> {
    await this.api.sendPhoto(chatId, new InputFile(p.file, 'backgrounds.jpg'), {
      caption: toHtml(p.caption),
      parse_mode: 'HTML',
      ...(p.replyTo ? { reply_parameters: { message_id: Number(p.replyTo), allow_sending_without_reply: true } } : {}),
    });
  }

  close(): void {
    this.edits.close();
    this.log.debug('telegram ui closed');
  }
}
