/**
 * Pure: reading Discord interactions. The bot reads the gateway's INTERACTION_CREATE payloads
 * itself (zod, below) rather than through discord.js's classes: it needs fields those classes do
 * not all expose the same way (attachment_size_limit, the raw permission bits), and a payload the
 * server changes must fail here, loudly, not deep inside a handler.
 */
import { z } from 'zod';
import { localeFrom, type Locale } from '../../i18n/messages.js';

export const MB = 1024 * 1024;

/** Discord's default upload limit per attachment since January 2025, where an interaction says nothing. */
export const DEFAULT_UPLOAD_LIMIT_BYTES = 10 * MB;

export const InteractionType = { Ping: 1, ApplicationCommand: 2, MessageComponent: 3, Autocomplete: 4, ModalSubmit: 5 } as const;
export const CommandType = { ChatInput: 1, User: 2, Message: 3 } as const;
export const OptionType = { SubCommand: 1, SubCommandGroup: 2, String: 3, Integer: 4, Boolean: 5, Attachment: 11 } as const;
export const ComponentType = { ActionRow: 1, Button: 2, StringSelect: 3 } as const;

/** Permission bits (strings of decimal digits on the wire). */
export const Permission = { Administrator: 1n << 3n, ManageGuild: 1n << 5n } as const;

export const attachmentSchema = z
  .object({
    id: z.string(),
    filename: z.string(),
    size: z.number().int().nonnegative(),
    url: z.string().url(),
    proxy_url: z.string().optional(),
    content_type: z.string().optional(),
    width: z.number().nullable().optional(),
    height: z.number().nullable().optional(),
    duration_secs: z.number().optional(),
  })
  .passthrough();
export type Attachment = z.infer<typeof attachmentSchema>;

export const userSchema = z
  .object({ id: z.string(), username: z.string(), global_name: z.string().nullable().optional(), bot: z.boolean().optional() })
  .passthrough();

const optionSchema: z.ZodType<CommandOption> = z.lazy(() =>
  z
    .object({
      name: z.string(),
      type: z.number().int(),
      value: z.union([z.string(), z.number(), z.boolean()]).optional(),
      focused: z.boolean().optional(),
      options: z.array(optionSchema).optional(),
    })
    .passthrough(),
);
export interface CommandOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  focused?: boolean;
  options?: CommandOption[];
}

export const messageSchema = z
  .object({
    id: z.string(),
    channel_id: z.string(),
    content: z.string().optional(),
    author: userSchema.optional(),
    attachments: z.array(attachmentSchema).default([]),
  })
  .passthrough();
export type DiscordMessage = z.infer<typeof messageSchema>;

export const interactionSchema = z
  .object({
    id: z.string(),
    application_id: z.string(),
    type: z.number().int(),
    token: z.string(),
    version: z.number().optional(),
    guild_id: z.string().optional(),
    channel_id: z.string().optional(),
    channel: z.object({ id: z.string() }).passthrough().optional(),
    member: z.object({ user: userSchema, permissions: z.string().optional() }).passthrough().optional(),
    user: userSchema.optional(),
    locale: z.string().optional(),
    guild_locale: z.string().optional(),
    app_permissions: z.string().optional(),
    attachment_size_limit: z.number().int().positive().optional(),
    message: messageSchema.optional(),
    data: z
      .object({
        /** A command's snowflake, or a component's numeric id within its message. */
        id: z.union([z.string(), z.number()]).optional(),
        name: z.string().optional(),
        type: z.number().int().optional(),
        options: z.array(optionSchema).optional(),
        target_id: z.string().optional(),
        resolved: z
          .object({
            attachments: z.record(attachmentSchema).optional(),
            messages: z.record(messageSchema).optional(),
          })
          .passthrough()
          .optional(),
        custom_id: z.string().optional(),
        component_type: z.number().int().optional(),
        values: z.array(z.string()).optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type Interaction = z.infer<typeof interactionSchema>;

/** The user behind an interaction: `member.user` in a server, `user` in a DM. */
export function interactionUser(i: Interaction): z.infer<typeof userSchema> {
  const u = i.member?.user ?? i.user;
  if (!u) throw new Error('interaction without a user');
  return u;
}

export function interactionChannel(i: Interaction): string {
  const id = i.channel?.id ?? i.channel_id;
  if (!id) throw new Error('interaction without a channel');
  return id;
}

/** Discord locales ("zh-CN", "zh-TW", "en-US", …) to ours: Chinese for both Chinese locales, else English. */
export function discordLocale(tag: string | undefined): Locale {
  return localeFrom(tag);
}

/** Manage Server (or Administrator, which implies every permission) in the bits Discord sent. */
export function canManageGuild(permissions: string | undefined): boolean {
  if (!permissions || !/^\d+$/.test(permissions)) return false;
  const bits = BigInt(permissions);
  return (bits & Permission.Administrator) !== 0n || (bits & Permission.ManageGuild) !== 0n;
}

/** The options of a chat command, with those of its subcommand (if any) flattened in. */
export function commandOptions(i: Interaction): { sub?: string; options: Map<string, CommandOption> } {
  const top = i.data?.options ?? [];
  const sub = top.find((o) => o.type === OptionType.SubCommand);
  const list = sub ? (sub.options ?? []) : top;
  return { ...(sub ? { sub: sub.name } : {}), options: new Map(list.map((o) => [o.name, o])) };
}

/** The attachment an option names, from `data.resolved`. */
export function resolvedAttachment(i: Interaction, optionValue: unknown): Attachment | undefined {
  return typeof optionValue === 'string' ? i.data?.resolved?.attachments?.[optionValue] : undefined;
}

/** A message command's target message (resolved in the payload). */
export function targetMessage(i: Interaction): DiscordMessage | undefined {
  const id = i.data?.target_id;
  return id ? i.data?.resolved?.messages?.[id] : undefined;
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
export function videoAttachmentOf(m: DiscordMessage | undefined): Attachment | undefined {
  if (!m) return undefined;
  return m.attachments.find((a) => /^video\//i.test(a.content_type ?? '')) ?? m.attachments.find((a) => checkAttachment(a, Infinity).ok);
}

/** The upload limit of the place an interaction came from, capped by the configuration. */
export function uploadLimitOf(i: Pick<Interaction, 'attachment_size_limit'>, capBytes: number): number {
  return Math.min(i.attachment_size_limit ?? DEFAULT_UPLOAD_LIMIT_BYTES, capBytes);
}
