/**
 * The background library as the bots show and change it: the gallery picture (/bg, and above each
 * menu) and the owners' /bg add and /bg remove.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { backgroundsDir, listBackgrounds, probeBackgroundFile, type BackgroundEntry } from '../backgrounds/library.js';
import { generateBackground, loopName, validBackgroundName } from '../backgrounds/generate.js';
import type { Config } from '../config/schema.js';
import { backgroundLabel, type Locale } from '../i18n/messages.js';
import type { ChatUi } from './chat-ui.js';
import type { BotLibrary } from './library-warmup.js';
import { botTexts, reasonText, type Rich } from './texts.js';

/** A library name: letters (any script), digits, spaces, _ and -, 1-40 characters; never a path. */
export { validBackgroundName };

type Caption = (labels: string[]) => string;

async function sendGalleryOf(ui: ChatUi, library: BotLibrary, chatId: string, entries: readonly BackgroundEntry[], caption: Caption, locale: Locale, replyTo?: string): Promise<void> {
  const file = await library.gallery(entries);
  await ui.sendPhoto(chatId, { file, caption: caption(entries.map((e) => backgroundLabel(e.name, locale))), locale, replyTo });
}

/** /bg: one picture of every background, numbered in the caption in menu order. */
export async function sendGallery(ui: ChatUi, library: BotLibrary, chatId: string, locale: Locale, replyTo?: string): Promise<void> {
  await sendGalleryOf(ui, library, chatId, await library.list(), botTexts(locale).gallery, locale, replyTo);
}

/**
 * The picture above a menu: the buttons carry only names, and a name says little about a
 * picture. A failure here costs the picture, never the menu.
 */
export async function sendMenuGallery(ui: ChatUi, library: BotLibrary, chatId: string, entries: readonly BackgroundEntry[], locale: Locale, replyTo: string | undefined, log: Logger): Promise<void> {
  if (entries.length === 0) return;
  try {
    await sendGalleryOf(ui, library, chatId, entries, botTexts(locale).menuGallery, locale, replyTo);
  } catch (err) {
    log.warn({ err }, 'menu gallery not sent');
  }
}

/**
 * /bg add NAME: a picture or video becomes a library background. ffprobe decides what it is (the
 * library's own probe, first frame decoded); the name is checked so it cannot be a path.
 */
export async function addBackground(config: Config, file: string, name: string, locale: Locale): Promise<Rich> {
  const t = botTexts(locale);
  try {
    if (!validBackgroundName(name)) return t.bgBadName;
    const probed = await probeBackgroundFile(file);
    const bgDir = backgroundsDir(config);
    await mkdir(bgDir, { recursive: true });
    const taken = (await listBackgrounds(bgDir)).some((b) => b.name.toLowerCase() === name.toLowerCase());
    if (taken) return t.bgExists(name);
    const ext = probed.kind === 'image' ? '.img' : '.video';
    await copyFile(file, path.join(bgDir, `${name}${ext}`));
    return t.bgAdded(name);
  } catch (err) {
    return t.failed(reasonText(err, locale));
  } finally {
    await rm(file, { force: true });
  }
}

/** /bg remove NAME: the library file of that name goes (a removed default stays removed). */
export async function removeBackground(config: Config, name: string, locale: Locale): Promise<Rich> {
  const t = botTexts(locale);
  const bgDir = backgroundsDir(config);
  const hit = (await listBackgrounds(bgDir)).find((b) => b.name.toLowerCase() === name.trim().toLowerCase());
  if (!hit) return t.failed(reasonText({ code: 'BACKGROUND_MISSING', params: { name } }, locale));
  await rm(hit.path, { force: true });
  return t.bgRemoved(hit.name);
}

/**
 * Pure: a library name from a prompt ("a neon city at night, rain" → "a neon city at night rain"):
 * letters, digits and spaces, at most 30 characters cut at a word, so that its "-loop" twin fits too.
 */
export function nameFromPrompt(prompt: string): string {
  const words = prompt.replace(/[^\p{L}\p{N} _-]+/gu, ' ').replace(/\s+/g, ' ').trim().replace(/^[ _-]+/, '');
  if (words.length <= 30) return words || 'generated';
  const cut = words.slice(0, 30);
  const space = cut.lastIndexOf(' ');
  return (space >= 10 ? cut.slice(0, space) : cut).trim();
}

/**
 * /bg generate PROMPT (owners): a picture from the Stable Diffusion server of config
 * backgrounds.generator becomes a library background (and its looping twin), named after the prompt.
 */
export async function generateFromChat(config: Config, prompt: string, locale: Locale, signal?: AbortSignal): Promise<Rich> {
  const t = botTexts(locale);
  if (!prompt.trim()) return t.bgUsage;
  try {
    const r = await generateBackground({ prompt, name: nameFromPrompt(prompt), config, signal });
    return t.bgAdded(r.loop ? `${r.image.name}, ${loopName(r.image.name)}` : r.image.name);
  } catch (err) {
    return t.failed(reasonText(err, locale));
  }
}
