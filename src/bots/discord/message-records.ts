/**
 * Which token can edit each message the Discord bot made, kept in Redis (see ui.ts for why), so a
 * restarted bot keeps editing the same messages. Key: `${prefix}:bot:discord:msg:${messageId}`
 * (listed with the other bot keys in ../sessions.ts).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';

const RECORD_TTL_S = 14 * 24 * 3600;

const recordSchema = z.object({
  channelId: z.string(),
  /** How the message is edited while the token lives: as the interaction's reply, or as a follow-up. */
  via: z.enum(['original', 'followup', 'channel']),
  applicationId: z.string().optional(),
  token: z.string().optional(),
  expiresAt: z.number().optional(),
  /** A channel message that took over as this message after the token died. */
  replacement: z.string().optional(),
});
export type MessageRecord = z.infer<typeof recordSchema>;

export class MessageRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  private key(messageId: string): string {
    return `${this.keyPrefix}:msg:${messageId}`;
  }

  async get(messageId: string): Promise<MessageRecord | null> {
    const raw = await this.redis.get(this.key(messageId));
    if (!raw) return null;
    const parsed = recordSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }

  async save(messageId: string, rec: MessageRecord): Promise<void> {
    await this.redis.set(this.key(messageId), JSON.stringify(rec), 'EX', RECORD_TTL_S);
  }
}
