/**
 * The ChatPlatform contract and the one registry of chat platforms. Adding a platform: its name in
 * src/chat-platforms.ts (what the queue knows), a folder src/bots/<name>/ with a `platform.ts` that
 * exports its ChatPlatform (and its ChatUi), and its line below. The bots role starts every entry
 * whose token is set; nothing else names a platform.
 */
import type { Logger } from 'pino';
import type { ChatPlatformName } from '../chat-platforms.js';
import type { Config } from '../config/schema.js';
import type { Service } from '../service/context.js';
import { discord } from './discord/platform.js';
import { telegram } from './telegram/platform.js';

export interface RunningBot {
  close(): Promise<void>;
}

export interface ChatPlatform {
  name: ChatPlatformName;
  /** The setting that enables it, named in messages (e.g. TELEGRAM_BOT_TOKEN). */
  tokenSetting: string;
  enabled(config: Config): boolean;
  /** Loads the platform's library only here, so a bot that is not configured costs nothing. */
  start(service: Service, log: Logger): Promise<RunningBot>;
}

export const chatPlatforms: Record<ChatPlatformName, ChatPlatform> = { telegram, discord };
