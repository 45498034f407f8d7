/**
 * The Discord side of ChatUi, over discord.js's REST client (which waits out 429s per route and
 * retries server errors).
 *
 * Where a message goes depends on the interaction behind it. Its token lets the bot edit its
 * reply and send follow-ups for 15 minutes — without needing any permission in the channel — and
 * then it is dead (401 / "Invalid Webhook Token"). So every message the bot makes is recorded in
 * Redis with the token that can edit it (and when that token dies); once the token is dead (or
 * refused early), edits go through the channel endpoints and, when the channel refuses to edit a
 * message it does not count as the bot's, a new channel message takes over as the status message.
 * Deliveries after the 15 minutes are ordinary channel messages replying to the status message.
 * The records live in Redis, so a restarted bot keeps editing the same messages.
 */
import path from 'node:path';
import { DiscordAPIError, Routes, type REST, type RawFile } from 'discord.js';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { UploadTooLargeError, type ChatUi, type PhotoMessage, type UiMessage, type VideoMessage } from '../chat-ui.js';
import { botTexts } from '../texts.js';
import type { Locale } from '../../i18n/messages.js';
import { EditThrottle } from '../edit-throttle.js';
import { fileAttachment, upload } from './attachments.js';
import { MessageRecords } from './message-records.js';
import { fitContent, selectPlaceholder, statsEmbed, toComponents } from './message-shapes.js';
import { toMarkdown } from './markup.js';
import type { Rich } from '../rich.js';

const EPHEMERAL = 1 << 6;
/** Mentions in file names or user text never ping anyone. */
const NO_MENTIONS = { parse: [] as string[] };
/** A token is not used in its last seconds: a long upload must not start on a dying token. */
const TOKEN_MARGIN_MS = 30_000;

export interface InteractionRef {
  applicationId: string;
  token: string;
  /** ms since the epoch */
  expiresAt: number;
  channelId: string;
}

interface Pending {
  ref: InteractionRef;
  locale: Locale;
  /** The deferred (ephemeral) reply has been given a text: follow-ups are now messages of their own. */
  resolved: boolean;
  /** A picture held back to go with the next message (the gallery above a menu). */
  photo?: { file: string; caption: Rich };
}

/** Errors that mean "this interaction token can no longer be used". */
export function isDeadToken(err: unknown): boolean {
  return err instanceof DiscordAPIError && (err.status === 401 || err.code === 50027 || err.code === 10015);
}
/** Errors that mean "the channel endpoint will not edit this message". */
function isNotEditable(err: unknown): boolean {
  return err instanceof DiscordAPIError && (err.status === 403 || err.status === 404 || err.code === 50005 || err.code === 10008 || err.code === 50001);
}
export function isTooLarge(err: unknown): boolean {
  return err instanceof DiscordAPIError && (err.status === 413 || err.code === 40005);
}

const signature = (msg: UiMessage) => JSON.stringify([msg.text, msg.buttons ?? null, msg.link ?? null, msg.stats ? 1 : 0]);

export class DiscordUi implements ChatUi {
  private readonly pending = new Map<string, Pending>();
  private readonly edits: EditThrottle;
  private readonly records: MessageRecords;

  constructor(
    private readonly rest: REST,
    redis: Redis,
    keyPrefix: string,
    opts: { editIntervalMs: number; tokenLifetimeMs: number },
    private readonly log: Logger,
  ) {
    this.records = new MessageRecords(redis, keyPrefix);
    this.edits = new EditThrottle({ intervalMs: opts.editIntervalMs, signature, perform: (c, m, msg) => this.editNow(c, m, msg) });
  }

  // --- interactions --------------------------------------------------------------------------

  /** A deferred interaction the flow may answer: `handle` goes where the flow takes a replyTo. */
  open(ref: InteractionRef, locale: Locale, opts: { holdPhoto?: boolean } = {}): string {
    const handle = `i:${ref.token.slice(-16)}:${Date.now().toString(36)}`;
    this.pending.set(handle, { ref, locale, resolved: false, ...(opts.holdPhoto ? { photo: undefined } : {}) });
    if (opts.holdPhoto) this.holding.add(handle);
    // Past its token's life a handle is useless; forget it then.
    setTimeout(() => {
      this.pending.delete(handle);
      this.holding.delete(handle);
    }, Math.max(1000, ref.expiresAt - Date.now())).unref();
    return handle;
  }
  private readonly holding = new Set<string>();

  refOf(handle: string): InteractionRef | undefined {
    return this.pending.get(handle)?.ref;
  }

