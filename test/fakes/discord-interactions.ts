/**
 * Interaction payloads the fake Discord dispatches as INTERACTION_CREATE, built the way Discord
 * builds them (Interactions → Receiving and Responding → Interaction Object; Application Commands →
 * Application Command Interaction Data Option Structure; Message Components), from what a test says
 * a user did.
 *
 * Like Discord's client, the fake refuses what a user could not do: run a command the bot has not
 * registered, in a context it is not offered in, without its default_member_permissions; omit a
 * required option; pick a value outside the choices; press a component that is not on the message
 * or is disabled; choose select values that are not options.
 */
import {
  InteractionType,
  OptionType,
  Permission,
  memberJson,
  memberPermissions,
  makeInteractionToken,
  snowflake,
  type DiscordChannel,
  type DiscordUser,
  type GuildState,
} from './discord-model.js';
import { findComponent, type DiscordAttachment, type MessageRecord } from './discord-messages.js';

/** A registered application command, as Discord returns it. */
export interface ApplicationCommand {
  id: string;
  application_id: string;
  version: string;
  type: number;
  name: string;
  description: string;
  guild_id?: string;
  options?: CommandOption[];
  default_member_permissions: string | null;
  dm_permission?: boolean;
  contexts: number[] | null;
  integration_types: number[];
  nsfw: boolean;
  [key: string]: unknown;
}

export interface CommandOption {
  type: number;
  name: string;
  description: string;
  required?: boolean;
  choices?: Array<{ name: string; value: string | number }>;
  options?: CommandOption[];
  autocomplete?: boolean;
  min_value?: number;
  max_value?: number;
  min_length?: number;
  max_length?: number;
  [key: string]: unknown;
}

/** What the fake keeps per interaction. */
export interface InteractionState {
  id: string;
  token: string;
  type: number;
  channelId: string;
  guildId?: string;
  user: DiscordUser;
  /** Name of the command, or custom_id of the component. */
  name: string;
  commandType?: number;
  payload: Record<string, unknown>;
  dispatchedAt: number;
  /** Token lifetime end (ms): past it, webhook calls answer 401 50027. */
  expiresAt: number;
  acknowledged: boolean;
  response?: { type: number; data?: Record<string, unknown>; at: number };
  /** The message @original refers to (the reply, the deferred reply, or the component's message). */
  originalMessageId?: string;
  /** The message a component interaction came from. */
  sourceMessageId?: string;
  followupIds: string[];
}

/** The parts of the fake's state the builders read. */
export interface InteractionWorld {
  applicationId: string;
  botUser: DiscordUser;
  guilds: Map<string, GuildState>;
  channels: Map<string, DiscordChannel>;
  findCommand(name: string, type: number, guildId: string | undefined): ApplicationCommand | undefined;
  attachmentSizeLimit(channelId: string): number;
  dmChannel(user: DiscordUser): DiscordChannel;
  messageRecord(id: string): MessageRecord | undefined;
  tokenLifetimeMs: number;
}

/** Who does it, and where. */
export interface ActorInput {
  /** The user acting (a member of the guild is added if needed). */
  user: DiscordUser;
  /** Default: the fake's default channel (or the user's DM channel with `dm: true`). */
  channelId?: string;
  /** In the bot's DMs rather than a guild channel. */
  dm?: boolean;
  /** The user's permissions in the channel (member.permissions); default computed from roles. */
  memberPermissions?: bigint | string;
  /** The user's client language; default en-US. */
  locale?: string;
}

export type OptionValue = string | number | boolean | DiscordAttachment | DiscordUser | { id: string };

export interface CommandInput extends ActorInput {
  name: string;
  /** Values by option name (types come from the registered command), or raw option objects. */
  options?: Record<string, OptionValue> | Array<Record<string, unknown>>;
  /** Attachment options by name (same as putting them in `options`). */
  attachments?: Record<string, DiscordAttachment>;
  subcommand?: string;
  subcommandGroup?: string;
}

const DM_APP_PERMISSIONS =
  Permission.ADD_REACTIONS |
  Permission.VIEW_CHANNEL |
  Permission.SEND_MESSAGES |
  Permission.EMBED_LINKS |
  Permission.ATTACH_FILES |
  Permission.READ_MESSAGE_HISTORY |
  Permission.MENTION_EVERYONE |
  Permission.USE_EXTERNAL_EMOJIS |
  Permission.USE_APPLICATION_COMMANDS |
  Permission.USE_EXTERNAL_APPS;

/** Interaction context types: 0 guild, 1 bot DM, 2 private channel. */
const CONTEXT_GUILD = 0;
const CONTEXT_BOT_DM = 1;

interface Place {
  channel: DiscordChannel;
  guild?: GuildState;
}

