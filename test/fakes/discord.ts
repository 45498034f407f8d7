/**
 * A local fake of Discord (REST API v10, gateway, attachment CDN) for tests.
 *
 * The real discord.js client talks to it with ordinary configuration only:
 *
 *   const dc = await startFakeDiscord();
 *   const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: dc.apiBase } });
 *   await client.login(dc.token);
 *
 * discord.js asks `GET /api/v10/gateway/bot` for the gateway URL (`ws://127.0.0.1:PORT`) and connects
 * there (see discord-gateway.ts). What it does on the wire:
 * - REST: `Authorization: Bot <token>` on bot routes (else 401 `{ message: '401: Unauthorized', code: 0 }`);
 *   interaction callbacks and the interaction webhook routes need no auth, as on Discord. Errors are
 *   `{ message, code }` (Topics → Opcodes and Status Codes → JSON Error Codes), 50035 with an `errors`
 *   tree (discord-validate.ts). JSON or multipart bodies (`payload_json` + `files[n]`), uploads
 *   streamed to disk, over the place's upload limit → 413 40005.
 * - Rate limits (Topics → Rate Limits): every bot-route answer has `X-RateLimit-Limit / -Remaining /
 *   -Reset / -Reset-After / -Bucket`; a bucket over its limit answers 429 with `retry_after`
 *   (seconds, float) in the body and `Retry-After` (whole seconds) in the headers; `failNext` injects
 *   429s (per-route, shared or global) and other failures.
 * - Interactions (Interactions → Receiving and Responding): one callback per interaction within 3 s
 *   of the dispatch (else 404 10062 Unknown interaction), a second one 400 40060; the token then
 *   works for 15 minutes on `/webhooks/{app}/{token}` (then 401 50027 Invalid Webhook Token); webhook
 *   calls before the callback answer 404 10015 Unknown Webhook; the first follow-up after a deferred
 *   reply edits the deferred message, as the docs say.
 * - Channel messages: the bot edits only its own messages (403 50005), deletes others' only with
 *   MANAGE_MESSAGES (403 50013); ephemeral messages are unknown to channel routes (404 10008).
 * - CDN: `GET /attachments/{channel}/{id}/{filename}?ex&is&hm` serves attachments (the test's and
 *   the bot's uploads), with single Range requests; unsigned or expired URLs answer 404.
 *
 * The fake runs inside the test process: `vi.useFakeTimers()` would freeze it too.
 */
import { copyFileSync, createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { boundaryOf, parseMultipart, MultipartError } from './multipart.js';
import {
  CallbackType,
  DEFAULT_EVERYONE_PERMISSIONS,
  Intent,
  InteractionType,
  MessageFlag,
  Permission,
  checkCdnSignature,
  guildCreateJson,
  guildJson,
  makeBotToken,
  makeDmChannel,
  makeRole,
  makeTextChannel,
  makeUser,
  memberJson,
  memberPermissions,
  signCdnPath,
  snowflake,
  type DiscordChannel,
  type DiscordRole,
  type DiscordUser,
  type GuildState,
} from './discord-model.js';
import { FakeGateway, type GatewaySession } from './discord-gateway.js';
import {
  applyEdit,
  cleanFilename,
  contentTypeOf,
  fileIndex,
  isEmptyMessage,
  mediaSize,
  messageJson,
  resolveAttachments,
  type DiscordAttachment,
  type MessageRecord,
  type PendingFile,
  type StoredAttachment,
} from './discord-messages.js';
import { validateChoices, validateCommandList, validateMessage, ErrorCollector, type FormErrors, type MessageBody } from './discord-validate.js';
import {
  autocompletePayload,
  componentPayload,
  messageCommandPayload,
  newState,
  slashCommandPayload,
  type ActorInput,
  type ApplicationCommand,
  type CommandInput,
  type ComponentInput,
  type InteractionState,
  type InteractionWorld,
} from './discord-interactions.js';

export type { DiscordAttachment, MessageRecord } from './discord-messages.js';
export type { DiscordUser, DiscordChannel, DiscordRole, GuildState } from './discord-model.js';
export type { ApplicationCommand, InteractionState, CommandInput, ComponentInput, ActorInput } from './discord-interactions.js';
export { Permission, Intent, MessageFlag } from './discord-model.js';

const MiB = 1024 * 1024;

export interface FakeDiscordOptions {
  /** Bot token; default a random one shaped like Discord's. */
  token?: string;
  botUsername?: string;
  /** Application id; default the bot user's id (true of every app made since 2021). */
  applicationId?: string;
  /** Privileged intents switched on in the developer portal; default all three. */
  privilegedIntents?: number;
  /** HELLO's heartbeat_interval; default 41250 ms like Discord. */
  heartbeatIntervalMs?: number;
  /** Time to answer an interaction's callback; default 3000 ms. */
  interactionResponseWindowMs?: number;
  /** Interaction token lifetime; default 15 minutes. */
  interactionTokenLifetimeMs?: number;
  /** Upload limit of the default guild and DMs; default 10 MiB (no boosts). */
  uploadLimitBytes?: number;
  /** Per-bucket request limit and window for the X-RateLimit headers; default 50 per second. */
  rateLimit?: { limit: number; windowMs: number };
  /** How long signed CDN URLs stay valid; default 24 h. */
  cdnUrlLifetimeMs?: number;
  guildName?: string;
  /** Where files are kept; default a new temp dir, removed by close() unless `keepFiles`. */
  dir?: string;
  keepFiles?: boolean;
}

/** One REST request as the fake saw it. */
export interface DiscordCall {
  method: string;
  /** Path after `/api/v10`, without the query string. */
  path: string;
  /** The route with placeholders, e.g. `/webhooks/:app/:token/messages/:message`. */
  route: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** JSON body, or `payload_json` of a multipart body. */
  body: unknown;
  files: UploadRecord[];
  multipart: boolean;
  /** The Authorization header's token (without `Bot `), if any. */
  auth?: string;
  at: number;
  status: number;
  /** The JSON answered (undefined for 204). */
  response: unknown;
}

/** A file the bot uploaded. */
export interface UploadRecord {
  /** Multipart field name (`files[0]`). */
  field: string;
  filename: string;
  contentType: string;
  bytes: number;
  /** A copy on disk, kept until close(). */
  path: string;
  /** The attachment it became (absent when the request failed). */
  attachmentId?: string;
  messageId?: string;
  at: number;
}

/** A message as tests see it. */
export interface MessageView {
  id: string;
  channelId: string;
  content: string;
  embeds: Array<Record<string, unknown>>;
  components: Array<Record<string, unknown>>;
  attachments: DiscordAttachment[];
  flags: number;
  ephemeral: boolean;
  fromBot: boolean;
  edited: boolean;
  /** Number of edits so far. */
  edits: number;
  interactionId?: string;
  /** The full message object. */
  json: Record<string, unknown>;
}

export interface FailOptions {
  times?: number;
  /** For 429: seconds (float) in `retry_after`; default 0.25. */
  retryAfter?: number;
  /** For 429: a global rate limit (`global: true`, `X-RateLimit-Global`). */
  global?: boolean;
  /** For 429: `X-RateLimit-Scope`; default user (global when `global`). */
  scope?: 'user' | 'global' | 'shared';
  /** Error body code / message; defaults depend on the status. */
  code?: number;
  message?: string;
}

export interface DispatchedInteraction {
  id: string;
  token: string;
  payload: Record<string, unknown>;
}

export interface FakeDiscord {
  /** `http://127.0.0.1:PORT/api`: `new Client({ rest: { api: apiBase } })`. */
  apiBase: string;
  /** `ws://127.0.0.1:PORT`, what GET /gateway/bot returns. */
  gatewayUrl: string;
  /** `http://127.0.0.1:PORT`, the CDN's origin. */
  cdnBase: string;
  token: string;
  applicationId: string;
  botUser: DiscordUser;
  /** The default guild (owner `owner`), its text channel `channelId`. */
  guild: GuildState;
  guildId: string;
  channelId: string;
  owner: DiscordUser;
  dir: string;
  gateway: FakeGateway;

  // --- the world ---
  addUser(p: { username: string; id?: string; globalName?: string | null }): DiscordUser;
  addGuild(p: { name: string; owner?: DiscordUser; uploadLimitBytes?: number; channelName?: string }): GuildState;
  addChannel(guildId: string, name: string): DiscordChannel;
  addRole(guildId: string, p: { name: string; permissions: bigint }): DiscordRole;
  addMember(guildId: string, user: DiscordUser, p?: { roles?: string[]; nick?: string }): void;
  /** Replace the bot's managed role permissions in a guild. */
  setBotPermissions(guildId: string, permissions: bigint): void;
  setUploadLimit(guildId: string, bytes: number): void;
  /** The bot's DM channel with a user (made on first use). */
  dmChannel(user: DiscordUser): DiscordChannel;
  /** A file a user uploaded, served by the CDN; use it in slashCommand's attachments. */
  addAttachment(
    source: string | Buffer | { sizeBytes: number },
    meta: { filename: string; content_type?: string; channelId?: string; width?: number; height?: number },
  ): DiscordAttachment;
  /** A user posts a message (dispatched as MESSAGE_CREATE to sessions with the intent). */
  userMessage(p: { user: DiscordUser; channelId?: string; content?: string; attachments?: DiscordAttachment[] }): MessageView;

  // --- users acting ---
  slashCommand(p: CommandInput): DispatchedInteraction;
  messageCommand(p: ActorInput & { name: string; messageId: string }): DispatchedInteraction;
  autocomplete(p: CommandInput & { focused: string }): DispatchedInteraction;
  pressComponent(p: ComponentInput): DispatchedInteraction;

  // --- observing the bot ---
  calls: DiscordCall[];
  uploads: UploadRecord[];
  /** CDN downloads: attachment id, status, at. */
  downloads: Array<{ attachmentId: string; status: number; at: number }>;
  waitForCall(predicate: (c: DiscordCall) => boolean, timeoutMs?: number, opts?: { since?: number }): Promise<DiscordCall>;
  /** Current (not deleted) messages of a channel, oldest first, ephemeral ones included. */
  messages(channelId?: string): MessageView[];
  message(id: string): MessageView | undefined;
  interaction(id: string): InteractionState | undefined;
  interactionResponse(id: string): InteractionState['response'];
  waitForResponse(id: string, timeoutMs?: number): Promise<NonNullable<InteractionState['response']>>;
  /** Registered commands: global, or a guild's. */
  commands(guildId?: string): ApplicationCommand[];

  // --- misbehaving like the real one ---
  /** The next `times` requests matching fail with `status` (429 with proper rate-limit headers). */
  failNext(method: string, path: string | RegExp, status: number, opts?: FailOptions): void;
  /** End an interaction token's lifetime now. */
  expireInteraction(id: string): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// errors

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message));
  }
}

