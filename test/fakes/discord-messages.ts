/**
 * Messages and attachments for the fake Discord server: the message object as API v10 returns it
 * (Resources → Message → Message Object), how a create / edit body with uploaded files turns into
 * one (Reference → Uploading Files, Resources → Message → Edit Message: in v10 `attachments` lists
 * every attachment the message keeps, by id for existing ones and by `files[n]` index for uploads),
 * and the attachment object (Resources → Message → Attachment Object).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { imageSize } from './telegram.js';
import { MessageFlag, isoTimestamp, snowflake, type DiscordUser } from './discord-model.js';
import { ErrorCollector, type FormErrors, type MessageBody } from './discord-validate.js';

export interface DiscordAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type?: string;
  description?: string;
  title?: string;
  width?: number;
  height?: number;
  duration_secs?: number;
  ephemeral?: boolean;
  [key: string]: unknown;
}

/** An attachment and where its bytes are. */
export interface StoredAttachment {
  json: DiscordAttachment;
  diskPath: string;
  channelId: string;
}

/** A message as the fake keeps it. */
export interface MessageRecord {
  id: string;
  channelId: string;
  guildId?: string;
  authorId: string;
  /** Sent by the bot (through the bot token or an interaction of the app). */
  fromBot: boolean;
  /** Only the interaction's user sees it; channel endpoints do not know it. */
  ephemeral: boolean;
  /** The interaction whose response or follow-up this is. */
  interactionId?: string;
  /** The message object as GET would return it now. */
  json: Record<string, unknown>;
  /** Earlier versions, oldest first. */
  history: Array<Record<string, unknown>>;
  deleted: boolean;
}

const MIME_BY_EXT: Record<string, string> = {
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  gif: 'image/gif',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  txt: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
  zip: 'application/zip',
  mp3: 'audio/mpeg',
};

/** Discord sets content_type from the file name, not from the part's header. */
export const contentTypeOf = (filename: string, fallback?: string): string | undefined =>
  MIME_BY_EXT[path.extname(filename).slice(1).toLowerCase()] ?? fallback;

/** Width / height of an image or video: Discord fills them in for both. */
export function mediaSize(file: string, contentType: string | undefined): { width?: number; height?: number } {
  try {
    if (contentType?.startsWith('image/')) return imageSize(file) ?? {};
    if (!contentType?.startsWith('video/')) return {};
    const out = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'json', file], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    const s = (JSON.parse(out.stdout || '{}') as { streams?: Array<{ width?: number; height?: number }> }).streams?.[0];
    return s?.width && s.height ? { width: s.width, height: s.height } : {};
  } catch {
    return {};
  }
}

/** Discord keeps letters, digits, `-_.` in attachment names and turns the rest into `_`. */
export const cleanFilename = (name: string): string => path.basename(name).replace(/[^\w.-]+/g, '_') || 'unknown';

/** The ids of Discord's component tree: every component gets a sequential `id` when it has none. */
function numberComponents(components: unknown): unknown {
  if (!Array.isArray(components)) return components;
  let next = 1;
  const walk = (c: unknown): unknown => {
    if (typeof c !== 'object' || c === null) return c;
    const copy: Record<string, unknown> = { ...(c as Record<string, unknown>) };
    copy.id ??= next;
    next = Math.max(next, Number(copy.id)) + 1;
    if (Array.isArray(copy.components)) copy.components = copy.components.map(walk);
    if (typeof copy.accessory === 'object' && copy.accessory !== null) copy.accessory = walk(copy.accessory);
    return copy;
  };
  return components.map(walk);
}

/** Embeds come back with `type: "rich"`, and `attachment://name` images point at the attachment. */
function normalizeEmbeds(embeds: unknown, attachments: DiscordAttachment[]): unknown[] {
  if (!Array.isArray(embeds)) return [];
  const resolve = (media: unknown): unknown => {
    if (typeof media !== 'object' || media === null) return media;
    const m = media as Record<string, unknown>;
    const ref = typeof m.url === 'string' && m.url.startsWith('attachment://') ? m.url.slice('attachment://'.length) : undefined;
    const att = ref ? attachments.find((a) => a.filename === ref) : undefined;
    return att ? { ...m, url: att.url, proxy_url: att.proxy_url, width: att.width, height: att.height, content_type: att.content_type } : m;
  };
  return embeds.map((e) => {
    const embed: Record<string, unknown> = { type: 'rich', ...(e as Record<string, unknown>) };
    if (embed.image) embed.image = resolve(embed.image);
    if (embed.thumbnail) embed.thumbnail = resolve(embed.thumbnail);
    return embed;
  });
}

/** An uploaded file waiting to become an attachment: `index` is n of its `files[n]` field. */
export interface PendingFile {
  index: string;
  filename: string;
  contentType: string;
  bytes: number;
  path: string;
}

/** Turns `files[n]` / `file` part names into the index the `attachments` array refers to. */
export const fileIndex = (field: string, position: number): string => /^files?\[(\d+)\]$/.exec(field)?.[1] ?? /^file(\d*)$/.exec(field)?.[1] ?? String(position);

export interface AttachmentFactory {
  (file: PendingFile, meta: { filename?: string; description?: string; title?: string }): StoredAttachment;
}

/**
 * The attachments a message ends up with. With an `attachments` array: exactly those it lists (kept
 * ones by id, new ones by file index), then any upload it did not mention; without: the existing ones
 * (on edit) plus every upload. Unknown ids are a 50035 error.
 */
