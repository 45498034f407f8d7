/**
 * Interactions, on discord.js's typed classes (Events.InteractionCreate). Every interaction is
 * acknowledged before any I/O: what its payload alone decides (not a video, too big, not allowed
 * to use an admin command) is answered at once; everything else is deferred first, and the
 * library, the user's limits and the download come after, so Discord's 3 s never depend on this
 * machine's load or on a first run's library.
 */
import { rm } from 'node:fs/promises';
import {
  MessageFlags,
  PermissionFlagsBits,
  type APIAttachment,
  type Attachment as DjsAttachment,
  type Collection,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type MessageContextMenuCommandInteraction,
  type RepliableInteraction,
  type StringSelectMenuInteraction,
} from 'discord.js';
import type { Logger } from 'pino';
import { backgroundLabel, type Locale } from '../../i18n/messages.js';
import type { Requester } from '../../queue/jobs.js';
import type { Service } from '../../service/context.js';
import { DownloadTooBig, downloadWithRetry } from '../download.js';
import type { BotFlow } from '../flow.js';
import type { MenuPreset } from '../chat-ui.js';
import type { BotLibrary } from '../library-warmup.js';
import { parseCallback } from '../menu.js';
import { botTexts, reasonText, type Rich } from '../texts.js';
import { autocompleteChoices, ENHANCE_MESSAGE_COMMAND } from './commands.js';
import { attachmentOf, checkAttachment, discordLocale, MB, scaleChoice, uploadLimitOf, videoAttachmentOf, type Attachment } from './parse.js';
import { fitContent } from './message-shapes.js';
import { toMarkdown } from './markup.js';
import type { DiscordUi, InteractionRef } from './ui.js';

export interface InteractionDeps {
  service: Service;
  flow: BotFlow;
  ui: DiscordUi;
  library: BotLibrary;
  log: Logger;
}

const EPHEMERAL = MessageFlags.Ephemeral;
const NO_MENTIONS = { parse: [] };