const err = (status: number, code: number, message: string): ApiError => new ApiError(status, { message, code });
const E = {
  unauthorized: () => err(401, 0, '401: Unauthorized'),
  notFound: () => err(404, 0, '404: Not Found'),
  methodNotAllowed: () => err(405, 0, '405: Method Not Allowed'),
  unknownApplication: () => err(404, 10002, 'Unknown Application'),
  unknownChannel: () => err(404, 10003, 'Unknown Channel'),
  unknownGuild: () => err(404, 10004, 'Unknown Guild'),
  unknownMember: () => err(404, 10007, 'Unknown Member'),
  unknownMessage: () => err(404, 10008, 'Unknown Message'),
  unknownUser: () => err(404, 10013, 'Unknown User'),
  unknownWebhook: () => err(404, 10015, 'Unknown Webhook'),
  unknownInteraction: () => err(404, 10062, 'Unknown interaction'),
  tooLarge: () => err(413, 40005, 'Request entity too large'),
  alreadyAcknowledged: () => err(400, 40060, 'Interaction has already been acknowledged.'),
  missingAccess: () => err(403, 50001, 'Missing Access'),
  cannotEditOthers: () => err(403, 50005, 'Cannot edit a message authored by another user'),
  emptyMessage: () => err(400, 50006, 'Cannot send an empty message'),
  missingPermissions: () => err(403, 50013, 'Missing Permissions'),
  invalidWebhookToken: () => err(401, 50027, 'Invalid Webhook Token'),
  invalidJson: () => err(400, 50109, 'The request body contains invalid JSON.'),
  invalidForm: (errors: FormErrors) => new ApiError(400, { message: 'Invalid Form Body', code: 50035, errors }),
};

const DEFAULT_FAIL: Record<number, [number, string]> = {
  400: [50035, 'Invalid Form Body'],
  401: [0, '401: Unauthorized'],
  403: [50013, 'Missing Permissions'],
  404: [0, '404: Not Found'],
  500: [0, '500: Internal Server Error'],
  502: [0, '502: Bad Gateway'],
  503: [0, '503: Service Unavailable'],
};

interface FailRule {
  method: string;
  path: string | RegExp;
  status: number;
  left: number;
  opts: FailOptions;
}

/** `:x` and `*` segments of a pattern match any one segment. */
function pathMatches(pattern: string | RegExp, actual: string, route: string): boolean {
  if (pattern instanceof RegExp) return pattern.test(actual);
  if (pattern === '*' || pattern === actual || pattern === route) return true;
  const p = pattern.split('/');
  const a = actual.split('/');
  return p.length === a.length && p.every((seg, i) => seg === '*' || seg.startsWith(':') || seg === a[i]);
}

function rateLimitError(opts: FailOptions): ApiError {
  const retryAfter = opts.retryAfter ?? 0.25;
  const scope = opts.global ? 'global' : (opts.scope ?? 'user');
  // Topics → Rate Limits → Exceeding A Rate Limit: float seconds in the body, whole in Retry-After.
  const headers: Record<string, string> = { 'retry-after': String(Math.ceil(retryAfter)), 'x-ratelimit-scope': scope };
  if (opts.global) headers['x-ratelimit-global'] = 'true';
  const body: Record<string, unknown> = { message: opts.message ?? 'You are being rate limited.', retry_after: retryAfter, global: !!opts.global };
  if (opts.code !== undefined) body.code = opts.code;
  return new ApiError(429, body, headers);
}

// ---------------------------------------------------------------------------------------------
// routes

type Auth = 'bot' | 'none';

interface Ctx {
  method: string;
  path: string;
  route: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  files: PendingFile[];
  call: DiscordCall;
}

interface Route {
  method: string;
  route: string;
  auth: Auth;
  segments: string[];
  handler: (ctx: Ctx) => Promise<Reply> | Reply;
}

interface Reply {
  status?: number;
  json?: unknown;
}

const ok = (json: unknown): Reply => ({ status: 200, json });
const noContent: Reply = { status: 204 };

// ---------------------------------------------------------------------------------------------

class FakeDiscordServer implements FakeDiscord, InteractionWorld {
  apiBase = '';
  gatewayUrl = '';
  cdnBase = '';
  readonly token: string;
  readonly applicationId: string;
  readonly botUser: DiscordUser;
  readonly owner: DiscordUser;
  guild!: GuildState;
  guildId = '';
  channelId = '';
  readonly dir: string;
  readonly gateway: FakeGateway;

