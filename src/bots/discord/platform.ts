/** Discord as a ChatPlatform (see ../platforms.ts); discord.js is loaded only when the bot starts. */
import type { ChatPlatform } from '../platforms.js';

export const discord: ChatPlatform = {
  name: 'discord',
  tokenSetting: 'DISCORD_TOKEN',
  enabled: (config) => Boolean(config.discord.token),
  start: async (service, log) => (await import('./bot.js')).startDiscordBot(service, log),
};
