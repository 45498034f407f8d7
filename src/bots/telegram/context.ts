/**
 * What every Telegram handler module is given: the service, the flow, the UI, the bot's settings,
 * and the few helpers they all use to read a request and answer it.
 */
import type { Api, Context } from 'grammy';
import type { Logger } from 'pino';
import type { Locale } from '../../i18n/messages.js';
import type { Requester } from '../../queue/jobs.js';
import type { Service } from '../../service/context.js';
import type { BotFlow } from '../flow.js';
import type { Rich } from '../rich.js';
import type { TelegramUi } from './ui.js';
import type { FoundMedia } from './parse.js';

export interface TelegramDeps {
  service: Service;
  flow: BotFlow;
  ui: TelegramUi;
  api: Api;
  tg: Service['config']['telegram'];
  log: Logger;
  /** Fetches a Telegram file into `target` (cloud link or local-mode path). */
  download(found: FoundMedia, target: string): Promise<void>;
}

/** The user's chosen language, else their client's. */
export const localeOf = (d: TelegramDeps, ctx: Context): Promise<Locale> => d.flow.localeOf(String(ctx.from?.id ?? ''), ctx.from?.language_code);

export async function requesterOf(d: TelegramDeps, ctx: Context): Promise<Requester> {
  return {
    platform: 'telegram',
    chatId: String(ctx.chat!.id),
    userId: String(ctx.from!.id),
    ...(ctx.from?.username || ctx.from?.first_name ? { userName: ctx.from.username ?? ctx.from.first_name } : {}),
    locale: await localeOf(d, ctx),
  };
}

/** A message to the update's chat, optionally as a reply, in the user's language (its text already is). */
export const reply = async (d: TelegramDeps, ctx: Context, text: Rich, replyTo?: number) =>
  d.ui.send(String(ctx.chat!.id), { text, locale: await localeOf(d, ctx) }, replyTo !== undefined ? { replyTo: String(replyTo) } : {});

export const isOwner = (d: TelegramDeps, ctx: Context) => d.tg.admins.includes(String(ctx.from?.id ?? ''));