  readonly users = new Map<string, DiscordUser>();
  readonly guilds = new Map<string, GuildState>();
  readonly channels = new Map<string, DiscordChannel>();
  private readonly dms = new Map<string, DiscordChannel>();
  private readonly messagesById = new Map<string, MessageRecord>();
  private readonly channelMessages = new Map<string, MessageRecord[]>();
  private readonly interactions = new Map<string, InteractionState>();
  private readonly interactionsByToken = new Map<string, InteractionState>();
  private readonly globalCommands: ApplicationCommand[] = [];
  private readonly guildCommands = new Map<string, ApplicationCommand[]>();
  private readonly attachments = new Map<string, StoredAttachment>();
  private readonly buckets = new Map<string, { count: number; resetAt: number }>();
  private readonly failures: FailRule[] = [];
  private readonly events = new EventEmitter();
  private readonly cdnSecret = randomBytes(16).toString('hex');
  private readonly routes: Route[] = [];
  private readonly server: http.Server;
  private seq = 0;
  private identifies = 0;

  readonly calls: DiscordCall[] = [];
  readonly uploads: UploadRecord[] = [];
  readonly downloads: Array<{ attachmentId: string; status: number; at: number }> = [];

  readonly tokenLifetimeMs: number;
  private readonly responseWindowMs: number;
  private readonly defaultUploadLimit: number;
  private readonly rate: { limit: number; windowMs: number };
  private readonly cdnLifetimeMs: number;

