/**
 * The Telegram bot (grammY): one Composer per concern (requests, commands, library admin, buttons),
 * @grammyjs/auto-retry for 429s and network errors, and @grammyjs/runner so updates of different
 * chats run side by side while each chat's stay in order (sequentialize). Results come back
 * through the `deliver-telegram` queue. Long polling; `telegram.apiRoot` points it at the cloud
 * Bot API or a self-hosted telegram-bot-api server (which the tests replace by a fake).
 */
import path from 'node:path';
import { autoRetry } from '@grammyjs/auto-retry';
import { run, sequentialize, type RunnerHandle } from '@grammyjs/runner';
import { Bot, type Context } from 'grammy';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Locale } from '../../i18n/messages.js';
import { startDeliverWorker } from '../../queue/deliver.js';
import type { Service } from '../../service/context.js';
import { BotFlow } from '../flow.js';
import { botLibrary, type BotLibrary } from '../library-warmup.js';
import { botTexts, reasonText } from '../texts.js';
import { buttons } from './buttons.js';
import { commands } from './commands.js';
import { localeOf, reply, type TelegramDeps } from './context.js';
import { telegramDownloader } from './download.js';
import { libraryAdmin } from './library-admin.js';
import { MB } from './parse.js';
import { requests } from './requests.js';
import { TelegramUi } from './ui.js';

export interface TelegramBot {
  bot: Bot;
  flow: BotFlow;
  library: BotLibrary;
  username: string;
  close(): Promise<void>;
}

const SWEEP_EVERY_MS = 30 * 60 * 1000;

/**
 * Each chat's messages in order; its button presses in order too, but apart from its messages, so
 * a press is answered while that chat's download is still running.
 */
export function updateOrderKey(ctx: Context): string | undefined {
  const chat = ctx.chat?.id;
  if (chat === undefined) return undefined;
  return ctx.callbackQuery ? `${chat}:buttons` : String(chat);
}

export async function startTelegramBot(service: Service, log: Logger): Promise<TelegramBot> {
  const tg = service.config.telegram;
  const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
  // 429 retry_after is waited out (up to 2 min) and network errors retried, on every call the bot makes.
  bot.api.config.use(autoRetry({ maxRetryAttempts: 5, maxDelaySeconds: 120 }));
  await bot.init();
  const username = bot.botInfo.username;
  const library = botLibrary(service.config, log);
  const ui = new TelegramUi(bot.api, tg.editIntervalMs, log);
  const flow = new BotFlow(service, {
    platform: 'telegram',
    ui,
    uploadLimitBytes: tg.uploadLimitMb * MB,
    pollIntervalMs: tg.pollIntervalMs,
    menuPageSize: tg.menuPageSize,
    incomingDir: path.join(service.config.dataDir, 'incoming', 'telegram'),
    library,
    log,
  });
  const deps: TelegramDeps = { service, flow, ui, api: bot.api, tg, log, download: telegramDownloader(bot.api, tg, log) };

  bot.use(sequentialize(updateOrderKey));
  bot.use(requests(deps), libraryAdmin(deps), commands(deps), buttons(deps));
  // A handler that throws: logged with its update, answered where there is a chat; the bot goes on.
  bot.catch(async (err) => {
    log.error({ err: err.error, update: err.ctx.update.update_id, chatId: err.ctx.chat?.id }, 'telegram update failed');
    if (!err.ctx.chat || err.ctx.callbackQuery) return;
    const locale = await localeOf(deps, err.ctx).catch((): Locale => 'en');
    await reply(deps, err.ctx, botTexts(locale).failed(reasonText(err.error, locale))).catch(() => {});
  });

  const commandList = (locale: Locale) => Object.entries(botTexts(locale).commands).map(([command, description]) => ({ command, description }));
  await bot.api.setMyCommands(commandList('en')).catch((err: unknown) => log.warn({ err }, 'setMyCommands failed'));
  await bot.api.setMyCommands(commandList('zh'), { language_code: 'zh' }).catch((err: unknown) => log.warn({ err }, 'setMyCommands (zh) failed'));

  const deliverer: Worker = startDeliverWorker(service.config, () => service.redisHandle.connection(), 'telegram', (d) => flow.deliver(d), log);
  await flow.resumeTracking().catch((err: unknown) => log.warn({ err }, 'could not resume tracking'));
  await flow.sweepIncoming();
  const sweeper = setInterval(() => void flow.sweepIncoming().catch(() => {}), SWEEP_EVERY_MS);
  sweeper.unref();

  // Long polling needs no webhook (bot.start() removes it too; the runner does not).
  await bot.api.deleteWebhook();
  const runner: RunnerHandle = run(bot, { runner: { fetch: { allowed_updates: ['message', 'callback_query'] } } });
  void runner.task()?.catch((err: unknown) => log.error({ err }, 'telegram polling stopped'));
  log.info({ username, apiRoot: tg.apiRoot, localMode: tg.localMode }, 'telegram bot polling');

  return {
    bot,
    flow,
    library,
    username,
    async close() {
      clearInterval(sweeper);
      flow.close();
      if (runner.isRunning()) await runner.stop().catch(() => {});
      await deliverer.close();
      ui.close();
    },
  };
}
