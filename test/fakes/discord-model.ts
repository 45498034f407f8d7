/**
 * Discord's data model for the fake Discord server (test/fakes/discord.ts): snowflakes, tokens,
 * permission bits, intents and the JSON shapes of users, members, roles, channels and guilds as
 * API v10 sends them (https://discord.com/developers/docs/resources/user,
 * .../resources/guild, .../resources/channel, .../topics/permissions).
 */
import { createHmac, randomBytes } from 'node:crypto';

/** Discord's epoch, the first second of 2015 (Reference → Snowflakes). */
export const DISCORD_EPOCH = 1420070400000n;

let increment = 0n;
/** A snowflake for `at` (ms): timestamp << 22 | worker 1 << 17 | process 0 << 12 | increment. */
export function snowflake(at = Date.now()): string {
  increment = (increment + 1n) & 0xfffn;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | increment).toString();
}

/** The time a snowflake was made, in ms. */
export const snowflakeTime = (id: string): number => Number((BigInt(id) >> 22n) + DISCORD_EPOCH);

/** A bot token shaped like Discord's: base64(user id) . base64(timestamp) . HMAC (Reference → Authentication). */
export function makeBotToken(botId: string): string {
  const b64 = (b: Buffer): string => b.toString('base64url');
  return `${b64(Buffer.from(botId))}.${b64(Buffer.from(Math.floor(Date.now() / 1000).toString(16)))}.${b64(randomBytes(27))}`;
}

/** Interaction tokens are opaque; real ones start with base64("interaction:"). */
export const makeInteractionToken = (interactionId: string): string =>
  `aW50ZXJhY3Rpb246${Buffer.from(`${interactionId}:`).toString('base64url')}${randomBytes(96).toString('base64url')}`;

/** The CDN signs attachment URLs (`ex`, `is`, `hm` query parameters) since 2024; unsigned URLs fail. */
export function signCdnPath(secret: string, pathname: string, issuedMs: number, lifetimeMs: number): string {
  const is = Math.floor(issuedMs / 1000).toString(16);
  const ex = Math.floor((issuedMs + lifetimeMs) / 1000).toString(16);
  const hm = createHmac('sha256', secret).update(`${pathname}|${ex}|${is}`).digest('hex');
  return `ex=${ex}&is=${is}&hm=${hm}&`;
}

export function checkCdnSignature(secret: string, pathname: string, query: URLSearchParams, now = Date.now()): boolean {
  const ex = query.get('ex');
  const is = query.get('is');
  const hm = query.get('hm');
  if (!ex || !is || !hm) return false;
  const want = createHmac('sha256', secret).update(`${pathname}|${ex}|${is}`).digest('hex');
  return want === hm && parseInt(ex, 16) * 1000 > now;
}

/** Permission bits (Topics → Permissions → Bitwise Permission Flags). */
export const Permission = {
  CREATE_INSTANT_INVITE: 1n << 0n,
  KICK_MEMBERS: 1n << 1n,
  BAN_MEMBERS: 1n << 2n,
  ADMINISTRATOR: 1n << 3n,
  MANAGE_CHANNELS: 1n << 4n,
  MANAGE_GUILD: 1n << 5n,
  ADD_REACTIONS: 1n << 6n,
  VIEW_CHANNEL: 1n << 10n,
  SEND_MESSAGES: 1n << 11n,
  MANAGE_MESSAGES: 1n << 13n,
  EMBED_LINKS: 1n << 14n,
  ATTACH_FILES: 1n << 15n,
  READ_MESSAGE_HISTORY: 1n << 16n,
  MENTION_EVERYONE: 1n << 17n,
  USE_EXTERNAL_EMOJIS: 1n << 18n,
  CHANGE_NICKNAME: 1n << 26n,
  USE_APPLICATION_COMMANDS: 1n << 31n,
  SEND_MESSAGES_IN_THREADS: 1n << 38n,
  USE_EXTERNAL_APPS: 1n << 50n,
} as const;

/** Every permission bit defined today (up to bit 51). */
export const ALL_PERMISSIONS = (1n << 52n) - 1n;

