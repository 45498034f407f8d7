/**
 * Pure: reading Telegram messages. zod schemas for the parts of updates we use (grammY types them,
 * but the server is outside our control: a file without a size, a document without a MIME type),
 * and the small decisions the adapter makes about them.
 */
import { z } from 'zod';

export const mediaSchema = z.object({
  file_id: z.string().min(1),
  file_unique_id: z.string().optional(),
  file_size: z.number().int().nonnegative().optional(),
  file_name: z.string().optional(),
  mime_type: z.string().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  duration: z.number().optional(),
});
export type Media = z.infer<typeof mediaSchema>;

export const mediaMessageSchema = z
  .object({
    message_id: z.number().int(),
    caption: z.string().optional(),
    text: z.string().optional(),
    video: mediaSchema.optional(),
    animation: mediaSchema.optional(),
    document: mediaSchema.optional(),
    photo: z.array(mediaSchema).optional(),
  })
  .passthrough();
export type MediaMessage = z.infer<typeof mediaMessageSchema>;

export interface FoundMedia {
  media: Media;
  kind: 'video' | 'animation' | 'document';
  /** A name to show the user (never used as a path). */
  name: string;
}

/**
 * The file a message carries, if any: a video, an animation (Telegram's GIFs are MP4s), or a
 * document. A document is taken whatever its declared type: ffprobe decides what it really is.
 */
export function findMedia(msg: unknown): FoundMedia | null {
  const parsed = mediaMessageSchema.safeParse(msg);
  if (!parsed.success) return null;
  const m = parsed.data;
  if (m.video) return { media: m.video, kind: 'video', name: m.video.file_name || 'video.mp4' };
  if (m.animation) return { media: m.animation, kind: 'animation', name: m.animation.file_name || 'animation.mp4' };
  if (m.document) return { media: m.document, kind: 'document', name: m.document.file_name || 'file' };
  return null;
}

/** Whether a message is a photo (a clear "not a video" without downloading anything). */
export function isPhoto(msg: unknown): boolean {
  const parsed = mediaMessageSchema.safeParse(msg);
  return parsed.success && (parsed.data.photo?.length ?? 0) > 0;
}

/**
 * "/enhance", "/enhance@my_bot sunset" → { command: 'enhance', args: 'sunset' }. A command addressed
 * to another bot ("/enhance@other_bot") is not ours: null.
 */

/** Sizes are compared in bytes; limits are configured in MB (MiB, as Telegram means them). */
export const MB = 1024 * 1024;

export function overDownloadLimit(fileSize: number | undefined, limitMb: number, localMode: boolean): boolean {
  return !localMode && fileSize !== undefined && fileSize > limitMb * MB;
}

/** getChatMember statuses that may use anyone's menu. */
export function isAdminStatus(status: string | undefined): boolean {
  return status === 'administrator' || status === 'creator';
}
