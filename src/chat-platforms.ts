/**
 * The chat platforms, by name: the one list the queue reads (who may request a job, which
 * delivery queues exist). Each name has a folder `src/bots/<name>/` and an entry in
 * `src/bots/platforms.ts`, which the type checker asks for. A leaf module: no imports, so the
 * queue can read it without loading any bot.
 */
export const CHAT_PLATFORMS = ['telegram', 'discord'] as const;
export type ChatPlatformName = (typeof CHAT_PLATFORMS)[number];

/** Who may request a job: a chat platform or the command line (which reads results itself). */
export const REQUESTER_PLATFORMS = ['cli', ...CHAT_PLATFORMS] as const;