/** What @everyone gets in a new server (roughly Discord's default set). */
export const DEFAULT_EVERYONE_PERMISSIONS =
  Permission.CREATE_INSTANT_INVITE |
  Permission.ADD_REACTIONS |
  Permission.VIEW_CHANNEL |
  Permission.SEND_MESSAGES |
  Permission.EMBED_LINKS |
  Permission.ATTACH_FILES |
  Permission.READ_MESSAGE_HISTORY |
  Permission.USE_EXTERNAL_EMOJIS |
  Permission.CHANGE_NICKNAME |
  Permission.USE_APPLICATION_COMMANDS |
  Permission.SEND_MESSAGES_IN_THREADS |
  Permission.USE_EXTERNAL_APPS;

/** Gateway intents (Topics → Gateway → List of Intents). */
export const Intent = {
  GUILDS: 1 << 0,
  GUILD_MEMBERS: 1 << 1,
  GUILD_MESSAGES: 1 << 9,
  DIRECT_MESSAGES: 1 << 12,
  MESSAGE_CONTENT: 1 << 15,
  GUILD_PRESENCES: 1 << 8,
} as const;
/** Intents that must be switched on in the developer portal first. */
export const PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT;
/** Bits 0–25 are defined today; anything above is an invalid intent (close 4013). */
export const ALL_INTENTS = (1 << 26) - 1;

/** Channel types used here (Resources → Channel → Channel Types). */
export const ChannelType = { GUILD_TEXT: 0, DM: 1 } as const;

/** Interaction types (Interactions → Receiving and Responding → Interaction Type). */
export const InteractionType = { PING: 1, APPLICATION_COMMAND: 2, MESSAGE_COMPONENT: 3, AUTOCOMPLETE: 4, MODAL_SUBMIT: 5 } as const;

/** Interaction callback types (… → Interaction Callback Type). */
export const CallbackType = {
  PONG: 1,
  CHANNEL_MESSAGE_WITH_SOURCE: 4,
  DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: 5,
  DEFERRED_UPDATE_MESSAGE: 6,
  UPDATE_MESSAGE: 7,
  APPLICATION_COMMAND_AUTOCOMPLETE_RESULT: 8,
  MODAL: 9,
  PREMIUM_REQUIRED: 10,
  LAUNCH_ACTIVITY: 12,
} as const;

/** Message flags (Resources → Message → Message Flags). */
export const MessageFlag = {
  SUPPRESS_EMBEDS: 1 << 2,
  EPHEMERAL: 1 << 6,
  LOADING: 1 << 7,
  SUPPRESS_NOTIFICATIONS: 1 << 12,
  IS_COMPONENTS_V2: 1 << 15,
} as const;

/** Application command option types (Interactions → Application Commands → Option Type). */
export const OptionType = {
  SUB_COMMAND: 1,
  SUB_COMMAND_GROUP: 2,
  STRING: 3,
  INTEGER: 4,
  BOOLEAN: 5,
  USER: 6,
  CHANNEL: 7,
  ROLE: 8,
  MENTIONABLE: 9,
  NUMBER: 10,
  ATTACHMENT: 11,
} as const;

// ---------------------------------------------------------------------------------------------
// JSON shapes

export interface DiscordUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: string | null;
  bot?: boolean;
  public_flags: number;
  flags?: number;
  banner?: string | null;
  accent_color?: number | null;
  avatar_decoration_data?: null;
  primary_guild?: null;
  collectibles?: null;
}

export interface DiscordRole {
  id: string;
  name: string;
  color: number;
  colors: { primary_color: number; secondary_color: null; tertiary_color: null };
  hoist: boolean;
  icon: null;
  unicode_emoji: null;
  position: number;
  permissions: string;
  managed: boolean;
  mentionable: boolean;
  flags: number;
  tags?: { bot_id?: string };
}

export interface DiscordChannel {
  id: string;
  type: number;
  guild_id?: string;
  name?: string;
  position?: number;
  topic?: string | null;
  nsfw?: boolean;
  parent_id?: string | null;
  last_message_id: string | null;
  rate_limit_per_user?: number;
  permission_overwrites?: unknown[];
  flags: number;
  recipients?: DiscordUser[];
}

export interface MemberState {
  user: DiscordUser;
  nick: string | null;
  roles: string[];
  joined_at: string;
}

