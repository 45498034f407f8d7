/**
 * An in-memory ChatUi for unit tests of the flow: every message the flow sends, edits and uploads
 * is kept in order, per chat, as the flow handed it over (locale, buttons, stats included). No
 * platform, no wire format: the wire-level fakes (telegram.ts, discord.ts) cover those.
 */
import { copyFileSync } from 'node:fs';
import type { ChatUi, PhotoMessage, UiMessage, VideoMessage } from '../../src/bots/chat-ui.js';
import { UploadTooLargeError } from '../../src/bots/chat-ui.js';
import type { Button } from '../../src/bots/menu.js';
import { plainText } from '../../src/bots/rich.js';

export type UiEvent =
  | { kind: 'send'; chatId: string; id: string; msg: UiMessage; replyTo?: string; private?: boolean }
  | { kind: 'edit'; chatId: string; id: string; msg: UiMessage }
  | { kind: 'video'; chatId: string; id: string; video: VideoMessage }
  | { kind: 'photo'; chatId: string; id: string; photo: PhotoMessage };

export class FakeChatUi implements ChatUi {
  readonly events: UiEvent[] = [];
  /** The current state of each message: what a user would see now. */
  readonly messages = new Map<string, UiMessage>();
  /** Uploads larger than this are refused as the platforms refuse them. */
  uploadLimitBytes = Infinity;
  private next = 1;

  constructor(
    /** Where uploaded files are copied (the flow removes its temp files after the upload). */
    private readonly keepUploadsIn?: string,
  ) {}

  async send(chatId: string, msg: UiMessage, opts: { replyTo?: string; private?: boolean } = {}): Promise<string> {
    const id = String(this.next++);
    this.events.push({ kind: 'send', chatId, id, msg, ...opts });
    this.messages.set(id, msg);
    return id;
  }

  async edit(chatId: string, messageId: string, msg: UiMessage): Promise<void> {
    if (!this.messages.has(messageId)) throw new Error(`message ${messageId} not found`);
    this.events.push({ kind: 'edit', chatId, id: messageId, msg });
    this.messages.set(messageId, msg);
  }

  async sendVideo(chatId: string, video: VideoMessage): Promise<void> {
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(video.file));
    if (size > this.uploadLimitBytes) throw new UploadTooLargeError(`${size} bytes`);
    const id = String(this.next++);
    const file = this.keepUploadsIn ? `${this.keepUploadsIn}/upload-${id}.mp4` : video.file;
    if (this.keepUploadsIn) copyFileSync(video.file, file);
    this.events.push({ kind: 'video', chatId, id, video: { ...video, file } });
    return;
  }

  async sendPhoto(chatId: string, photo: PhotoMessage): Promise<void> {
    this.events.push({ kind: 'photo', chatId, id: String(this.next++), photo });
  }

  /** The last message sent (not edited) whose text matches. */
  sent(re: RegExp): Extract<UiEvent, { kind: 'send' }> | undefined {
    return this.events.filter((e): e is Extract<UiEvent, { kind: 'send' }> => e.kind === 'send' && re.test(plainText(e.msg.text))).at(-1);
  }

  videos(): Array<Extract<UiEvent, { kind: 'video' }>> {
    return this.events.filter((e): e is Extract<UiEvent, { kind: 'video' }> => e.kind === 'video');
  }

  /** Every locale the flow put on anything it sent. */
  locales(): string[] {
    return [...new Set(this.events.map((e) => (e.kind === 'video' ? e.video.locale : e.kind === 'photo' ? e.photo.locale : e.msg.locale)))];
  }
}

/** The callback data of the button whose text matches, on a message as it is now. */
export function buttonData(rows: Button[][] | undefined, re: RegExp): string {
  const b = (rows ?? []).flat().find((x) => re.test(x.text));
  if (!b) throw new Error(`no button ${re} among ${JSON.stringify((rows ?? []).flat().map((x) => x.text))}`);
  return b.data;
}