function placeOf(world: InteractionWorld, actor: ActorInput, defaultChannelId: string): Place {
  if (actor.dm) return { channel: world.dmChannel(actor.user) };
  const channel = world.channels.get(actor.channelId ?? defaultChannelId);
  if (!channel) throw new Error(`fake Discord: no channel ${actor.channelId}`);
  const guild = channel.guild_id ? world.guilds.get(channel.guild_id) : undefined;
  if (guild && !guild.members.has(actor.user.id)) {
    guild.members.set(actor.user.id, { user: actor.user, nick: null, roles: [], joined_at: new Date().toISOString() });
  }
  return { channel, guild };
}

const permsOf = (place: Place, actor: ActorInput): bigint =>
  actor.memberPermissions !== undefined ? BigInt(actor.memberPermissions) : place.guild ? memberPermissions(place.guild, actor.user.id) : DM_APP_PERMISSIONS;

/** The partial channel object interactions carry, with the acting user's permissions. */
function channelPartial(place: Place, permissions: bigint): Record<string, unknown> {
  const { channel } = place;
  if (!place.guild) return { id: channel.id, type: channel.type, last_message_id: channel.last_message_id, flags: 0, recipients: channel.recipients };
  const { permission_overwrites: _drop, ...rest } = channel;
  return { ...rest, permissions: permissions.toString() };
}

/** The fields every interaction has (Interaction Object). */
function basePayload(world: InteractionWorld, type: number, place: Place, actor: ActorInput, data: unknown): Record<string, unknown> {
  const id = snowflake();
  const perms = permsOf(place, actor);
  const payload: Record<string, unknown> = {
    id,
    application_id: world.applicationId,
    type,
    data,
    channel: channelPartial(place, perms),
    channel_id: place.channel.id,
    token: makeInteractionToken(id),
    version: 1,
    app_permissions: (place.guild ? memberPermissions(place.guild, world.botUser.id) : DM_APP_PERMISSIONS).toString(),
    locale: actor.locale ?? 'en-US',
    entitlements: [],
    // Guild-installed app: key "0" (GUILD_INSTALL) is the guild id, or "0" in the bot's DMs.
    authorizing_integration_owners: { '0': place.guild?.id ?? '0' },
    context: place.guild ? CONTEXT_GUILD : CONTEXT_BOT_DM,
    attachment_size_limit: world.attachmentSizeLimit(place.channel.id),
  };
  if (place.guild) {
    payload.guild_id = place.guild.id;
    payload.guild = { id: place.guild.id, locale: place.guild.preferredLocale, features: [] };
    payload.guild_locale = place.guild.preferredLocale;
    payload.member = memberJson(place.guild.members.get(actor.user.id)!, perms);
  } else {
    payload.user = actor.user;
  }
  return payload;
}

export function newState(world: InteractionWorld, payload: Record<string, unknown>, user: DiscordUser, name: string): InteractionState {
  const now = Date.now();
  return {
    id: payload.id as string,
    token: payload.token as string,
    type: payload.type as number,
    channelId: payload.channel_id as string,
    guildId: payload.guild_id as string | undefined,
    user,
    name,
    payload,
    dispatchedAt: now,
    expiresAt: now + world.tokenLifetimeMs,
    acknowledged: false,
    followupIds: [],
  };
}

// ---------------------------------------------------------------------------------------------
// application commands

function lookUpCommand(world: InteractionWorld, name: string, type: number, place: Place, perms: bigint): ApplicationCommand {
  const cmd = world.findCommand(name, type, place.guild?.id);
  if (!cmd) throw new Error(`fake Discord: command "${name}" (type ${type}) is not registered for this ${place.guild ? 'guild' : 'DM'}`);
  const context = place.guild ? CONTEXT_GUILD : CONTEXT_BOT_DM;
  if (cmd.contexts && !cmd.contexts.includes(context)) throw new Error(`fake Discord: /${name} is not offered in context ${context}`);
  if (!place.guild && cmd.dm_permission === false && !cmd.contexts) throw new Error(`fake Discord: /${name} is not offered in DMs`);
  if (place.guild && cmd.default_member_permissions !== null && cmd.default_member_permissions !== undefined) {
    const need = BigInt(cmd.default_member_permissions);
    if ((perms & need) !== need && !(perms & Permission.ADMINISTRATOR)) throw new Error(`fake Discord: the user may not see /${name}`);
  }
  return cmd;
}

interface Resolved {
  users?: Record<string, unknown>;
  members?: Record<string, unknown>;
  channels?: Record<string, unknown>;
  roles?: Record<string, unknown>;
  attachments?: Record<string, unknown>;
  messages?: Record<string, unknown>;
}