/** What the fake keeps per guild. */
export interface GuildState {
  id: string;
  name: string;
  ownerId: string;
  roles: DiscordRole[];
  channels: DiscordChannel[];
  members: Map<string, MemberState>;
  preferredLocale: string;
  /** Largest attachment a message here may carry (boost level: 10 / 50 / 100 MiB). */
  uploadLimitBytes: number;
  createdAt: number;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace('Z', '+00:00');
export const isoTimestamp = iso;

export function makeUser(p: { id?: string; username: string; globalName?: string | null; bot?: boolean }): DiscordUser {
  const user: DiscordUser = {
    id: p.id ?? snowflake(),
    username: p.username,
    global_name: p.globalName === undefined ? (p.bot ? null : p.username) : p.globalName,
    // Bots keep a 4-digit discriminator; migrated users have "0".
    discriminator: p.bot ? '4242' : '0',
    avatar: null,
    public_flags: 0,
    flags: 0,
    banner: null,
    accent_color: null,
    avatar_decoration_data: null,
    primary_guild: null,
    collectibles: null,
  };
  if (p.bot) user.bot = true;
  return user;
}

export function makeRole(p: { id: string; name: string; permissions: bigint; position: number; managed?: boolean; botId?: string }): DiscordRole {
  const role: DiscordRole = {
    id: p.id,
    name: p.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: p.position,
    permissions: p.permissions.toString(),
    managed: p.managed ?? false,
    mentionable: false,
    flags: 0,
  };
  if (p.botId) role.tags = { bot_id: p.botId };
  return role;
}

export function makeTextChannel(p: { id?: string; guildId: string; name: string; position: number }): DiscordChannel {
  return {
    id: p.id ?? snowflake(),
    type: ChannelType.GUILD_TEXT,
    guild_id: p.guildId,
    name: p.name,
    position: p.position,
    topic: null,
    nsfw: false,
    parent_id: null,
    last_message_id: null,
    rate_limit_per_user: 0,
    permission_overwrites: [],
    flags: 0,
  };
}

export function makeDmChannel(recipient: DiscordUser): DiscordChannel {
  return { id: snowflake(), type: ChannelType.DM, last_message_id: null, flags: 0, recipients: [recipient] };
}

/** A member's base permissions: @everyone | its roles; owners and administrators get everything. */
export function memberPermissions(guild: GuildState, userId: string): bigint {
  if (guild.ownerId === userId) return ALL_PERMISSIONS;
  const member = guild.members.get(userId);
  let bits = BigInt(guild.roles.find((r) => r.id === guild.id)?.permissions ?? '0');
  for (const roleId of member?.roles ?? []) bits |= BigInt(guild.roles.find((r) => r.id === roleId)?.permissions ?? '0');
  return bits & Permission.ADMINISTRATOR ? ALL_PERMISSIONS : bits;
}

/** The guild member object (Resources → Guild → Guild Member Object); `permissions` only in interactions. */
export function memberJson(member: MemberState, permissions?: bigint): Record<string, unknown> {
  const json: Record<string, unknown> = {
    user: member.user,
    nick: member.nick,
    avatar: null,
    banner: null,
    roles: member.roles,
    joined_at: member.joined_at,
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
  };
  if (permissions !== undefined) json.permissions = permissions.toString();
  return json;
}

/** GET /guilds/{id} (Resources → Guild → Guild Object); GUILD_CREATE adds the gateway-only fields. */
export function guildJson(guild: GuildState): Record<string, unknown> {
  return {
    id: guild.id,
    name: guild.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    banner: null,
    description: null,
    owner_id: guild.ownerId,
    region: 'deprecated',
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: guild.roles,
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: guild.channels[0]?.id ?? null,
    system_channel_flags: 0,
    rules_channel_id: null,
    max_members: 500000,
    max_presences: null,
    vanity_url_code: null,
    premium_tier: guild.uploadLimitBytes >= 100 * 1024 * 1024 ? 3 : guild.uploadLimitBytes >= 50 * 1024 * 1024 ? 2 : 0,
    premium_subscription_count: 0,
    preferred_locale: guild.preferredLocale,
    public_updates_channel_id: null,
    max_video_channel_users: 25,
    max_stage_video_channel_users: 50,
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    safety_alerts_channel_id: null,
  };
}

/** GUILD_CREATE's extra fields (Topics → Gateway Events → Guild Create). */
export function guildCreateJson(guild: GuildState, withMembers: boolean): Record<string, unknown> {
  return {
    ...guildJson(guild),
    joined_at: iso(guild.createdAt),
    large: false,
    unavailable: false,
    member_count: guild.members.size,
    voice_states: [],
    // Without GUILD_MEMBERS, only the bot itself (and members in voice) are sent.
    members: [...guild.members.values()].filter((m) => withMembers || m.user.bot).map((m) => memberJson(m)),
    channels: guild.channels,
    threads: [],
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
    lazy: true,
  };
}