export function resolveAttachments(
  body: MessageBody,
  files: PendingFile[],
  existing: DiscordAttachment[],
  make: AttachmentFactory,
): { attachments: DiscordAttachment[]; stored: StoredAttachment[]; errors?: FormErrors } {
  const stored: StoredAttachment[] = [];
  const used = new Set<string>();
  const add = (f: PendingFile, meta: Record<string, unknown>): DiscordAttachment => {
    used.add(f.index);
    const s = make(f, {
      filename: typeof meta.filename === 'string' ? meta.filename : undefined,
      description: typeof meta.description === 'string' ? meta.description : undefined,
      title: typeof meta.title === 'string' ? meta.title : undefined,
    });
    stored.push(s);
    return s.json;
  };
  const result: DiscordAttachment[] = [];
  if (!Array.isArray(body.attachments)) {
    result.push(...existing);
  } else {
    const c = new ErrorCollector();
    body.attachments.forEach((entry: unknown, i: number) => {
      const meta = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
      const id = String(meta.id ?? '');
      const upload = files.find((f) => f.index === id && !used.has(f.index));
      const kept = existing.find((a) => a.id === id);
      if (upload) result.push(add(upload, meta));
      else if (kept) result.push(kept);
      else c.add(['attachments', i, 'id'], 'ATTACHMENT_NOT_FOUND', `Unknown attachment ${id}`);
    });
    if (c.count) return { attachments: [], stored, errors: c.errors };
  }
  for (const f of files) if (!used.has(f.index)) result.push(add(f, {}));
  return { attachments: result, stored };
}

export interface NewMessage {
  channelId: string;
  guildId?: string;
  author: DiscordUser;
  body: MessageBody;
  attachments: DiscordAttachment[];
  /** Message type: 0 default, 19 reply, 20 chat input command, 23 context menu command. */
  type?: number;
  flags?: number;
  /** For interaction responses: the app id (the "webhook" that posted it). */
  webhookId?: string;
  interactionMetadata?: Record<string, unknown>;
  /** The deprecated `interaction` field (id, type, name, user). */
  interaction?: Record<string, unknown>;
}

const KEPT_FLAGS = MessageFlag.SUPPRESS_EMBEDS | MessageFlag.SUPPRESS_NOTIFICATIONS | MessageFlag.IS_COMPONENTS_V2;

/** A new message object. */
export function messageJson(m: NewMessage): Record<string, unknown> {
  const id = snowflake();
  const bodyFlags = typeof m.body.flags === 'number' ? m.body.flags & KEPT_FLAGS : 0;
  const json: Record<string, unknown> = {
    type: m.type ?? 0,
    content: typeof m.body.content === 'string' ? m.body.content : '',
    mentions: [],
    mention_roles: [],
    attachments: m.attachments,
    embeds: normalizeEmbeds(m.body.embeds, m.attachments),
    timestamp: isoTimestamp(Date.now()),
    edited_timestamp: null,
    flags: bodyFlags | (m.flags ?? 0),
    components: numberComponents(m.body.components ?? []),
    id,
    channel_id: m.channelId,
    author: m.author,
    pinned: false,
    mention_everyone: false,
    tts: false,
  };
  if (m.webhookId) {
    json.webhook_id = m.webhookId;
    json.application_id = m.webhookId;
  }
  if (m.interactionMetadata) json.interaction_metadata = m.interactionMetadata;
  if (m.interaction) json.interaction = m.interaction;
  return json;
}

/** Applies an edit body: only the fields sent change (Resources → Message → Edit Message). */
export function applyEdit(json: Record<string, unknown>, body: MessageBody, attachments: DiscordAttachment[]): Record<string, unknown> {
  const next: Record<string, unknown> = { ...json, attachments, edited_timestamp: isoTimestamp(Date.now()) };
  if ('content' in body) next.content = typeof body.content === 'string' ? body.content : '';
  if ('embeds' in body) next.embeds = normalizeEmbeds(body.embeds ?? [], attachments);
  if ('components' in body) next.components = numberComponents(body.components ?? []);
  const flags = Number(json.flags ?? 0);
  // An edit may toggle SUPPRESS_EMBEDS; ephemeral / components-v2 stay as they were; the loading state ends.
  let nextFlags = flags & ~MessageFlag.LOADING;
  if (typeof body.flags === 'number') nextFlags = (nextFlags & ~MessageFlag.SUPPRESS_EMBEDS) | (body.flags & MessageFlag.SUPPRESS_EMBEDS);
  next.flags = nextFlags;
  return next;
}

/** Discord refuses a message with nothing to show (50006). */
export function isEmptyMessage(json: Record<string, unknown>): boolean {
  const empty = (v: unknown): boolean => !Array.isArray(v) || v.length === 0;
  return json.content === '' && empty(json.embeds) && empty(json.attachments) && empty(json.components) && empty(json.sticker_items) && !json.poll;
}

/** Finds a component by custom_id anywhere in a message's component tree. */
export function findComponent(components: unknown, customId: string): Record<string, unknown> | undefined {
  if (!Array.isArray(components)) return undefined;
  for (const c of components) {
    if (typeof c !== 'object' || c === null) continue;
    const comp = c as Record<string, unknown>;
    if (comp.custom_id === customId) return comp;
    const inner = findComponent(comp.components, customId) ?? (comp.accessory ? findComponent([comp.accessory], customId) : undefined);
    if (inner) return inner;
  }
  return undefined;
}