export function interactionHandler(d: InteractionDeps): (i: Interaction) => Promise<void> {
  const { service, flow, ui, library, log } = d;
  const dc = service.config.discord;
  const capBytes = dc.uploadLimitMb * MB;
  const downloadLimit = dc.downloadLimitMb * MB;

  const reply = (i: RepliableInteraction, text: Rich) => i.reply({ content: fitContent(toMarkdown(text)), flags: EPHEMERAL, allowedMentions: NO_MENTIONS });
  const refOf = (i: RepliableInteraction): InteractionRef => ({ applicationId: i.applicationId, token: i.token, expiresAt: Date.now() + dc.tokenLifetimeS * 1000, channelId: i.channelId ?? '' });
  const canManage = (i: RepliableInteraction) => i.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false;

  function requesterOf(i: RepliableInteraction, locale: Locale): Requester {
    return {
      platform: 'discord',
      chatId: i.channelId ?? '',
      ...(i.guildId ? { guildId: i.guildId } : {}),
      userId: i.user.id,
      userName: i.user.globalName ?? i.user.username,
      locale,
      // Where the result goes decides how big an upload may be.
      reply: { uploadLimit: String(uploadLimitOf(i.attachmentSizeLimit, capBytes)) },
    };
  }

  /** /enhance and "Enhance video": payload checks at once, then defer, library, limits, download, menu. */
  async function request(i: ChatInputCommandInteraction | MessageContextMenuCommandInteraction, locale: Locale, attachment: Attachment | undefined, preset: MenuPreset): Promise<void> {
    const t = botTexts(locale);
    const requester = requesterOf(i, locale);
    if (!attachment) return void (await reply(i, t.failed(reasonText({ code: 'NOT_A_VIDEO' }, locale))));
    const check = checkAttachment(attachment, downloadLimit);
    if (!check.ok) {
      const text = check.reason === 'not-video' ? t.failed(reasonText({ code: 'NOT_A_VIDEO' }, locale)) : t.failed(t.attachmentTooBig({ sizeMb: check.sizeMb, limitMb: dc.downloadLimitMb }));
      return void (await reply(i, text));
    }
    // Ephemeral while checking and downloading: a refusal found now stays between the bot and the user.
    await i.deferReply({ flags: EPHEMERAL });
    const handle = ui.open(refOf(i), locale, { holdPhoto: true });
    if (preset.background !== undefined) {
      const names = (await library.list()).map((e) => e.name);
      const hit = names.find((n) => n.toLowerCase() === preset.background!.toLowerCase());
      if (!hit) {
        const available = names.map((n) => backgroundLabel(n, locale)).join(', ');
        return void (await ui.note(handle, t.failed(reasonText({ code: 'BACKGROUND_MISSING', params: { name: preset.background, available } }, locale))));
      }
      preset = { ...preset, background: hit };
    }
    try {
      await flow.precheck(requester);
    } catch (err) {
      return void (await ui.note(handle, t.failed(reasonText(err, locale))));
    }
    await ui.note(handle, t.downloading);
    const target = await flow.incomingPath(attachment.filename);
    try {
      await downloadWithRetry(attachment.url, target, { limitBytes: downloadLimit, log });
    } catch (err) {
      await rm(target, { force: true });
      log.warn({ err: (err as Error).message, userId: requester.userId, interaction: i.id }, 'attachment download failed');
      await ui.note(handle, err instanceof DownloadTooBig ? t.failed(t.attachmentTooBig({ sizeMb: attachment.size / MB, limitMb: dc.downloadLimitMb })) : t.failed(t.attachmentDownloadFailed));
      return;
    }
    await flow.offerMenu({ requester, file: target, name: attachment.filename, replyTo: handle, preset });
  }

  async function messageCommand(i: MessageContextMenuCommandInteraction, locale: Locale): Promise<void> {
    if (i.commandName !== ENHANCE_MESSAGE_COMMAND) return;
    const t = botTexts(locale);
    // A message discord.js has not cached comes as the API object (an array of attachments).
    const list: unknown = i.targetMessage.attachments;
    const raw = Array.isArray(list) ? (list as APIAttachment[]) : [...(list as Collection<string, DjsAttachment>).values()];
    const attachments = raw.map(attachmentOf);
    const a = videoAttachmentOf(attachments);
    if (!a) return void (await reply(i, t.failed(attachments.length > 0 ? reasonText({ code: 'NOT_A_VIDEO' }, locale) : t.noVideoInMessage)));
    return request(i, locale, a, {});
  }

  async function slashCommand(i: ChatInputCommandInteraction, locale: Locale): Promise<void> {
    const t = botTexts(locale);
    const name = i.commandName;
    if (name === 'enhance') {
      const bg = i.options.getString('background')?.trim();
      const scale = scaleChoice(i.options.getString('scale'));
      const keep = i.options.getBoolean('keep_cutout');
      const model = i.options.getString('model');
      const matting = i.options.getString('matting');
      const preset: MenuPreset = {
        ...(model === 'general' || model === 'anime' ? { model } : {}),
        ...(matting ? { mattingModel: matting } : {}),
        ...(bg ? { background: bg, start: true } : {}),
        ...(scale.scale ? { scale: scale.scale } : scale.noUpscale ? { scale: 1 as const } : {}),
        ...(keep !== null ? { keepCutout: keep } : {}),
      };
      const video = i.options.getAttachment('video');
      return request(i, locale, video ? attachmentOf(video) : undefined, preset);
    }
    // The rest is for members with Manage Server; Discord hides them from others by default, but a
    // server's own command settings can show them, so the permission is checked here too.
    if (!canManage(i)) return void (await reply(i, t.manageServerOnly));
    const sub = i.options.getSubcommand(false);
    if (name === 'bg' && sub === 'generate') {
      await i.deferReply({ flags: EPHEMERAL });
      const handle = ui.open(refOf(i), locale);
      await ui.note(handle, t.bgGenerating);
      return void (await ui.note(handle, await flow.generateBackground(i.options.getString('prompt') ?? '', locale)));
    }
    if (name === 'stats' || name === 'queue' || (name === 'bg' && sub === 'remove')) {
      await i.deferReply({ flags: EPHEMERAL });
      const text = name === 'stats' ? await flow.statsText(locale) : name === 'queue' ? await flow.queueOverview(locale) : await flow.removeBackground(i.options.getString('name') ?? '', locale);
      return void (await ui.note(ui.open(refOf(i), locale), text));
    }
    if (name !== 'bg') return void (await reply(i, t.menuExpired));
    if (sub === 'list') {
      await i.deferReply();
      return flow.sendGallery(i.channelId, locale, ui.open(refOf(i), locale));
    }
    if (sub === 'add') {
      const file = i.options.getAttachment('file');
      const bgName = (i.options.getString('name') ?? '').trim();
      if (!file) return void (await reply(i, t.bgUsage));
      const a = attachmentOf(file);
      if (a.size > downloadLimit) return void (await reply(i, t.failed(t.attachmentTooBig({ sizeMb: a.size / MB, limitMb: dc.downloadLimitMb }))));
      await i.deferReply({ flags: EPHEMERAL });
      const handle = ui.open(refOf(i), locale);
      const target = await flow.incomingPath(a.filename);
      try {
        await downloadWithRetry(a.url, target, { limitBytes: downloadLimit, log });
      } catch {
        await rm(target, { force: true });
        return void (await ui.note(handle, t.failed(t.attachmentDownloadFailed)));
      }
      await ui.note(handle, await flow.addBackground(target, bgName, locale));
    }
  }

  async function component(i: ButtonInteraction | StringSelectMenuInteraction, locale: Locale): Promise<void> {
    const data = i.isStringSelectMenu() ? (i.values[0] ?? '') : i.customId;
    const cb = parseCallback(data);
    if (!cb) return void (await reply(i, botTexts(locale).menuExpired));
    // Acknowledged at once; the flow edits the message (a submit can take longer than 3 s).
    await i.deferUpdate();
    const ref = refOf(i);
    await ui.refresh(i.message.id, ref).catch((err: unknown) => log.warn({ err, interaction: i.id }, 'could not refresh the message token'));
    const result = await flow.press(cb, { userId: i.user.id, isAdmin: async () => canManage(i) }, locale).catch((err: unknown) => {
      log.error({ err, customId: i.customId, interaction: i.id }, 'button failed');
      return { text: reasonText(err, locale).slice(0, 190), alert: true };
    });
    if (result.text) await ui.ephemeral(ref, result.text);
  }

  async function autocomplete(i: AutocompleteInteraction, locale: Locale): Promise<void> {
    // Autocomplete cannot be deferred: the names of the last listing, or at most 1.5 s of waiting
    // for the first one; a fresh listing follows for the next keystroke.
    const fresh = library.list().then((l) => l.map((e) => e.name));
    fresh.catch((err: unknown) => log.warn({ err }, 'background list failed'));
    const known = library.knownNames();
    const names = known.length > 0 ? known : await Promise.race([fresh, new Promise<readonly string[]>((r) => setTimeout(() => r([]), 1500).unref())]);
    await i.respond(autocompleteChoices(names, String(i.options.getFocused()), (n) => backgroundLabel(n, locale)));
  }

  return async function handle(i: Interaction): Promise<void> {
    // The client's language, from the payload: no lookup before the acknowledgement.
    const locale = discordLocale(i.locale);
    const ilog = log.child({ interaction: i.id, userId: i.user.id, guildId: i.guildId });
    try {
      if (i.isAutocomplete()) await autocomplete(i, locale);
      else if (i.isChatInputCommand()) await slashCommand(i, locale);
      else if (i.isMessageContextMenuCommand()) await messageCommand(i, locale);
      else if (i.isButton() || i.isStringSelectMenu()) await component(i, locale);
    } catch (err) {
      ilog.error({ err }, 'discord interaction failed');
      if (!i.isRepliable()) return;
      // The user hears of it: a follow-up once acknowledged, else the answer itself.
      const content = fitContent(toMarkdown(botTexts(locale).failed(reasonText(err, locale))));
      const answer = i.deferred || i.replied ? i.followUp({ content, flags: EPHEMERAL, allowedMentions: NO_MENTIONS }) : i.reply({ content, flags: EPHEMERAL, allowedMentions: NO_MENTIONS });
      await answer.catch((e: unknown) => ilog.warn({ err: e }, 'could not tell the user'));
    }
  };
}