function checkValue(def: CommandOption, value: unknown): void {
  const where = `option "${def.name}"`;
  if (def.choices?.length && !def.choices.some((c) => c.value === value)) throw new Error(`fake Discord: ${where} must be one of its choices`);
  if (typeof value === 'number') {
    if (def.type === OptionType.INTEGER && !Number.isInteger(value)) throw new Error(`fake Discord: ${where} must be an integer`);
    if (def.min_value !== undefined && value < def.min_value) throw new Error(`fake Discord: ${where} is below min_value`);
    if (def.max_value !== undefined && value > def.max_value) throw new Error(`fake Discord: ${where} is above max_value`);
  }
  if (typeof value === 'string') {
    const n = [...value].length;
    if (n > (def.max_length ?? 6000) || n < (def.min_length ?? 0)) throw new Error(`fake Discord: ${where} has a bad length`);
  }
}

/** One option as Discord sends it, adding what it references to `resolved`. */
function optionPayload(def: CommandOption, value: OptionValue, resolved: Resolved, place: Place, focused: boolean): Record<string, unknown> {
  const obj = typeof value === 'object' ? (value as { id: string }) : undefined;
  const out: Record<string, unknown> = { name: def.name, type: def.type };
  switch (def.type) {
    case OptionType.ATTACHMENT:
      if (!obj) throw new Error(`fake Discord: option "${def.name}" needs an attachment from addAttachment()`);
      (resolved.attachments ??= {})[obj.id] = { ...obj, ephemeral: true };
      out.value = obj.id;
      break;
    case OptionType.USER: {
      if (!obj) throw new Error(`fake Discord: option "${def.name}" needs a user`);
      (resolved.users ??= {})[obj.id] = obj;
      const m = place.guild?.members.get(obj.id);
      if (m && place.guild) {
        const { user: _u, ...member } = memberJson(m, memberPermissions(place.guild, obj.id));
        (resolved.members ??= {})[obj.id] = member;
      }
      out.value = obj.id;
      break;
    }
    case OptionType.CHANNEL:
    case OptionType.ROLE:
    case OptionType.MENTIONABLE:
      if (!obj) throw new Error(`fake Discord: option "${def.name}" needs an object with an id`);
      (def.type === OptionType.ROLE ? (resolved.roles ??= {}) : (resolved.channels ??= {}))[obj.id] = obj;
      out.value = obj.id;
      break;
    default:
      if (!focused) checkValue(def, value);
      out.value = value;
  }
  if (focused) out.focused = true;
  return out;
}

/** Typed options from values by name, checked against the registered definitions. */
function buildOptions(
  defs: CommandOption[] | undefined,
  values: Record<string, OptionValue>,
  resolved: Resolved,
  place: Place,
  focusedName?: string,
): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const def of defs ?? []) {
    const value = values[def.name];
    const focused = def.name === focusedName;
    if (value === undefined) {
      if (def.required && !focusedName) throw new Error(`fake Discord: required option "${def.name}" is missing`);
      continue;
    }
    out.push(optionPayload(def, value, resolved, place, focused));
  }
  const unknown = Object.keys(values).filter((k) => !(defs ?? []).some((d) => d.name === k));
  if (unknown.length) throw new Error(`fake Discord: unknown option(s) ${unknown.join(', ')}`);
  return out;
}

/** Wraps leaf options in the sub-command (group) the user picked. */
function nestOptions(cmd: ApplicationCommand, input: CommandInput, build: (defs: CommandOption[] | undefined) => Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  let defs = cmd.options;
  const wrap: Array<(inner: Array<Record<string, unknown>>) => Record<string, unknown>> = [];
  for (const [name, type] of [
    [input.subcommandGroup, OptionType.SUB_COMMAND_GROUP],
    [input.subcommand, OptionType.SUB_COMMAND],
  ] as const) {
    if (!name) continue;
    const def = defs?.find((d) => d.name === name && d.type === type);
    if (!def) throw new Error(`fake Discord: /${cmd.name} has no sub-command ${name}`);
    defs = def.options;
    wrap.push((inner) => ({ name, type, options: inner }));
  }
  let options = build(defs);
  for (const w of wrap.reverse()) options = [w(options)];
  return options;
}

function commandData(cmd: ApplicationCommand, options: Array<Record<string, unknown>> | undefined, resolved: Resolved): Record<string, unknown> {
  const data: Record<string, unknown> = { id: cmd.id, name: cmd.name, type: cmd.type };
  if (options?.length) data.options = options;
  if (Object.keys(resolved).length) data.resolved = resolved;
  if (cmd.guild_id) data.guild_id = cmd.guild_id;
  return data;
}