  /** Replaces the deferred ("thinking") reply with a note only the requester sees. */
  async note(handle: string, text: Rich): Promise<void> {
    const p = this.pending.get(handle);
    if (!p) return;
    await this.rest.patch(Routes.webhookMessage(p.ref.applicationId, p.ref.token, '@original'), {
      body: { content: fitContent(toMarkdown(text)), allowed_mentions: NO_MENTIONS },
      auth: false,
    });
    p.resolved = true;
  }

  /** An ephemeral follow-up to any interaction (the answer to a press, a refusal). */
  async ephemeral(ref: Pick<InteractionRef, 'applicationId' | 'token'>, text: Rich): Promise<void> {
    await this.rest.post(Routes.webhook(ref.applicationId, ref.token), {
      body: { content: fitContent(toMarkdown(text)), flags: EPHEMERAL, allowed_mentions: NO_MENTIONS },
      auth: false,
    });
  }

  /**
   * A press on a message's component gives a fresh token that edits that very message
   * (`@original` of a component interaction): the status message gains another 15 minutes.
   */
  async refresh(messageId: string, ref: InteractionRef): Promise<void> {
    const rec = await this.records.get(messageId);
    if (!rec || rec.replacement) return;
    await this.records.save(messageId, { ...rec, via: 'original', applicationId: ref.applicationId, token: ref.token, expiresAt: ref.expiresAt });
  }

  private live(rec: { token?: string; expiresAt?: number } | null | undefined): rec is { token: string; expiresAt: number; applicationId: string } {
    return Boolean(rec?.token && rec.expiresAt && rec.expiresAt - TOKEN_MARGIN_MS > Date.now());
  }

  // --- building messages ---------------------------------------------------------------------

  private body(msg: UiMessage): Record<string, unknown> {
    return {
      content: fitContent(toMarkdown(msg.text)),
      components: toComponents(msg.buttons, { placeholder: selectPlaceholder(msg.locale), ...(msg.link ? { link: msg.link } : {}) }),
      embeds: msg.stats ? [statsEmbed(msg.stats)] : [],
      allowed_mentions: NO_MENTIONS,
    };
  }

  // --- ChatUi --------------------------------------------------------------------------------

  async send(chatId: string, msg: UiMessage, opts: { replyTo?: string; private?: boolean } = {}): Promise<string> {
    const id = await this.sendNew(chatId, msg, opts);
    this.edits.sent(chatId, id, msg);
    return id;
  }

  private async sendNew(chatId: string, msg: UiMessage, opts: { replyTo?: string; private?: boolean }): Promise<string> {
    const p = opts.replyTo ? this.pending.get(opts.replyTo) : undefined;
    const body = this.body(msg);
    if (p && opts.private) {
      // The reply was deferred as ephemeral: the refusal replaces it, seen by the requester only.
      const res = await this.rest.patch(Routes.webhookMessage(p.ref.applicationId, p.ref.token, '@original'), { body, auth: false });
      p.resolved = true;
      return messageId(res);
    }
    if (p && this.live(p.ref)) {
      if (!p.resolved) await this.note(opts.replyTo!, '⏳');
      let files: RawFile[] = [];
      if (p.photo) {
        ({ files, attachments: body.attachments } = await upload(fileAttachment(p.photo.file, galleryName(p.photo.file))));
        p.photo = undefined;
      }
      const res = await this.rest.post(Routes.webhook(p.ref.applicationId, p.ref.token), { body, files, query: new URLSearchParams({ wait: 'true' }), auth: false });
      const id = messageId(res);
      await this.records.save(id, { channelId: p.ref.channelId, via: 'followup', applicationId: p.ref.applicationId, token: p.ref.token, expiresAt: p.ref.expiresAt });
      // The ephemeral "working on it" note has done its job.
      await this.rest.delete(Routes.webhookMessage(p.ref.applicationId, p.ref.token, '@original'), { auth: false }).catch((err: unknown) => this.log.debug({ err }, 'could not delete the note'));
      return id;
    }
    const target = p ? undefined : opts.replyTo;
    return this.postChannel(p?.ref.channelId ?? chatId, body, [], target);
  }

  /**
   * A follow-up to the interaction behind `replyTo` while its token lives (no channel permission
   * needed); otherwise a channel message that replies to it.
   */
  private async post(chatId: string, body: Record<string, unknown>, files: RawFile[], replyTo: string | undefined): Promise<string> {
    const rec = replyTo ? await this.records.get(replyTo) : null;
    if (rec && this.live(rec) && !rec.replacement) {
      try {
        const res = await this.rest.post(Routes.webhook(rec.applicationId!, rec.token!), { body, files, query: new URLSearchParams({ wait: 'true' }), auth: false });
        const id = messageId(res);
        await this.records.save(id, { channelId: rec.channelId, via: 'followup', applicationId: rec.applicationId, token: rec.token, expiresAt: rec.expiresAt });
        return id;
      } catch (err) {
        if (!isDeadToken(err)) throw err;
        this.log.info({ replyTo }, 'interaction token refused: posting in the channel');
        await this.records.save(replyTo!, { ...rec, token: undefined, expiresAt: undefined });
      }
    }
    return this.postChannel(rec?.channelId ?? chatId, body, files, rec?.replacement ?? replyTo);
  }