  constructor(private readonly opts: FakeDiscordOptions) {
    this.dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'fake-discord-'));
    for (const sub of ['uploads', 'cdn']) mkdirSync(path.join(this.dir, sub), { recursive: true });
    this.tokenLifetimeMs = opts.interactionTokenLifetimeMs ?? 15 * 60_000;
    this.responseWindowMs = opts.interactionResponseWindowMs ?? 3000;
    this.defaultUploadLimit = opts.uploadLimitBytes ?? 10 * MiB;
    this.rate = opts.rateLimit ?? { limit: 50, windowMs: 1000 };
    this.cdnLifetimeMs = opts.cdnUrlLifetimeMs ?? 24 * 3600_000;
    this.events.setMaxListeners(0);

    this.botUser = makeUser({ username: opts.botUsername ?? 'dancelift', bot: true });
    this.applicationId = opts.applicationId ?? this.botUser.id;
    this.token = opts.token ?? makeBotToken(this.botUser.id);
    this.owner = this.addUser({ username: 'owner' });
    this.users.set(this.botUser.id, this.botUser);
    this.guild = this.addGuild({ name: opts.guildName ?? 'Dance Club', owner: this.owner, uploadLimitBytes: this.defaultUploadLimit });
    this.guildId = this.guild.id;
    this.channelId = this.guild.channels[0]!.id;

    this.gateway = new FakeGateway({
      checkToken: (t) => t === this.token,
      privilegedIntents: opts.privilegedIntents ?? (Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT),
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 41250,
      readyPayload: (s) => this.readyPayload(s),
      guildCreates: (s) => {
        return s.intents & Intent.GUILDS ? [...this.guilds.values()].map((g) => guildCreateJson(g, !!(s.intents & Intent.GUILD_MEMBERS))) : [];
      },
      resumeUrl: () => `${this.gatewayUrl}/resume`,
    });
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.gateway.attach(this.server);
    this.defineRoutes();
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.cdnBase = `http://127.0.0.1:${port}`;
    this.apiBase = `${this.cdnBase}/api`;
    this.gatewayUrl = `ws://127.0.0.1:${port}`;
  }

  // --- the world -------------------------------------------------------------------------------

  addUser(p: { username: string; id?: string; globalName?: string | null }): DiscordUser {
    const user = makeUser(p);
    this.users.set(user.id, user);
    return user;
  }

  addGuild(p: { name: string; owner?: DiscordUser; uploadLimitBytes?: number; channelName?: string }): GuildState {
    const id = snowflake();
    const owner = p.owner ?? this.owner;
    const botRoleId = snowflake();
    const guild: GuildState = {
      id,
      name: p.name,
      ownerId: owner.id,
      roles: [
        makeRole({ id, name: '@everyone', permissions: DEFAULT_EVERYONE_PERMISSIONS, position: 0 }),
        makeRole({ id: botRoleId, name: this.botUser.username, permissions: DEFAULT_EVERYONE_PERMISSIONS | Permission.MANAGE_MESSAGES, position: 1, managed: true, botId: this.botUser.id }),
      ],
      channels: [],
      members: new Map(),
      preferredLocale: 'en-US',
      uploadLimitBytes: p.uploadLimitBytes ?? this.defaultUploadLimit,
      createdAt: Date.now(),
    };
    const joined = new Date().toISOString();
    guild.members.set(owner.id, { user: owner, nick: null, roles: [], joined_at: joined });
    guild.members.set(this.botUser.id, { user: this.botUser, nick: null, roles: [botRoleId], joined_at: joined });
    this.guilds.set(id, guild);
    this.addChannel(id, p.channelName ?? 'general');
    return guild;
  }

  addChannel(guildId: string, name: string): DiscordChannel {
    const guild = this.mustGuild(guildId);
    const channel = makeTextChannel({ guildId, name, position: guild.channels.length });
    guild.channels.push(channel);
    this.channels.set(channel.id, channel);
    return channel;
  }

  addRole(guildId: string, p: { name: string; permissions: bigint }): DiscordRole {
    const guild = this.mustGuild(guildId);
    const role = makeRole({ id: snowflake(), name: p.name, permissions: p.permissions, position: guild.roles.length });
    guild.roles.push(role);
    return role;
  }

  addMember(guildId: string, user: DiscordUser, p: { roles?: string[]; nick?: string } = {}): void {
    this.users.set(user.id, user);
    this.mustGuild(guildId).members.set(user.id, { user, nick: p.nick ?? null, roles: p.roles ?? [], joined_at: new Date().toISOString() });
  }

  setBotPermissions(guildId: string, permissions: bigint): void {
    const guild = this.mustGuild(guildId);
    const roleId = guild.members.get(this.botUser.id)!.roles[0]!;
    const role = guild.roles.find((r) => r.id === roleId)!;
    role.permissions = permissions.toString();
    // Without it, @everyone's permissions still apply; tests asking for less mean less.
    guild.roles.find((r) => r.id === guild.id)!.permissions = (permissions & DEFAULT_EVERYONE_PERMISSIONS).toString();
  }

  setUploadLimit(guildId: string, bytes: number): void {
    this.mustGuild(guildId).uploadLimitBytes = bytes;
  }

  dmChannel(user: DiscordUser): DiscordChannel {
    let ch = this.dms.get(user.id);
    if (!ch) {
      ch = makeDmChannel(user);
      this.dms.set(user.id, ch);
      this.channels.set(ch.id, ch);
      this.users.set(user.id, user);
    }
    return ch;
  }

  private mustGuild(id: string): GuildState {
    const g = this.guilds.get(id);
    if (!g) throw new Error(`fake Discord: no guild ${id}`);
    return g;
  }

  attachmentSizeLimit(channelId: string): number {
    const guildId = this.channels.get(channelId)?.guild_id;
    return guildId ? (this.guilds.get(guildId)?.uploadLimitBytes ?? this.defaultUploadLimit) : this.defaultUploadLimit;
  }

  /** Signed CDN URLs for an attachment (`url` on the CDN, `proxy_url` on the media proxy path). */
  private cdnUrls(channelId: string, id: string, filename: string): { url: string; proxy_url: string } {
    const p = `/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`;
    const sig = signCdnPath(this.cdnSecret, p, Date.now(), this.cdnLifetimeMs);
    return { url: `${this.cdnBase}${p}?${sig}`, proxy_url: `${this.cdnBase}/media${p}?${sig}` };
  }

  private storeAttachment(diskPath: string, channelId: string, meta: { filename: string; content_type?: string; description?: string; title?: string; width?: number; height?: number }): StoredAttachment {
    const id = snowflake();
    const filename = cleanFilename(meta.filename);
    const contentType = meta.content_type ?? contentTypeOf(filename);
    const size = statSync(diskPath).size;
    const json: DiscordAttachment = { id, filename, size, ...this.cdnUrls(channelId, id, filename) };
    if (contentType) json.content_type = contentType;
    if (meta.description) json.description = meta.description;
    if (meta.title) json.title = meta.title;
    const dims = meta.width && meta.height ? { width: meta.width, height: meta.height } : mediaSize(diskPath, contentType);
    if (dims.width && dims.height) Object.assign(json, dims);
    const stored: StoredAttachment = { json, diskPath, channelId };
    this.attachments.set(id, stored);
    return stored;
  }

  addAttachment(
    source: string | Buffer | { sizeBytes: number },
    meta: { filename: string; content_type?: string; channelId?: string; width?: number; height?: number },
  ): DiscordAttachment {
    const file = path.join(this.dir, 'cdn', `${++this.seq}-${cleanFilename(meta.filename)}`);
    if (typeof source === 'string') copyFileSync(source, file);
    else if (Buffer.isBuffer(source)) writeFileSync(file, source);
    else {
      writeFileSync(file, '');
      truncateSync(file, source.sizeBytes); // sparse: big files cost nothing
    }
    return this.storeAttachment(file, meta.channelId ?? this.channelId, meta).json;
  }

  userMessage(p: { user: DiscordUser; channelId?: string; content?: string; attachments?: DiscordAttachment[] }): MessageView {
    const channelId = p.channelId ?? this.channelId;
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`fake Discord: no channel ${channelId}`);
    if (channel.guild_id && !this.guilds.get(channel.guild_id)!.members.has(p.user.id)) this.addMember(channel.guild_id, p.user);
    const rec = this.storeMessage(
      messageJson({ channelId, author: p.user, body: { content: p.content ?? '' }, attachments: p.attachments ?? [] }),
      { authorId: p.user.id, fromBot: false, ephemeral: false },
    );
    this.dispatchMessageCreate(rec, channel);
    return this.view(rec);
  }

  /** MESSAGE_CREATE needs GUILD_MESSAGES / DIRECT_MESSAGES; content only with MESSAGE_CONTENT (or in DMs). */
  private dispatchMessageCreate(rec: MessageRecord, channel: DiscordChannel): void {
    const intent = channel.guild_id ? Intent.GUILD_MESSAGES : Intent.DIRECT_MESSAGES;
    for (const s of this.gateway.sessions.values()) {
      if (!(s.intents & intent)) continue;
      const seesContent = !channel.guild_id || s.intents & Intent.MESSAGE_CONTENT;
      const d: Record<string, unknown> = { ...rec.json, ...(channel.guild_id ? { guild_id: channel.guild_id } : {}) };
      if (!seesContent) Object.assign(d, { content: '', embeds: [], attachments: [], components: [] });
      if (channel.guild_id) d.member = memberJson(this.guilds.get(channel.guild_id)!.members.get(rec.authorId)!);
      this.gateway.dispatchTo(s, 'MESSAGE_CREATE', d);
    }
  }

  private readyPayload(_s: GatewaySession): Record<string, unknown> {
    this.identifies++;
    return {
      v: 10,
      user_settings: {},
      user: { ...this.botUser, verified: true, mfa_enabled: false, email: null },
      guilds: [...this.guilds.keys()].map((id) => ({ id, unavailable: true })),
      private_channels: [],
      relationships: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: ['local'],
      session_type: 'normal',
      application: { id: this.applicationId, flags: 1 << 23 /* GATEWAY_MESSAGE_CONTENT_LIMITED */ },
      _trace: ['["gateway-fake",{"micros":0}]'],
    };
  }

  // --- messages --------------------------------------------------------------------------------

  private storeMessage(json: Record<string, unknown>, p: { authorId: string; fromBot: boolean; ephemeral: boolean; interactionId?: string }): MessageRecord {
    const channelId = json.channel_id as string;
    const channel = this.channels.get(channelId);
    const rec: MessageRecord = { id: json.id as string, channelId, guildId: channel?.guild_id, json, history: [], deleted: false, ...p };
    this.messagesById.set(rec.id, rec);
    const list = this.channelMessages.get(channelId) ?? [];
    list.push(rec);
    this.channelMessages.set(channelId, list);
    if (channel && !rec.ephemeral) channel.last_message_id = rec.id;
    this.events.emit('change');
    return rec;
  }

  messageRecord(id: string): MessageRecord | undefined {
    return this.messagesById.get(id);
  }

  message(id: string): MessageView | undefined {
    const rec = this.messagesById.get(id);
    return rec && !rec.deleted ? this.view(rec) : undefined;
  }

  private view(rec: MessageRecord): MessageView {
    const j = rec.json;
    return {
      id: rec.id,
      channelId: rec.channelId,
      content: j.content as string,
      embeds: j.embeds as Array<Record<string, unknown>>,
      components: j.components as Array<Record<string, unknown>>,
      attachments: j.attachments as DiscordAttachment[],
      flags: j.flags as number,
      ephemeral: rec.ephemeral,
      fromBot: rec.fromBot,
      edited: j.edited_timestamp !== null,
      edits: rec.history.length,
      interactionId: rec.interactionId,
      json: j,
    };
  }

  messages(channelId = this.channelId): MessageView[] {
    return (this.channelMessages.get(channelId) ?? []).filter((m) => !m.deleted).map((m) => this.view(m));
  }

  /** Builds a message from a body + uploads, after validating it (50035 / 50006). */
  private composeMessage(
    ctx: Ctx,
    channelId: string,
    body: MessageBody,
    base: Omit<Parameters<typeof messageJson>[0], 'channelId' | 'body' | 'attachments'>,
  ): { json: Record<string, unknown>; stored: StoredAttachment[] } {
    const errors = validateMessage(body, ctx.files.length);
    if (errors) throw E.invalidForm(errors);
    const { attachments, stored, errors: attErrors } = resolveAttachments(body, ctx.files, [], (f, meta) => this.attachUpload(ctx, f, channelId, meta));
    if (attErrors) throw E.invalidForm(attErrors);
    const json = messageJson({ ...base, channelId, body, attachments });
    if (isEmptyMessage(json)) throw E.emptyMessage();
    return { json, stored };
  }

  private editMessage(ctx: Ctx, rec: MessageRecord, body: MessageBody): MessageRecord {
    const errors = validateMessage(body, ctx.files.length);
    if (errors) throw E.invalidForm(errors);
    const existing = rec.json.attachments as DiscordAttachment[];
    const { attachments, errors: attErrors } = resolveAttachments(body, ctx.files, existing, (f, meta) => this.attachUpload(ctx, f, rec.channelId, meta));
    if (attErrors) throw E.invalidForm(attErrors);
    const next = applyEdit(rec.json, body, attachments);
    if (isEmptyMessage(next)) throw E.emptyMessage();
    rec.history.push(rec.json);
    rec.json = next;
    this.linkUploads(ctx, rec.id);
    this.events.emit('change');
    return rec;
  }

  private attachUpload(ctx: Ctx, f: PendingFile, channelId: string, meta: { filename?: string; description?: string; title?: string }): StoredAttachment {
    const stored = this.storeAttachment(f.path, channelId, {
      filename: meta.filename ?? f.filename,
      content_type: contentTypeOf(meta.filename ?? f.filename, f.contentType),
      description: meta.description,
      title: meta.title,
    });
    const up = ctx.call.files.find((u) => u.path === f.path);
    if (up) up.attachmentId = stored.json.id;
    return stored;
  }

  private linkUploads(ctx: Ctx, messageId: string): void {
    for (const u of ctx.call.files) if (u.attachmentId) u.messageId = messageId;
  }

  // --- REST: routing ---------------------------------------------------------------------------

  private on(method: string, route: string, auth: Auth, handler: Route['handler']): void {
    this.routes.push({ method, route, auth, segments: route.split('/'), handler });
  }

  private match(method: string, p: string): { route?: Route; params: Record<string, string>; pathKnown: boolean } {
    const segs = p.split('/');
    let pathKnown = false;
    for (const r of this.routes) {
      if (r.segments.length !== segs.length) continue;
      const params: Record<string, string> = {};
      const hit = r.segments.every((s, i) => {
        if (s.startsWith(':')) {
          params[s.slice(1)] = segs[i]!;
          return segs[i] !== '';
        }
        return s === segs[i];
      });
      if (!hit) continue;
      pathKnown = true;
      if (r.method === method) return { route: r, params, pathKnown };
    }
    return { params: {}, pathKnown };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.cdnBase);
    try {
      if (req.method === 'GET' || req.method === 'HEAD') {
        const cdn = /^(?:\/media)?(\/attachments\/([^/]+)\/([^/]+)\/([^/]+))$/.exec(url.pathname);
        if (cdn) return this.serveCdn(req, res, cdn[1]!, cdn[3]!, url.searchParams);
      }
      const m = /^\/api(?:\/v(\d+))?(\/.*)$/.exec(url.pathname);
      if (!m) throw E.notFound();
      if (m[1] !== '10' && m[1] !== '9') throw err(400, 50041, 'Invalid API version provided');
      await this.handleApi(req, res, (req.method ?? 'GET').toUpperCase(), decodePath(m[2]!), url.searchParams);
    } catch (e) {
      await drain(req);
      const apiErr = e instanceof ApiError ? e : err(500, 0, '500: Internal Server Error');
      if (!(e instanceof ApiError)) console.error('fake Discord:', e);
      send(res, apiErr.status, apiErr.body, apiErr.headers);
    }
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, method: string, p: string, query: URLSearchParams): Promise<void> {
    const { route, params, pathKnown } = this.match(method, p);
    if (!route) throw pathKnown ? E.methodNotAllowed() : E.notFound();
    const auth = /^Bot\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    const call: DiscordCall = {
      method,
      path: p,
      route: route.route,
      params,
      query: Object.fromEntries(query),
      body: undefined,
      files: [],
      multipart: false,
      auth,
      at: Date.now(),
      status: 0,
      response: undefined,
    };
    let status = 500;
    let json: unknown;
    let headers: Record<string, string> = {};
    try {
      if (route.auth === 'bot' && auth !== this.token) throw E.unauthorized();
      // Interaction callbacks are not rate limited; bot routes and webhook routes are (Topics → Rate Limits).
      headers = route.route.endsWith('/callback') || route.route.startsWith('/gateway') ? {} : this.rateLimitHeaders(method, route, params);
      const { body, files } = await this.readBody(req, call, this.uploadLimitFor(params));
      call.body = body;
      this.injectedFailure(method, p, route.route);
      const reply = await route.handler({ method, path: p, route: route.route, params, query, body, files, call });
      status = reply.status ?? 200;
      json = reply.json;
    } catch (e) {
      await drain(req);
      if (!(e instanceof ApiError)) throw e;
      status = e.status;
      json = e.body;
      headers = { ...headers, ...e.headers };
    }
    call.status = status;
    call.response = json;
    this.calls.push(call);
    this.events.emit('call', call);
    send(res, status, json, headers);
  }

  /** X-RateLimit-* headers for a bucket (route + major parameter); over the limit → 429. */
  private rateLimitHeaders(method: string, route: Route, params: Record<string, string>): Record<string, string> {
    const major = params.channel ?? params.guild ?? params.token ?? params.app ?? '';
    const bucketHash = createHash('sha1').update(`${method} ${route.route}`).digest('hex').slice(0, 32);
    const key = `${bucketHash}:${major}`;
    const now = Date.now();
    let b = this.buckets.get(key);
    if (!b || b.resetAt <= now) {
      b = { count: 0, resetAt: now + this.rate.windowMs };
      this.buckets.set(key, b);
    }
    b.count++;
    const resetAfter = (b.resetAt - now) / 1000;
    const headers = {
      'x-ratelimit-limit': String(this.rate.limit),
      'x-ratelimit-remaining': String(Math.max(0, this.rate.limit - b.count)),
      'x-ratelimit-reset': (b.resetAt / 1000).toFixed(3),
      'x-ratelimit-reset-after': resetAfter.toFixed(3),
      'x-ratelimit-bucket': bucketHash,
    };
    if (b.count > this.rate.limit) {
      const e = rateLimitError({ retryAfter: Number(resetAfter.toFixed(3)) });
      throw new ApiError(429, e.body, { ...headers, ...e.headers });
    }
    return headers;
  }

  private injectedFailure(method: string, p: string, route: string): void {
    const i = this.failures.findIndex((f) => (f.method === '*' || f.method === method) && pathMatches(f.path, p, route));
    if (i < 0) return;
    const rule = this.failures[i]!;
    if (--rule.left <= 0) this.failures.splice(i, 1);
    if (rule.status === 429) throw rateLimitError(rule.opts);
    const [code, message] = DEFAULT_FAIL[rule.status] ?? [0, `${rule.status}: Error`];
    throw err(rule.status, rule.opts.code ?? code, rule.opts.message ?? message);
  }

  /** The upload limit of the place a request writes to (guild boost level or DM default). */
  private uploadLimitFor(params: Record<string, string>): number {
    if (params.channel) return this.attachmentSizeLimit(params.channel);
    const inter = params.token ? this.interactionsByToken.get(params.token) : params.interaction ? this.interactions.get(params.interaction) : undefined;
    return inter ? this.attachmentSizeLimit(inter.channelId) : this.defaultUploadLimit;
  }

  private async readBody(req: IncomingMessage, call: DiscordCall, limit: number): Promise<{ body: unknown; files: PendingFile[] }> {
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) return this.readMultipart(req, call, type, limit);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) return { body: undefined, files: [] };
    try {
      return { body: JSON.parse(text), files: [] };
    } catch {
      throw E.invalidJson();
    }
  }

  private async readMultipart(req: IncomingMessage, call: DiscordCall, type: string, limit: number): Promise<{ body: unknown; files: PendingFile[] }> {
    call.multipart = true;
    const boundary = boundaryOf(type);
    if (!boundary) throw E.invalidForm({ _errors: [{ code: 'MULTIPART_INVALID', message: 'Missing boundary' }] });
    let parsed;
    try {
      parsed = await parseMultipart(req, boundary, { dir: path.join(this.dir, 'uploads'), fileLimitBytes: limit, nextSeq: () => ++this.seq });
    } catch (e) {
      if (e instanceof MultipartError) throw E.invalidForm({ _errors: [{ code: 'MULTIPART_INVALID', message: e.message }] });
      throw e;
    }
    const at = Date.now();
    const files = parsed.files.map((f, i) => ({ index: fileIndex(f.field, i), filename: f.filename, contentType: f.contentType, bytes: f.bytes, path: f.path }));
    call.files = parsed.files.map((f) => ({ field: f.field, filename: f.filename, contentType: f.contentType, bytes: f.bytes, path: f.path, at }));
    this.uploads.push(...call.files);
    if (parsed.tooLarge) throw E.tooLarge();
    let body: unknown = undefined;
    const payload = parsed.fields.get('payload_json');
    if (payload !== undefined) {
      try {
        body = JSON.parse(payload);
      } catch {
        throw E.invalidJson();
      }
    } else if (parsed.fields.size) {
      body = Object.fromEntries(parsed.fields);
    }
    return { body, files };
  }

  // --- REST: the routes -------------------------------------------------------------------------

  private defineRoutes(): void {
    this.on('GET', '/gateway', 'none', () => ok({ url: this.gatewayUrl }));
    this.on('GET', '/gateway/bot', 'bot', () =>
      ok({
        url: this.gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: Math.max(0, 1000 - this.identifies), reset_after: 86_400_000, max_concurrency: 1 },
      }),
    );
    this.on('GET', '/users/@me', 'bot', () => ok({ ...this.botUser, verified: true, mfa_enabled: false, email: null, locale: 'en-US' }));
    this.on('GET', '/users/:user', 'bot', ({ params }) => ok(this.users.get(params.user!) ?? throwIt(E.unknownUser())));
    this.on('POST', '/users/@me/channels', 'bot', ({ body }) => {
      const user = this.users.get(String((body as { recipient_id?: unknown })?.recipient_id));
      if (!user) throw E.invalidForm({ recipient_id: { _errors: [{ code: 'NUMBER_TYPE_COERCE', message: 'Value is not snowflake.' }] } });
      return ok(this.dmChannel(user));
    });
    this.on('GET', '/applications/@me', 'bot', () => ok(this.applicationJson()));
    this.defineCommandRoutes();
    this.defineInteractionRoutes();
    this.defineChannelRoutes();
    this.defineGuildRoutes();
  }

  private applicationJson(): Record<string, unknown> {
    return {
      id: this.applicationId,
      name: this.botUser.username,
      icon: null,
      description: '',
      summary: '',
      type: null,
      bot: this.botUser,
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: randomBytes(32).toString('hex'),
      flags: 1 << 23,
      owner: this.owner,
      team: null,
      approximate_guild_count: this.guilds.size,
      installation_count: this.guilds.size,
      integration_types_config: { '0': {} },
      redirect_uris: [],
      interactions_endpoint_url: null,
      tags: [],
    };
  }

  private defineCommandRoutes(): void {
    const list = (params: Record<string, string>): ApplicationCommand[] => {
      if (params.app !== this.applicationId) throw E.unknownApplication();
      if (!params.guild) return this.globalCommands;
      if (!this.guilds.has(params.guild)) throw E.missingAccess();
      let l = this.guildCommands.get(params.guild);
      if (!l) this.guildCommands.set(params.guild, (l = []));
      return l;
    };
    for (const base of ['/applications/:app/commands', '/applications/:app/guilds/:guild/commands']) {
      this.on('GET', base, 'bot', ({ params }) => ok(list(params)));
      this.on('PUT', base, 'bot', ({ params, body }) => {
        const current = list(params);
        const errors = validateCommandList(body);
        if (errors) throw E.invalidForm(errors);
        const next = (body as Array<Record<string, unknown>>).map((c) => this.commandJson(c, current, params.guild));
        current.splice(0, current.length, ...next);
        return ok(next);
      });
      this.on('POST', base, 'bot', ({ params, body }) => {
        const current = list(params);
        const errors = validateCommandList([body]);
        if (errors) throw E.invalidForm((errors['0'] as FormErrors | undefined) ?? errors);
        const cmd = this.commandJson(body as Record<string, unknown>, current, params.guild);
        const i = current.findIndex((c) => c.id === cmd.id);
        if (i >= 0) current[i] = cmd;
        else current.push(cmd);
        return { status: i >= 0 ? 200 : 201, json: cmd };
      });
    }
  }

  /** A command as Discord stores it; the id is kept when a command of that type and name exists. */
  private commandJson(c: Record<string, unknown>, current: ApplicationCommand[], guildId?: string): ApplicationCommand {
    const type = (c.type as number | undefined) ?? 1;
    const same = current.find((x) => x.type === type && x.name === c.name);
    const cmd: ApplicationCommand = {
      id: same?.id ?? snowflake(),
      application_id: this.applicationId,
      version: snowflake(),
      type,
      name: c.name as string,
      description: (c.description as string | undefined) ?? '',
      default_member_permissions: (c.default_member_permissions as string | null | undefined) ?? null,
      contexts: (c.contexts as number[] | null | undefined) ?? null,
      integration_types: (c.integration_types as number[] | undefined) ?? [0],
      nsfw: (c.nsfw as boolean | undefined) ?? false,
    };
    if (c.name_localizations) cmd.name_localizations = c.name_localizations;
    if (c.description_localizations) cmd.description_localizations = c.description_localizations;
    if (Array.isArray(c.options) && c.options.length) cmd.options = c.options as ApplicationCommand['options'];
    if (guildId) cmd.guild_id = guildId;
    else cmd.dm_permission = (c.dm_permission as boolean | undefined) ?? true;
    return cmd;
  }

  findCommand(name: string, type: number, guildId: string | undefined): ApplicationCommand | undefined {
    const inGuild = guildId ? this.guildCommands.get(guildId)?.find((c) => c.name === name && c.type === type) : undefined;
    return inGuild ?? this.globalCommands.find((c) => c.name === name && c.type === type);
  }

  commands(guildId?: string): ApplicationCommand[] {
    return guildId ? [...(this.guildCommands.get(guildId) ?? [])] : [...this.globalCommands];
  }

  // --- interactions ----------------------------------------------------------------------------

  private dispatchInteraction(payload: Record<string, unknown>, user: DiscordUser, name: string, extra: Partial<InteractionState> = {}): DispatchedInteraction {
    if (this.gateway.sessions.size === 0) throw new Error('fake Discord: no gateway session to dispatch to (is the bot logged in?)');
    const state = { ...newState(this, payload, user, name), ...extra };
    this.interactions.set(state.id, state);
    this.interactionsByToken.set(state.token, state);
    this.gateway.dispatch('INTERACTION_CREATE', payload);
    return { id: state.id, token: state.token, payload };
  }

  slashCommand(p: CommandInput): DispatchedInteraction {
    const { payload } = slashCommandPayload(this, p, this.channelId);
    return this.dispatchInteraction(payload, p.user, p.name, { commandType: 1 });
  }

  messageCommand(p: ActorInput & { name: string; messageId: string }): DispatchedInteraction {
    return this.dispatchInteraction(messageCommandPayload(this, p, this.channelId), p.user, p.name, { commandType: 3 });
  }

  autocomplete(p: CommandInput & { focused: string }): DispatchedInteraction {
    return this.dispatchInteraction(autocompletePayload(this, p, this.channelId), p.user, p.name, { commandType: 1 });
  }

  pressComponent(p: ComponentInput): DispatchedInteraction {
    return this.dispatchInteraction(componentPayload(this, p, this.channelId), p.user, p.customId, { sourceMessageId: p.messageId });
  }

  interaction(id: string): InteractionState | undefined {
    return this.interactions.get(id);
  }

  interactionResponse(id: string): InteractionState['response'] {
    return this.interactions.get(id)?.response;
  }

  waitForResponse(id: string, timeoutMs = 5000): Promise<NonNullable<InteractionState['response']>> {
    return this.waitFor(() => this.interactions.get(id)?.response, timeoutMs, `a response to interaction ${id}`);
  }

  expireInteraction(id: string): void {
    const s = this.interactions.get(id);
    if (s) s.expiresAt = Date.now() - 1;
  }

  /** The interaction a webhook route's token belongs to: 401 50027 once expired or unknown. */
  private webhookInteraction(params: Record<string, string>, needAck = true): InteractionState {
    const s = this.interactionsByToken.get(params.token!);
    if (!s || Date.now() > s.expiresAt) throw E.invalidWebhookToken();
    if (params.app !== this.applicationId) throw E.unknownWebhook();
    if (needAck && !s.acknowledged) throw E.unknownWebhook();
    return s;
  }

  private defineInteractionRoutes(): void {
    this.on('POST', '/interactions/:interaction/:token/callback', 'none', (ctx) => this.callback(ctx));
    this.on('POST', '/webhooks/:app/:token', 'none', (ctx) => this.followup(ctx));
    const msgRoute = '/webhooks/:app/:token/messages/:message';
    this.on('GET', msgRoute, 'none', ({ params }) => ok(this.webhookMessage(params).json));
    this.on('PATCH', msgRoute, 'none', (ctx) => {
      const rec = this.webhookMessage(ctx.params);
      return ok(this.editMessage(ctx, rec, (ctx.body ?? {}) as MessageBody).json);
    });
    this.on('DELETE', msgRoute, 'none', ({ params }) => {
      this.deleteRecord(this.webhookMessage(params));
      return noContent;
    });
  }

  /** `@original` or one of the interaction's follow-ups (or, for components, the message it came from). */
  private webhookMessage(params: Record<string, string>): MessageRecord {
    const s = this.webhookInteraction(params);
    const id = params.message === '@original' ? s.originalMessageId : params.message;
    const mine = id !== undefined && (id === s.originalMessageId || s.followupIds.includes(id));
    const rec = mine ? this.messagesById.get(id) : undefined;
    if (!rec || rec.deleted) throw E.unknownMessage();
    return rec;
  }

  private interactionMessageFields(s: InteractionState): { type: number; webhookId: string; interactionMetadata: Record<string, unknown>; interaction: Record<string, unknown> } {
    const metadata: Record<string, unknown> = { id: s.id, type: s.type, user: s.user, authorizing_integration_owners: s.payload.authorizing_integration_owners };
    if (s.type === InteractionType.APPLICATION_COMMAND) Object.assign(metadata, { name: s.name, command_type: s.commandType });
    if (s.sourceMessageId) metadata.interacted_message_id = s.sourceMessageId;
    if (s.originalMessageId && s.response) metadata.original_response_message_id = s.originalMessageId;
    return {
      type: s.type === InteractionType.APPLICATION_COMMAND ? (s.commandType === 1 ? 20 : 23) : 0,
      webhookId: this.applicationId,
      interactionMetadata: metadata,
      interaction: { id: s.id, type: s.type, name: s.name, user: s.user },
    };
  }

  /** Callback types each interaction type accepts (Interaction Response Object → Callback Type). */
  private static readonly ALLOWED_CALLBACKS: Record<number, number[]> = {
    [InteractionType.APPLICATION_COMMAND]: [4, 5, 9, 10, 12],
    [InteractionType.MESSAGE_COMPONENT]: [4, 5, 6, 7, 9, 10],
    [InteractionType.AUTOCOMPLETE]: [8],
    [InteractionType.MODAL_SUBMIT]: [4, 5, 6, 7],
  };

  private callback(ctx: Ctx): Reply {
    const s = this.interactions.get(ctx.params.interaction!);
    if (!s || s.token !== ctx.params.token) throw E.unknownInteraction();
    if (s.acknowledged) throw E.alreadyAcknowledged();
    if (Date.now() - s.dispatchedAt > this.responseWindowMs) throw E.unknownInteraction();
    const body = (ctx.body ?? {}) as { type?: unknown; data?: Record<string, unknown> };
    const type = body.type as number;
    if (!FakeDiscordServer.ALLOWED_CALLBACKS[s.type]?.includes(type)) {
      throw E.invalidForm({ type: { _errors: [{ code: 'INTERACTION_RESPONSE_TYPE_INVALID', message: 'Interaction response type is invalid for this interaction' }] } });
    }
    const data = body.data ?? {};
    const message = this.applyCallback(ctx, s, type, data);
    s.acknowledged = true;
    s.response = { type, data, at: Date.now() };
    this.events.emit('change');
    if (ctx.query.get('with_response') !== 'true') return noContent;
    const rec = s.originalMessageId ? this.messagesById.get(s.originalMessageId) : undefined;
    const interaction: Record<string, unknown> = { id: s.id, type: s.type };
    if (rec && type !== CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT && type !== CallbackType.MODAL) {
      Object.assign(interaction, {
        response_message_id: rec.id,
        response_message_loading: type === CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
        response_message_ephemeral: rec.ephemeral,
      });
    }
    const resource: Record<string, unknown> = { type };
    if (message) resource.message = message.json;
    return ok({ interaction, resource });
  }

  /** Does what a callback type does; returns the message it made or changed (for with_response). */
  private applyCallback(ctx: Ctx, s: InteractionState, type: number, data: Record<string, unknown>): MessageRecord | undefined {
    const nested = (f: () => MessageRecord): MessageRecord => {
      try {
        return f();
      } catch (e) {
        // Errors in `data` are reported under "data" (the callback body's field).
        if (e instanceof ApiError && e.body.code === 50035) throw E.invalidForm({ data: e.body.errors as FormErrors });
        throw e;
      }
    };
    switch (type) {
      case CallbackType.CHANNEL_MESSAGE_WITH_SOURCE:
        return nested(() => this.createInteractionMessage(ctx, s, data, false));
      case CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
        return this.createInteractionMessage(ctx, s, data, true);
      case CallbackType.DEFERRED_UPDATE_MESSAGE:
        s.originalMessageId = s.sourceMessageId;
        return undefined;
      case CallbackType.UPDATE_MESSAGE: {
        s.originalMessageId = s.sourceMessageId;
        const rec = this.messagesById.get(s.sourceMessageId!)!;
        return nested(() => this.editMessage(ctx, rec, data as MessageBody));
      }
      case CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT: {
        const errors = validateChoices(data);
        if (errors) throw E.invalidForm({ data: errors });
        return undefined;
      }
      case CallbackType.MODAL: {
        const c = new ErrorCollector();
        c.length(['data', 'custom_id'], data.custom_id, 1, 100);
        c.length(['data', 'title'], data.title, 1, 45);
        c.items(['data', 'components'], data.components, 1, 5);
        if (c.count) throw E.invalidForm(c.errors);
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** The reply (type 4) or the "thinking…" placeholder (type 5). */
  private createInteractionMessage(ctx: Ctx, s: InteractionState, data: Record<string, unknown>, deferred: boolean): MessageRecord {
    const flags = typeof data.flags === 'number' ? data.flags : 0;
    const ephemeral = (flags & MessageFlag.EPHEMERAL) !== 0;
    const fields = this.interactionMessageFields(s);
    let json: Record<string, unknown>;
    if (deferred) {
      json = messageJson({ channelId: s.channelId, author: this.botUser, body: {}, attachments: [], ...fields, flags: MessageFlag.LOADING | (flags & MessageFlag.EPHEMERAL) });
    } else {
      json = this.composeMessage(ctx, s.channelId, data as MessageBody, { author: this.botUser, ...fields, flags: flags & MessageFlag.EPHEMERAL }).json;
    }
    const rec = this.storeMessage(json, { authorId: this.botUser.id, fromBot: true, ephemeral, interactionId: s.id });
    this.linkUploads(ctx, rec.id);
    s.originalMessageId = rec.id;
    return rec;
  }

  /** POST /webhooks/{app}/{token}: a follow-up; right after a deferred reply, it edits that reply. */
  private followup(ctx: Ctx): Reply {
    const s = this.webhookInteraction(ctx.params);
    const body = (ctx.body ?? {}) as MessageBody;
    const original = s.originalMessageId ? this.messagesById.get(s.originalMessageId) : undefined;
    const stillLoading = original && !original.deleted && (Number(original.json.flags) & MessageFlag.LOADING) !== 0;
    if (s.response?.type === CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE && stillLoading) {
      return ok(this.editMessage(ctx, original, body).json);
    }
    const flags = typeof body.flags === 'number' ? body.flags : 0;
    const ephemeral = (flags & MessageFlag.EPHEMERAL) !== 0;
    const fields = this.interactionMessageFields(s);
    const { json } = this.composeMessage(ctx, s.channelId, body, { author: this.botUser, ...fields, flags: flags & MessageFlag.EPHEMERAL });
    const rec = this.storeMessage(json, { authorId: this.botUser.id, fromBot: true, ephemeral, interactionId: s.id });
    this.linkUploads(ctx, rec.id);
    s.followupIds.push(rec.id);
    return ok(rec.json);
  }

  // --- channels and guilds ----------------------------------------------------------------------

  /** A channel the bot can see (404 10003 / 403 50001), and its permissions there. */
  private botChannel(id: string): { channel: DiscordChannel; perms: bigint } {
    const channel = this.channels.get(id);
    if (!channel) throw E.unknownChannel();
    if (!channel.guild_id) return { channel, perms: Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES | Permission.ATTACH_FILES | Permission.EMBED_LINKS | Permission.READ_MESSAGE_HISTORY };
    const perms = memberPermissions(this.guilds.get(channel.guild_id)!, this.botUser.id);
    if (!(perms & Permission.VIEW_CHANNEL)) throw E.missingAccess();
    return { channel, perms };
  }

  /** A non-ephemeral message of the channel (ephemeral ones do not exist for channel routes). */
  private channelMessage(channelId: string, messageId: string): MessageRecord {
    const rec = this.messagesById.get(messageId);
    if (!rec || rec.deleted || rec.ephemeral || rec.channelId !== channelId) throw E.unknownMessage();
    return rec;
  }

  private deleteRecord(rec: MessageRecord): void {
    rec.deleted = true;
    this.events.emit('change');
  }

  private defineChannelRoutes(): void {
    this.on('GET', '/channels/:channel', 'bot', ({ params }) => ok(this.botChannel(params.channel!).channel));
    this.on('POST', '/channels/:channel/typing', 'bot', ({ params }) => (this.botChannel(params.channel!), noContent));
    this.on('GET', '/channels/:channel/messages', 'bot', ({ params, query }) => {
      const { perms } = this.botChannel(params.channel!);
      if (!(perms & Permission.READ_MESSAGE_HISTORY)) return ok([]);
      const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 50)));
      const list = (this.channelMessages.get(params.channel!) ?? []).filter((m) => !m.deleted && !m.ephemeral);
      return ok(list.slice(-limit).reverse().map((m) => m.json));
    });
    this.on('POST', '/channels/:channel/messages', 'bot', (ctx) => {
      const { channel, perms } = this.botChannel(ctx.params.channel!);
      if (!(perms & Permission.SEND_MESSAGES)) throw E.missingPermissions();
      if (ctx.files.length && !(perms & Permission.ATTACH_FILES)) throw E.missingPermissions();
      const body = (ctx.body ?? {}) as MessageBody;
      const type = body.message_reference ? 19 : 0;
      const { json } = this.composeMessage(ctx, channel.id, body, { author: this.botUser, type });
      const rec = this.storeMessage(json, { authorId: this.botUser.id, fromBot: true, ephemeral: false });
      this.linkUploads(ctx, rec.id);
      return ok(rec.json);
    });
    const one = '/channels/:channel/messages/:message';
    this.on('GET', one, 'bot', ({ params }) => {
      const { perms } = this.botChannel(params.channel!);
      if (!(perms & Permission.READ_MESSAGE_HISTORY)) throw E.missingAccess();
      return ok(this.channelMessage(params.channel!, params.message!).json);
    });
    this.on('PATCH', one, 'bot', (ctx) => {
      this.botChannel(ctx.params.channel!);
      const rec = this.channelMessage(ctx.params.channel!, ctx.params.message!);
      if (rec.authorId !== this.botUser.id) throw E.cannotEditOthers();
      return ok(this.editMessage(ctx, rec, (ctx.body ?? {}) as MessageBody).json);
    });
    this.on('DELETE', one, 'bot', ({ params }) => {
      const { perms } = this.botChannel(params.channel!);
      const rec = this.channelMessage(params.channel!, params.message!);
      if (rec.authorId !== this.botUser.id && !(perms & Permission.MANAGE_MESSAGES)) throw E.missingPermissions();
      this.deleteRecord(rec);
      return noContent;
    });
  }

  private defineGuildRoutes(): void {
    const guild = (id: string): GuildState => this.guilds.get(id) ?? throwIt(E.unknownGuild());
    this.on('GET', '/guilds/:guild', 'bot', ({ params, query }) => {
      const g = guild(params.guild!);
      const json = guildJson(g);
      if (query.get('with_counts') === 'true') Object.assign(json, { approximate_member_count: g.members.size, approximate_presence_count: 0 });
      return ok(json);
    });
    this.on('GET', '/guilds/:guild/roles', 'bot', ({ params }) => ok(guild(params.guild!).roles));
    this.on('GET', '/guilds/:guild/channels', 'bot', ({ params }) => ok(guild(params.guild!).channels));
    this.on('GET', '/guilds/:guild/members/:user', 'bot', ({ params }) => {
      const m = guild(params.guild!).members.get(params.user!);
      if (!m) throw E.unknownMember();
      return ok(memberJson(m));
    });
  }

  // --- CDN ---------------------------------------------------------------------------------------

  private serveCdn(req: IncomingMessage, res: ServerResponse, pathname: string, id: string, query: URLSearchParams): void {
    const stored = this.attachments.get(id);
    const signed = stored && checkCdnSignature(this.cdnSecret, pathname, query);
    if (!stored || !signed) {
      this.downloads.push({ attachmentId: id, status: 404, at: Date.now() });
      res.writeHead(404, { 'content-type': 'text/plain' }).end('This content is no longer available.');
      return;
    }
    const size = statSync(stored.diskPath).size;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range && (range[1] || range[2])) {
      start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
    }
    const headers: Record<string, string> = {
      'content-type': stored.json.content_type ?? 'application/octet-stream',
      'content-length': String(end - start + 1),
      'accept-ranges': 'bytes',
      'cache-control': 'public, max-age=31536000',
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    this.downloads.push({ attachmentId: id, status, at: Date.now() });
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || size === 0) return void res.end();
    createReadStream(stored.diskPath, { start, end }).pipe(res);
  }

  // --- waiting -----------------------------------------------------------------------------------

  waitForCall(predicate: (c: DiscordCall) => boolean, timeoutMs = 5000, opts: { since?: number } = {}): Promise<DiscordCall> {
    let from = opts.since ?? 0;
    return this.waitFor(
      () => {
        for (; from < this.calls.length; from++) if (predicate(this.calls[from]!)) return this.calls[from];
        return undefined;
      },
      timeoutMs,
      'a matching call',
    );
  }

  /** Resolves with the first truthy `probe()`, re-checked on every call and state change. */
  private waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const first = probe();
    if (first !== undefined) return Promise.resolve(first);
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        const v = probe();
        if (v === undefined) return;
        cleanup();
        resolve(v);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake Discord: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.events.off('call', wake);
        this.events.off('change', wake);
      };
      this.events.on('call', wake);
      this.events.on('change', wake);
    });
  }

  // --- misbehaving -------------------------------------------------------------------------------

  failNext(method: string, p: string | RegExp, status: number, opts: FailOptions = {}): void {
    this.failures.push({ method: method.toUpperCase(), path: p, status, left: opts.times ?? 1, opts });
  }

  async close(): Promise<void> {
    await this.gateway.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if (!this.opts.keepFiles && !this.opts.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

/** Percent-decodes each segment (discord.js sends `%40original`) and drops a trailing slash. */
function decodePath(raw: string): string {
  const decoded = raw.split('/').map((seg) => {
    try {
      return decodeURIComponent(seg);
    } catch {
      return seg;
    }
  });
  return decoded.join('/').replace(/\/+$/, '') || '/';
}

function throwIt(e: Error): never {
  throw e;
}

async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  try {
    for await (const _ of req);
  } catch {
    // the client went away: nothing to answer
  }
}

function send(res: ServerResponse, status: number, json: unknown, headers: Record<string, string>): void {
  if (res.headersSent) return;
  if (status === 204 || json === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const body = JSON.stringify(json);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body);
}

/** Starts a fake Discord on 127.0.0.1 (a random port). */
export async function startFakeDiscord(opts: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const fake = new FakeDiscordServer(opts);
  await fake.listen();
  return fake;
}