/** A CHAT_INPUT command (type 2 interaction, command type 1). */
export function slashCommandPayload(world: InteractionWorld, input: CommandInput, defaultChannelId: string): { payload: Record<string, unknown>; place: Place } {
  const place = placeOf(world, input, defaultChannelId);
  const cmd = lookUpCommand(world, input.name, 1, place, permsOf(place, input));
  const resolved: Resolved = {};
  if (Array.isArray(input.options)) {
    return { payload: basePayload(world, InteractionType.APPLICATION_COMMAND, place, input, commandData(cmd, input.options, resolved)), place };
  }
  const values: Record<string, OptionValue> = { ...(input.options ?? {}), ...(input.attachments ?? {}) };
  const options = nestOptions(cmd, input, (defs) => buildOptions(defs, values, resolved, place));
  return { payload: basePayload(world, InteractionType.APPLICATION_COMMAND, place, input, commandData(cmd, options, resolved)), place };
}

/** An AUTOCOMPLETE interaction (type 4): the options so far, one of them `focused`. */
export function autocompletePayload(
  world: InteractionWorld,
  input: CommandInput & { focused: string },
  defaultChannelId: string,
): Record<string, unknown> {
  const place = placeOf(world, input, defaultChannelId);
  const cmd = lookUpCommand(world, input.name, 1, place, permsOf(place, input));
  const values: Record<string, OptionValue> = { ...(input.options as Record<string, OptionValue> | undefined), ...(input.attachments ?? {}) };
  values[input.focused] ??= '';
  const options = nestOptions(cmd, input, (defs) => {
    const def = defs?.find((d) => d.name === input.focused);
    if (!def?.autocomplete) throw new Error(`fake Discord: option "${input.focused}" has no autocomplete`);
    return buildOptions(defs, values, {}, place, input.focused);
  });
  return basePayload(world, InteractionType.AUTOCOMPLETE, place, input, commandData(cmd, options, {}));
}

/** A MESSAGE context-menu command (type 2 interaction, command type 3) on `messageId`. */
export function messageCommandPayload(
  world: InteractionWorld,
  input: ActorInput & { name: string; messageId: string },
  defaultChannelId: string,
): Record<string, unknown> {
  const target = world.messageRecord(input.messageId);
  if (!target || target.deleted) throw new Error(`fake Discord: no message ${input.messageId}`);
  const place = placeOf(world, { ...input, channelId: input.channelId ?? target.channelId }, defaultChannelId);
  const cmd = lookUpCommand(world, input.name, 3, place, permsOf(place, input));
  const data = { ...commandData(cmd, undefined, { messages: { [target.id]: target.json } }), target_id: target.id };
  return basePayload(world, InteractionType.APPLICATION_COMMAND, place, { ...input, channelId: place.channel.id }, data);
}

export interface ComponentInput extends ActorInput {
  messageId: string;
  customId: string;
  /** For select menus: the chosen option values. */
  values?: string[];
}

/** A MESSAGE_COMPONENT interaction (type 3): a button press or a string-select choice. */
export function componentPayload(world: InteractionWorld, input: ComponentInput, defaultChannelId: string): Record<string, unknown> {
  const msg = world.messageRecord(input.messageId);
  if (!msg || msg.deleted) throw new Error(`fake Discord: no message ${input.messageId}`);
  const comp = findComponent(msg.json.components, input.customId);
  if (!comp) throw new Error(`fake Discord: message ${input.messageId} has no component "${input.customId}"`);
  if (comp.disabled === true) throw new Error(`fake Discord: component "${input.customId}" is disabled`);
  const data: Record<string, unknown> = { custom_id: input.customId, component_type: comp.type };
  if (typeof comp.id === 'number') data.id = comp.id;
  if (comp.type === 3) data.values = checkSelectValues(comp, input.values ?? []);
  else if (comp.type !== 2) data.values = input.values ?? [];
  const place = placeOf(world, { ...input, channelId: input.channelId ?? msg.channelId }, defaultChannelId);
  const payload = basePayload(world, InteractionType.MESSAGE_COMPONENT, place, { ...input, channelId: msg.channelId }, data);
  payload.message = msg.json;
  return payload;
}

function checkSelectValues(comp: Record<string, unknown>, values: string[]): string[] {
  const options = (comp.options as Array<{ value: string }> | undefined) ?? [];
  const min = typeof comp.min_values === 'number' ? comp.min_values : 1;
  const max = typeof comp.max_values === 'number' ? comp.max_values : 1;
  if (values.length < min || values.length > max) throw new Error(`fake Discord: choose between ${min} and ${max} values`);
  for (const v of values) if (!options.some((o) => o.value === v)) throw new Error(`fake Discord: "${v}" is not an option of the select menu`);
  return values;
}
