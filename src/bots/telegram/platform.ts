/** Telegram as a ChatPlatform (see ../platforms.ts); grammY is loaded only when the bot starts. */
import type { ChatPlatform } from '../platforms.js';

export const telegram: ChatPlatform = {
  name: 'telegram',
  tokenSetting: 'TELEGRAM_BOT_TOKEN',
  enabled: (config) => Boolean(config.telegram.token),
  start: async (service, log) => (await import('./bot.js')).startTelegramBot(service, log),
};
