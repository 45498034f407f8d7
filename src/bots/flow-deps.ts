/**
 * What every part of the flow stands on: the service, the platform's options and ChatUi, the
 * bots' Redis store. One object, built once per platform by BotFlow.
 */
import type { Logger } from 'pino';
import type { ChatPlatformName } from '../chat-platforms.js';
import type { Requester } from '../queue/jobs.js';
import type { Service } from '../service/context.js';
import type { ChatUi } from './chat-ui.js';
import type { BotLibrary } from './library-warmup.js';
import type { BotStore } from './sessions.js';

export interface FlowOptions {
  platform: ChatPlatformName;
  ui: ChatUi;
  /** Larger outputs are sent as a link. */
  uploadLimitBytes: number;
  /** Where the limit depends on the place (Discord: the interaction's attachment_size_limit). */
  uploadLimitFor?: (requester: Requester) => number;
  /**
   * Over the limit, a link message that carries the stats and buttons (Discord's embed and link
   * button) instead of the link text followed by a smaller preview.
   */
  linkWithStats?: boolean;
  pollIntervalMs: number;
  menuPageSize: number;
  /** Where downloads wait for their menu: on the data dir's disk, so a job imports them by rename. */
  incomingDir: string;
  /** The background library, warmed up once at start-up (see library-warmup.ts). */
  library: BotLibrary;
  log: Logger;
}

export interface FlowDeps {
  service: Service;
  opts: FlowOptions;
  ui: ChatUi;
  store: BotStore;
  log: Logger;
}

/** Where kept inputs wait for "Another background" (beside the downloads, swept on their own clock). */
export const keptDirOf = (opts: Pick<FlowOptions, 'incomingDir'>) => `${opts.incomingDir}-kept`;
