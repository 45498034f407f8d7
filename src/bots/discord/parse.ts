/**
 * Pure: what the bot reads of Discord's attachments and options, on discord.js's typed objects.
 * An attachment becomes our small `Attachment` (what the checks and the download need), whether
 * discord.js gives its Attachment class or, for a message it has not cached, the API object.
 */
import type { APIAttachment, Attachment as DjsAttachment } from 'discord.js';
import { localeFrom, type Locale } from '../../i18n/messages.js';

export const MB = 1024 * 1024;

/** Discord's default upload limit per attachment since January 2025, where an interaction says nothing. */
export const DEFAULT_UPLOAD_LIMIT_BYTES = 10 * MB;

export interface Attachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  content_type?: string;
}

export function attachmentOf(a: DjsAttachment | APIAttachment): Attachment {
  if ('filename' in a) return { id: a.id, filename: a.filename, size: a.size, url: a.url, ...(a.content_type ? { content_type: a.content_type } : {}) };
  return { id: a.id, filename: a.name, size: a.size, url: a.url, ...(a.contentType ? { content_type: a.contentType } : {}) };
}

/** Discord locales ("zh-CN", "zh-TW", "en-US", …) to ours: Chinese for both Chinese locales, else English. */
export function discordLocale(tag: string | undefined): Locale {
  return localeFrom(tag);
}

/** "x2" | "x4" | "none" → the job's options. */
export function scaleChoice(v: unknown): { scale?: 2 | 4; upscaleOnly?: false; noUpscale?: boolean } {
  if (v === 'x4') return { scale: 4 };
  if (v === 'x2') return { scale: 2 };
  if (v === 'none') return { noUpscale: true };
  return {};
}

export type AttachmentCheck = { ok: true } | { ok: false; reason: 'not-video' } | { ok: false; reason: 'too-big'; sizeMb: number };

/**
 * A first look at an attachment, before downloading it. The declared type is the uploader's claim,
 * so it only ever refuses what is clearly something else (a picture, a sound, a text); anything
 * else is downloaded and ffprobe decides.
 */
export function checkAttachment(a: Attachment, downloadLimitBytes: number): AttachmentCheck {
  const type = (a.content_type ?? '').toLowerCase().split(';')[0].trim();
  if (/^(image\/(?!gif$)|audio\/|text\/|font\/|model\/)/.test(type) || /^application\/(pdf|json|zip|x-zip-compressed|msword|vnd\.)/.test(type)) {
    return { ok: false, reason: 'not-video' };
  }
  if (a.size > downloadLimitBytes) return { ok: false, reason: 'too-big', sizeMb: a.size / MB };
  return { ok: true };
}

/** The first attachment of a message that may be a video (for the "Enhance video" message command). */
export function videoAttachmentOf(attachments: readonly Attachment[]): Attachment | undefined {
  return attachments.find((a) => /^video\//i.test(a.content_type ?? '')) ?? attachments.find((a) => checkAttachment(a, Infinity).ok);
}

/** The upload limit of the place an interaction came from, capped by the configuration. */
export function uploadLimitOf(attachmentSizeLimit: number | undefined, capBytes: number): number {
  return Math.min(attachmentSizeLimit ?? DEFAULT_UPLOAD_LIMIT_BYTES, capBytes);
}
