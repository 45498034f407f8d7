/**
 * Files for Discord messages, built as discord.js intends: one AttachmentBuilder per file, resolved
 * by MessagePayload.resolveFile (what MessagePayload#resolveFiles does for channel.send and
 * webhook.send) into the RawFile that the REST client uploads as the multipart part `files[n]`,
 * with the body's `attachments` entries that refer to them by index.
 *
 * Why the REST path stays (ui.ts): a message goes out through whichever of an interaction token
 * (a follow-up, or `@original`) or the channel can still carry it, and the tokens are kept in Redis
 * so that a restarted bot delivering a queued job keeps using them. discord.js's send methods hang
 * on live objects (an Interaction or InteractionWebhook, a cached TextChannel) that such a bot does
 * not have, and MessagePayload.create needs one as its target; so the body is ours and the files
 * are discord.js's.
 */
import { AttachmentBuilder, MessagePayload, type RawFile } from 'discord.js';

export interface Upload {
  files: RawFile[];
  /** The body's `attachments`: `id` is the index n of `files[n]`. */
  attachments: Array<{ id: number; filename: string; description?: string }>;
}

/** A file on disk under the name Discord shows (the name also gives Discord its content type). */
export const fileAttachment = (file: string, name: string): AttachmentBuilder => new AttachmentBuilder(file, { name });

export async function upload(...builders: AttachmentBuilder[]): Promise<Upload> {
  // discord.js's typings want an AttachmentPayload here (a builder's name is `string | null`); the
  // same fields, as MessagePayload#resolveFiles passes them at run time.
  const files = await Promise.all(builders.map((b) => MessagePayload.resolveFile({ attachment: b.attachment, name: b.name ?? undefined })));
  return {
    files,
    attachments: builders.map((b, id) => ({ id, filename: files[id].name, ...(b.description ? { description: b.description } : {}) })),
  };
}
