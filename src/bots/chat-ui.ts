/**
 * What the platform-neutral flow needs from a chat platform (ChatUi), and the shapes that cross
 * it. Every outgoing message carries its locale: a platform never guesses it from the text.
 */
import type { Locale } from '../i18n/messages.js';
import type { JobResult, Requester } from '../queue/jobs.js';
import type { Button } from './menu.js';
import type { Rich } from './rich.js';

export interface UiMessage {
  /** Platform-neutral (rich.ts): Telegram renders it as HTML, Discord as markdown. */
  text: Rich;
  /** The language the message is in (Discord's select placeholder, link labels). */
  locale: Locale;
  /** Inline buttons; an empty array removes them. */
  buttons?: Button[][];
  /** A result's timing, for platforms that show it apart from the text (Discord: an embed). */
  stats?: StatsInfo;
  /** A link button (Discord); platforms without one rely on the link written in `text`. */
  link?: { text: string; url: string };
}

/** What a stats caption is made of, for platforms that lay it out themselves. */
export interface StatsInfo {
  name: string;
  background: string;
  result: JobResult;
  locale: Locale;
  /** The line saying how it was delivered: as is, fitted to the limit, or link only. */
  delivery?: string;
  /** The signed link of the transparent cut-out (WebM), when the job exported one. */
  alphaLink?: string;
}

export interface VideoMessage {
  file: string;
  fileName: string;
  width: number;
  height: number;
  durationS: number;
  thumbnail?: string;
  caption: Rich;
  locale: Locale;
  replyTo?: string;
  buttons?: Button[][];
  stats?: StatsInfo;
  /** The signed download link of the full-quality file (Discord shows it as a button). */
  link?: string;
}

export interface PhotoMessage {
  file: string;
  caption: Rich;
  locale: Locale;
  replyTo?: string;
}

/** Thrown by ChatUi.sendVideo when the platform refuses the file for its size. */
export class UploadTooLargeError extends Error {}

/** What the flow needs from a chat platform. Edits are throttled and de-duplicated by the adapter. */
export interface ChatUi {
  /** `private`: a refusal meant for the requester only, where the platform can (Discord: ephemeral). */
  send(chatId: string, msg: UiMessage, opts?: { replyTo?: string; private?: boolean }): Promise<string>;
  /** Resolves once this text (or a newer one for the same message) is shown. */
  edit(chatId: string, messageId: string, msg: UiMessage): Promise<void>;
  sendVideo(chatId: string, video: VideoMessage): Promise<void>;
  sendPhoto(chatId: string, photo: PhotoMessage): Promise<void>;
}

export interface PressResult {
  /** A short answer to the press (a toast), or an alert when `alert`. */
  text?: string;
  alert?: boolean;
}

export interface Presser {
  userId: string;
  /** Asked only when the presser is not the requester (it costs an API call). */
  isAdmin(): Promise<boolean>;
}

/** Choices made with the request itself (Discord's command options). */
export interface MenuPreset {
  background?: string;
  scale?: 1 | 2 | 4;
  keepCutout?: boolean;
  model?: 'general' | 'anime';
  mattingModel?: string;
  /** Submit at once when a background is given: no menu. */
  start?: boolean;
}

export type { Requester };