  private async postChannel(channelId: string, body: Record<string, unknown>, files: RawFile[], replyTo: string | undefined): Promise<string> {
    const withRef = replyTo && /^\d+$/.test(replyTo) ? { ...body, message_reference: { message_id: replyTo, fail_if_not_exists: false } } : body;
    const res = await this.rest.post(Routes.channelMessages(channelId), { body: withRef, files });
    const id = messageId(res);
    await this.records.save(id, { channelId, via: 'channel' });
    return id;
  }

  edit(chatId: string, messageId: string, msg: UiMessage): Promise<void> {
    return this.edits.edit(chatId, messageId, msg);
  }

  private async editNow(chatId: string, messageId: string, msg: UiMessage): Promise<void> {
    const rec = (await this.records.get(messageId)) ?? { channelId: chatId, via: 'channel' as const };
    const body = this.body(msg);
    // A menu keeps its gallery picture; any other state of the message drops it.
    const isMenu = (body.components as Array<{ components: Array<{ type: number }> }>).some((r) => r.components.some((c) => c.type === 3));
    if (!isMenu) body.attachments = [];
    if (!rec.replacement && rec.via !== 'channel' && this.live(rec)) {
      try {
        await this.rest.patch(Routes.webhookMessage(rec.applicationId!, rec.token!, rec.via === 'original' ? '@original' : messageId), { body, auth: false });
        return;
      } catch (err) {
        if (!isDeadToken(err)) throw err;
        this.log.info({ messageId }, 'interaction token refused: editing through the channel');
        await this.records.save(messageId, { ...rec, token: undefined, expiresAt: undefined });
      }
    }
    const target = rec.replacement ?? messageId;
    try {
      await this.rest.patch(Routes.channelMessage(rec.channelId, target), { body });
    } catch (err) {
      if (!isNotEditable(err) || rec.replacement) throw err;
      // The channel will not let the bot edit the interaction's message: a new message takes over.
      const id = await this.postChannel(rec.channelId, body, [], messageId);
      await this.records.save(messageId, { ...rec, token: undefined, expiresAt: undefined, replacement: id });
      this.log.info({ messageId, replacement: id }, 'status continues in a new channel message');
    }
  }

  async sendVideo(chatId: string, v: VideoMessage): Promise<void> {
    const body: Record<string, unknown> = {
      content: '',
      components: toComponents(v.buttons, { placeholder: selectPlaceholder(v.locale), ...(v.link ? { link: { text: botTexts(v.locale).downloadOriginal, url: v.link } } : {}) }),
      embeds: v.stats ? [statsEmbed(v.stats)] : [],
      allowed_mentions: NO_MENTIONS,
    };
    if (!v.stats) body.content = fitContent(toMarkdown(v.caption));
    const { files, attachments } = await upload(fileAttachment(v.file, v.fileName));
    body.attachments = attachments;
    try {
      await this.post(chatId, body, files, v.replyTo);
    } catch (err) {
      if (isTooLarge(err)) throw new UploadTooLargeError((err as Error).message);
      throw err;
    }
  }

  async sendPhoto(chatId: string, photo: PhotoMessage): Promise<void> {
    const p = photo.replyTo ? this.pending.get(photo.replyTo) : undefined;
    if (p && photo.replyTo && this.holding.has(photo.replyTo)) {
      // Goes out with the menu that follows, as one message.
      p.photo = { file: photo.file, caption: photo.caption };
      return;
    }
    const { files, attachments } = await upload(fileAttachment(photo.file, galleryName(photo.file)));
    const body = { content: fitContent(toMarkdown(photo.caption)), attachments, allowed_mentions: NO_MENTIONS };
    if (p) {
      // The answer to a command (/bg list): it replaces the deferred reply.
      await this.rest.patch(Routes.webhookMessage(p.ref.applicationId, p.ref.token, '@original'), { body, files, auth: false });
      p.resolved = true;
      return;
    }
    await this.post(chatId, body, files, photo.replyTo);
  }

  close(): void {
    this.edits.close();
    this.pending.clear();
  }
}

/** The gallery picture's name on Discord (its extension gives the content type). */
const galleryName = (file: string) => (path.extname(file).toLowerCase() === '.png' ? 'backgrounds.png' : 'backgrounds.jpg');

function messageId(res: unknown): string {
  const parsed = z.object({ id: z.string() }).passthrough().safeParse(res);
  if (!parsed.success) throw new Error('Discord returned no message id');
  return parsed.data.id;
}
