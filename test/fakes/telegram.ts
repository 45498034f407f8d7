/**
 * A local fake of the Telegram Bot API server, for tests.
 *
 * The real grammY client talks to it over HTTP exactly as to a self-hosted Bot API server:
 *
 *   const tg = await startFakeTelegram();
 *   const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
 *
 * What it does, on the wire (see https://core.telegram.org/bots/api):
 * - `/bot<token>/<method>` by GET or POST, with JSON, urlencoded or multipart/form-data bodies (and
 *   query-string parameters); method names are case-insensitive; `{ ok, result }` or
 *   `{ ok: false, error_code, description, parameters? }` with the same HTTP status (and a
 *   `Retry-After` header on 429). A malformed token answers 404 `Not Found`, a well-formed wrong one
 *   401 `Unauthorized`; unknown methods 404 `Not Found: method not found`.
 * - getUpdates long polling: `offset` confirms earlier updates (negative offsets too), `limit`,
 *   `timeout` holds the request until an update arrives, `allowed_updates` is remembered between calls
 *   (default: all but chat_member / message_reaction / message_reaction_count); a second poller
 *   terminates the first with 409 Conflict, as does polling while a webhook is set.
 * - Text and captions go through the same parsing as the real server (ported from TDLib, see
 *   telegram-markup.ts): plain text + entities come back in the Message, bad markup answers
 *   400 `Bad Request: can't parse entities: ...`; text is trimmed; limits of 4096 / 1024 characters.
 * - Inline keyboards are checked (callback_data 1-64 bytes, URL buttons by Telegram's link rules, no
 *   plain-text buttons); editing to identical content answers "message is not modified"; editing text
 *   without `reply_markup` drops the keyboard, as Telegram does.
 * - Files: uploads are streamed to disk and recorded; over `uploadLimitBytes` → 413
 *   `Request Entity Too Large`. Cloud mode: getFile gives a relative `file_path` downloadable from
 *   `/file/bot<token>/<file_path>`, and refuses files over 20 MB ("file is too big"). Local mode
 *   (`telegram-bot-api --local`): getFile gives an absolute path on disk, there is no download
 *   endpoint (the real server has none), no download limit, and the bot may send `/abs/path` or
 *   `file://` instead of uploading. HTTP URLs are fetched like Telegram does (20 MB, 5 MB for photos).
 *
 * The fake runs inside the test process: `vi.useFakeTimers()` would freeze its long polls too.
 */
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, openSync, readSync, closeSync, rmSync, statSync, copyFileSync, writeFileSync, truncateSync } from 'node:fs';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { boundaryOf, parseMultipart, MultipartError, type UploadedPart } from './multipart.js';
import {
  checkLink,
  codePointLength,
  EntityParseError,
  findEntities,
  mergeEntities,
  parseHtml,
  parseMarkdown,
  parseMarkdownV2,
  sortEntities,
  trimFormatted,
  type MessageEntity,
  type ParsedText,
} from './telegram-markup.js';

export type { MessageEntity } from './telegram-markup.js';

const MB = 1024 * 1024;

export interface FileDownload {
  filePath: string;
  /** How many Bot API calls had been made when the download was asked for. */
  callsBefore: number;
  done: boolean;
}

export interface FakeTelegramOptions {
  /** Bot token; default a random well-formed one (`<id>:<35 chars>`). */
  token?: string;
  /**
   * Behave like `telegram-bot-api --local`: getFile returns absolute paths (no download endpoint, no
   * 20 MB download limit), uploads up to 2000 MB, and `/absolute/path` or `file://` accepted as input
   * files.
   */
  localMode?: boolean;
  /** Largest accepted upload; default 50 MB (cloud) or 2000 MB (local mode). */
  uploadLimitBytes?: number;
  /** Largest file getFile serves in cloud mode; default 20 MB. Ignored in local mode. */
  downloadLimitBytes?: number;
  botUsername?: string;
  botFirstName?: string;
  /** Refuse unescaped `&` and `>` in HTML (Telegram tolerates them; its docs do not). Default true. */
  strictHtml?: boolean;
  /**
   * Group privacy mode (BotFather's default for new bots): in groups the bot only receives commands,
   * replies to its own messages and mentions of it, unless it is an admin. Default false (the bot
   * sees every group message, as after /setprivacy → Disable).
   */
  groupPrivacy?: boolean;
  /**
   * Opt-in flood control: editing the same message again sooner than this answers
   * 429 `Too Many Requests: retry after N` (N = `editRetryAfter`, default the seconds left, at least 1).
   */
  editMinIntervalMs?: number;
  editRetryAfter?: number;
  /** Where files are kept; default a new temp dir, removed by close() unless `keepFiles`. */
  dir?: string;
  keepFiles?: boolean;
}

export interface User {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

export interface Chat {
  id: number;
  type: 'private' | 'group' | 'supergroup' | 'channel';
  title?: string;
  username?: string;
  first_name?: string;
  last_name?: string;
  is_forum?: boolean;
}

/** A Bot API Message object, as JSON. */
export type Message = { message_id: number; chat: Chat; date: number; from?: User } & Record<string, unknown>;

export interface CallFile {
  /** Multipart part name (grammY: the id behind `attach://`), or the parameter for local paths / URLs. */
  field: string;
  filename: string;
  bytes: number;
  /** A copy on disk, kept until close(). */
  path: string;
}

export interface FakeCall {
  /** Canonical method name (`sendMessage`), whatever case the client used. */
  method: string;
  /** Parameters, with JSON-encoded fields decoded and numeric / boolean fields converted. */
  params: Record<string, unknown>;
  /** Parameters exactly as received (multipart / urlencoded values are strings). */
  rawParams: Record<string, unknown>;
  files: CallFile[];
  /** Date.now() when the request arrived. */
  at: number;
  status: number;
  /** The JSON body answered: `{ ok: true, result }` or `{ ok: false, error_code, description, ... }`. */
  response: unknown;
  /** Silent decisions the server took (e.g. a thumbnail it ignored). */
  notes: string[];
}

export interface ChatMessageRecord {
  message_id: number;
  from_bot: boolean;
  from?: User;
  /** Text as the user sees it (markup parsed away). */
  text?: string;
  caption?: string;
  entities?: MessageEntity[];
  caption_entities?: MessageEntity[];
  /** Text / caption exactly as the bot sent it (with its markup). */
  raw_text?: string;
  raw_caption?: string;
  parse_mode?: string;
  /** The current inline keyboard. */
  reply_markup?: { inline_keyboard: InlineButton[][] };
  /** A reply keyboard / remove / force_reply sent with the message (Telegram does not echo these). */
  keyboard?: unknown;
  video?: Record<string, unknown>;
  photo?: Array<Record<string, unknown>>;
  document?: Record<string, unknown>;
  animation?: Record<string, unknown>;
  reply_to_message_id?: number;
  edits: number;
  edit_times: number[];
  reactions?: unknown;
  /** The full Message object as the Bot API would return it now. */
  message: Message;
}

export interface InlineButton {
  text: string;
  callback_data?: string;
  url?: string;
  [key: string]: unknown;
}

export interface AnsweredCallback {
  id: string;
  text?: string;
  show_alert?: boolean;
  url?: string;
  cache_time?: number;
}

export interface FakeApiError {
  error_code: number;
  description: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

export interface FileMeta {
  name?: string;
  mime?: string;
  width?: number;
  height?: number;
  duration?: number;
}

export interface UserMessageInput {
  chat: Chat;
  from: User;
  text?: string;
  caption?: string;
  entities?: MessageEntity[];
  caption_entities?: MessageEntity[];
  video?: { file_id: string; width?: number; height?: number; duration?: number; mime_type?: string; file_name?: string };
  document?: { file_id: string; file_name?: string; mime_type?: string };
  animation?: { file_id: string; width?: number; height?: number; duration?: number; mime_type?: string; file_name?: string };
  /** A file_id (sizes are made from the image), or PhotoSize objects as they should appear. */
  photo?: string | { file_id: string } | Array<{ file_id: string; width: number; height: number; file_size?: number }>;
  reply_to_message_id?: number;
  date?: number;
  /** Anything else to put in the Message (forward_origin, media_group_id, ...). */
  extra?: Record<string, unknown>;
}

export interface FakeTelegram {
  /** `http://127.0.0.1:PORT`, no trailing slash: `new Bot(token, { client: { apiRoot } })`. */
  apiRoot: string;
  token: string;
  botUser: { id: number; is_bot: true; first_name: string; username: string };
  localMode: boolean;
  uploadLimitBytes: number;
  downloadLimitBytes: number;
  /** Directory holding stored and uploaded files. */
  dir: string;

  // --- acting as users ---
  /** Store a file as if a user had sent it to Telegram; use the file_id in userMessage. */
  addFile(
    source: string | Buffer | { sizeBytes: number },
    meta?: FileMeta,
  ): { file_id: string; file_unique_id: string; file_size: number };
  /** A user sends a message: it is stored in the chat and an update {update_id, message} queued. */
  userMessage(m: UserMessageInput): Message;
  /** A user presses an inline button: queues a callback_query update; returns the query id. */
  pressButton(p: { chat: Chat; from: User; messageId: number; data: string; force?: boolean }): string;
  /** Queue any update object (update_id is added); returns the update_id. */
  queueUpdate(update: Record<string, unknown>): number;
  /** Chat administrators (for getChatMember / getChatAdministrators / privacy mode / deleting). */
  setAdmins(chatId: number, users: Array<number | User>, opts?: { creator?: number }): void;
  /** The user blocked the bot: sends to this chat answer 403. */
  blockBot(chatId: number, blocked?: boolean): void;

  // --- observing the bot ---
  calls: FakeCall[];
  chatMessages(chatId: number): ChatMessageRecord[];
  /** Resolves with the first call (from index `since`, default 0) matching; rejects after timeoutMs. */
  waitForCall(predicate: (c: FakeCall) => boolean, timeoutMs?: number, opts?: { since?: number }): Promise<FakeCall>;
  answeredCallbacks: AnsweredCallback[];
  /** File downloads (`/file/bot…`), in arrival order; `done` once the last byte was sent. */
  fileDownloads: FileDownload[];
  /**
   * Holds every file download (headers included) until the returned function is called: a test
   * can then see what the bot did before its download finished, by order and not by timing.
   */
  holdDownloads(): () => void;
  /** Updates queued and not yet confirmed by getUpdates' offset. */
  pendingUpdates(): Array<Record<string, unknown>>;

  // --- misbehaving like the real one ---
  /** The next `times` calls of `method` (case-insensitive; '*' = any method but getUpdates) fail so. */
  failNext(method: string, error: FakeApiError, times?: number): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: FakeApiError['parameters'],
  ) {
    super(description);
  }
}

const bad = (what: string): ApiError => new ApiError(400, `Bad Request: ${what}`);

const NOT_MODIFIED =
  'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';

const JSON_FIELDS = new Set([
  'reply_markup',
  'entities',
  'caption_entities',
  'reply_parameters',
  'media',
  'allowed_updates',
  'commands',
  'scope',
  'reaction',
  'link_preview_options',
  'message_ids',
]);
const INT_FIELDS = new Set([
  'chat_id',
  'message_id',
  'width',
  'height',
  'duration',
  'offset',
  'limit',
  'timeout',
  'user_id',
  'reply_to_message_id',
  'cache_time',
  'message_thread_id',
]);
const BOOL_FIELDS = new Set([
  'supports_streaming',
  'show_alert',
  'disable_notification',
  'has_spoiler',
  'protect_content',
  'drop_pending_updates',
  'is_big',
  'show_caption_above_media',
  'disable_content_type_detection',
  'allow_sending_without_reply',
  'disable_web_page_preview',
]);

function normalizeParams(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string' && JSON_FIELDS.has(k)) {
      try {
        out[k] = JSON.parse(v);
      } catch {
        out[k] = v; // left as a string: the handler answers the parse error
      }
    } else if (typeof v === 'string' && INT_FIELDS.has(k) && /^-?\d+$/.test(v.trim())) {
      out[k] = Number(v.trim());
    } else if (typeof v === 'string' && BOOL_FIELDS.has(k)) {
      out[k] = v === 'true' || v === '1' || v === 'True';
    } else {
      out[k] = v;
    }
  }
  return out;
}

const intParam = (v: unknown): number | undefined => {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  return undefined;
};
const boolParam = (v: unknown): boolean => v === true || v === 'true' || v === 1 || v === '1';
const strParam = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;

const MIME_BY_EXT: Record<string, string> = {
  mp4: 'video/mp4',
  m4v: 'video/x-m4v',
  mov: 'video/quicktime',
  mkv: 'video/x-matroska',
  webm: 'video/webm',
  avi: 'video/x-msvideo',
  gif: 'image/gif',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  pdf: 'application/pdf',
  zip: 'application/zip',
  txt: 'text/plain',
  json: 'application/json',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
};
const EXT_BY_MIME: Record<string, string> = Object.fromEntries(
  Object.entries(MIME_BY_EXT).map(([ext, mime]) => [mime, ext === 'jpeg' ? 'jpg' : ext]),
);
const mimeOf = (name: string | undefined, fallback: string): string =>
  (name && MIME_BY_EXT[path.extname(name).slice(1).toLowerCase()]) || fallback;

type FileKind = 'video' | 'photo' | 'document' | 'animation' | 'thumbnail';
const KIND_DIR: Record<FileKind, string> = {
  video: 'videos',
  photo: 'photos',
  document: 'documents',
  animation: 'animations',
  thumbnail: 'thumbnails',
};
const KIND_PREFIX: Record<FileKind, string> = {
  video: 'BAACAgIAAxkBAAI',
  photo: 'AgACAgIAAxkBAAI',
  document: 'BQACAgIAAxkBAAI',
  animation: 'CgACAgIAAxkBAAI',
  thumbnail: 'AAMCAgADGQEAAi',
};

interface StoredFile {
  file_id: string;
  file_unique_id: string;
  kind: FileKind;
  diskPath: string;
  relPath: string;
  size: number;
  name?: string;
  mime: string;
  width?: number;
  height?: number;
  duration?: number;
}

/** Width and height of a PNG, JPEG, GIF or WebP file, from its header. */
export function imageSize(file: string): { width: number; height: number } | undefined {
  const fd = openSync(file, 'r');
  const b = Buffer.alloc(512 * 1024);
  let n: number;
  try {
    n = readSync(fd, b, 0, b.length, 0);
  } finally {
    closeSync(fd);
  }
  const buf = b.subarray(0, n);
  if (n >= 24 && buf.readUInt32BE(0) === 0x89504e47) return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
  if (n >= 10 && buf.toString('ascii', 0, 4) === 'GIF8') return { width: buf.readUInt16LE(6), height: buf.readUInt16LE(8) };
  if (n >= 30 && buf.toString('ascii', 0, 4) === 'RIFF' && buf.toString('ascii', 8, 12) === 'WEBP') {
    const chunk = buf.toString('ascii', 12, 16);
    if (chunk === 'VP8X') return { width: 1 + buf.readUIntLE(24, 3), height: 1 + buf.readUIntLE(27, 3) };
    if (chunk === 'VP8 ') return { width: buf.readUInt16LE(26) & 0x3fff, height: buf.readUInt16LE(28) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = buf.readUInt32LE(21);
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
    }
  }
  if (n >= 4 && buf[0] === 0xff && buf[1] === 0xd8) {
    let i = 2;
    while (i + 9 < n) {
      if (buf[i] !== 0xff) {
        i++;
        continue;
      }
      const marker = buf[i + 1]!;
      if (marker === 0xff) {
        i++;
        continue;
      }
      if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
        i += 2;
        continue;
      }
      const len = buf.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
      }
      i += 2 + len;
    }
  }
  return undefined;
}

const isJpeg = (file: string): boolean => {
  const fd = openSync(file, 'r');
  const b = Buffer.alloc(3);
  try {
    readSync(fd, b, 0, 3, 0);
  } finally {
    closeSync(fd);
  }
  return b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
};

const DEFAULT_UPDATES = [
  'message',
  'edited_message',
  'channel_post',
  'edited_channel_post',
  'business_connection',
  'business_message',
  'edited_business_message',
  'deleted_business_messages',
  'inline_query',
  'chosen_inline_result',
  'callback_query',
  'shipping_query',
  'pre_checkout_query',
  'purchased_paid_media',
  'poll',
  'poll_answer',
  'my_chat_member',
  'chat_join_request',
  'chat_boost',
  'removed_chat_boost',
];

const CHAT_ACTIONS = new Set([
  'typing',
  'upload_photo',
  'record_video',
  'upload_video',
  'record_voice',
  'upload_voice',
  'upload_document',
  'choose_sticker',
  'find_location',
  'record_video_note',
  'upload_video_note',
]);

/** Real Bot API methods this fake does not implement: 501 rather than a misleading 404. */
const UNIMPLEMENTED = [
  'forwardMessage',
  'forwardMessages',
  'copyMessage',
  'copyMessages',
  'sendAudio',
  'sendVoice',
  'sendVideoNote',
  'sendPaidMedia',
  'sendMediaGroup',
  'sendLocation',
  'sendVenue',
  'sendContact',
  'sendPoll',
  'sendDice',
  'sendSticker',
  'getUserProfilePhotos',
  'banChatMember',
  'unbanChatMember',
  'restrictChatMember',
  'promoteChatMember',
  'setChatPermissions',
  'exportChatInviteLink',
  'createChatInviteLink',
  'setChatPhoto',
  'deleteChatPhoto',
  'setChatTitle',
  'setChatDescription',
  'pinChatMessage',
  'unpinChatMessage',
  'unpinAllChatMessages',
  'leaveChat',
  'getChatMemberCount',
  'getChatMenuButton',
  'editMessageLiveLocation',
  'stopMessageLiveLocation',
  'stopPoll',
  'answerInlineQuery',
  'sendInvoice',
  'getMyName',
  'getMyDescription',
  'getMyShortDescription',
  'setMyDefaultAdministratorRights',
  'getMyDefaultAdministratorRights',
  'getUserChatBoosts',
  'getBusinessConnection',
  'sendGame',
  'setGameScore',
  'getGameHighScores',
  'getStarTransactions',
  'sendChecklist',
  'editMessageChecklist',
];

interface StoredMessage {
  msg: Message;
  fromBot: boolean;
  rawText?: string;
  rawCaption?: string;
  parseMode?: string;
  keyboard?: unknown;
  edits: number;
  editTimes: number[];
  reactions?: unknown;
}

interface ChatState {
  chat: Chat;
  messages: Map<number, StoredMessage>;
  nextMessageId: number;
  members: Set<number>;
  admins: Set<number>;
  creator?: number;
  blocked: boolean;
}

interface Ctx {
  method: string;
  params: Record<string, unknown>;
  uploads: Map<string, UploadedPart>;
  call: FakeCall;
  res: ServerResponse;
}

type Outcome = { result: unknown } | { error: ApiError };

interface Waiter {
  settle: (outcome: Outcome) => void;
  ready: () => boolean;
}

const randomToken = (n: number): string =>
  randomBytes(n * 2)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, n)
    .padEnd(n, 'x');

class FakeTelegramServer implements FakeTelegram {
  apiRoot = '';
  readonly token: string;
  readonly botUser: FakeTelegram['botUser'];
  readonly localMode: boolean;
  readonly uploadLimitBytes: number;
  readonly downloadLimitBytes: number;
  readonly dir: string;
  calls: FakeCall[] = [];
  answeredCallbacks: AnsweredCallback[] = [];
  fileDownloads: FileDownload[] = [];
  private downloadGate: Promise<void> | null = null;

  holdDownloads(): () => void {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    this.downloadGate = gate;
    return () => {
      if (this.downloadGate === gate) this.downloadGate = null;
      release();
    };
  }

  private readonly server: http.Server;
  private readonly opts: FakeTelegramOptions;
  private readonly ownsDir: boolean;
  private readonly uploadDir: string;
  private readonly storeDir: string;
  private readonly files = new Map<string, StoredFile>();
  private readonly filesByPath = new Map<string, StoredFile>();
  private fileSeq = 0;
  private uploadSeq = 0;
  private readonly chats = new Map<number, ChatState>();
  private readonly users = new Map<number, User>();
  private updates: Array<Record<string, unknown> & { update_id: number }> = [];
  private nextUpdateId = 500_000_001;
  private allowedUpdates = new Set(DEFAULT_UPDATES);
  private waiter: Waiter | undefined;
  private webhookUrl = '';
  private readonly callbacks = new Map<string, { chatId: number; messageId: number }>();
  private callbackSeq = 0;
  private readonly failures = new Map<string, Array<{ error: FakeApiError; left: number }>>();
  private readonly commands = new Map<string, unknown[]>();
  private readonly callWaiters = new Set<() => void>();
  private readonly methods: Map<string, { name: string; run: (ctx: Ctx) => unknown }>;
  private closed = false;

  constructor(opts: FakeTelegramOptions) {
    this.opts = opts;
    const botId = opts.token ? Number(opts.token.split(':')[0]) || 7_000_000_001 : 7_000_000_000 + Math.floor(Math.random() * 99_999_999);
    this.token = opts.token ?? `${botId}:AA${randomToken(33)}`;
    this.botUser = {
      id: botId,
      is_bot: true,
      first_name: opts.botFirstName ?? 'Dancelift Test',
      username: opts.botUsername ?? 'dancelift_test_bot',
    };
    this.localMode = opts.localMode ?? false;
    this.uploadLimitBytes = opts.uploadLimitBytes ?? (this.localMode ? 2000 * MB : 50 * MB);
    this.downloadLimitBytes = opts.downloadLimitBytes ?? 20 * MB;
    this.ownsDir = !opts.dir;
    this.dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'fake-telegram-'));
    this.uploadDir = path.join(this.dir, 'uploads');
    // like telegram-bot-api --local: <working dir>/<token>/<videos|photos|documents>/file_N.ext
    this.storeDir = path.join(this.dir, this.token.replace(/[^\w:-]/g, '_'));
    mkdirSync(this.uploadDir, { recursive: true });
    for (const d of Object.values(KIND_DIR)) mkdirSync(path.join(this.storeDir, d), { recursive: true });
    this.users.set(botId, { ...this.botUser });

    this.methods = new Map();
    const add = (name: string, run: (ctx: Ctx) => unknown): void => {
      this.methods.set(name.toLowerCase(), { name, run });
    };
    add('getMe', () => ({
      ...this.botUser,
      can_join_groups: true,
      can_read_all_group_messages: !(this.opts.groupPrivacy ?? false),
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    }));
    add('logOut', () => true);
    add('close', () => true);
    add('getUpdates', (ctx) => this.getUpdates(ctx));
    add('setWebhook', (ctx) => {
      const url = strParam(ctx.params.url) ?? '';
      if (url && !/^https:\/\//i.test(url) && !this.localMode) throw bad('bad webhook: An HTTPS URL must be provided for webhook');
      this.webhookUrl = url;
      if (boolParam(ctx.params.drop_pending_updates)) this.updates = [];
      return true;
    });
    add('deleteWebhook', (ctx) => {
      this.webhookUrl = '';
      if (boolParam(ctx.params.drop_pending_updates)) this.updates = [];
      return true;
    });
    add('getWebhookInfo', () => ({
      url: this.webhookUrl,
      has_custom_certificate: false,
      pending_update_count: this.updates.length,
    }));
    add('setMyCommands', (ctx) => this.setMyCommands(ctx));
    add('getMyCommands', (ctx) => this.commands.get(this.commandsKey(ctx.params)) ?? []);
    add('deleteMyCommands', (ctx) => {
      this.commands.delete(this.commandsKey(ctx.params));
      return true;
    });
    add('setMyDescription', () => true);
    add('setMyShortDescription', () => true);
    add('setMyName', () => true);
    add('setChatMenuButton', () => true);
    add('sendMessage', (ctx) => this.sendMessage(ctx));
    add('sendPhoto', (ctx) => this.sendMedia(ctx, 'photo'));
    add('sendVideo', (ctx) => this.sendMedia(ctx, 'video'));
    add('sendDocument', (ctx) => this.sendMedia(ctx, 'document'));
    add('sendAnimation', (ctx) => this.sendMedia(ctx, 'animation'));
    add('editMessageText', (ctx) => this.editMessageText(ctx));
    add('editMessageCaption', (ctx) => this.editMessageCaption(ctx));
    add('editMessageReplyMarkup', (ctx) => this.editMessageReplyMarkup(ctx));
    add('editMessageMedia', (ctx) => this.editMessageMedia(ctx));
    add('deleteMessage', (ctx) => this.deleteMessage(ctx));
    add('deleteMessages', (ctx) => this.deleteMessages(ctx));
    add('answerCallbackQuery', (ctx) => this.answerCallbackQuery(ctx));
    add('sendChatAction', (ctx) => {
      const chat = this.chatFor(ctx.params.chat_id);
      const action = strParam(ctx.params.action);
      if (!action || !CHAT_ACTIONS.has(action)) throw bad('wrong parameter action in request');
      void chat;
      return true;
    });
    add('getFile', (ctx) => this.getFile(ctx));
    add('getChat', (ctx) => this.getChat(ctx));
    add('getChatMember', (ctx) => this.getChatMember(ctx));
    add('getChatAdministrators', (ctx) => this.getChatAdministrators(ctx));
    add('setMessageReaction', (ctx) => {
      const chat = this.chatFor(ctx.params.chat_id);
      const id = intParam(ctx.params.message_id);
      if (id === undefined) throw bad('message identifier is not specified');
      const stored = chat.messages.get(id);
      if (!stored) throw bad('MESSAGE_ID_INVALID');
      const reaction = ctx.params.reaction ?? [];
      if (!Array.isArray(reaction)) throw bad("can't parse reaction types JSON object");
      stored.reactions = reaction;
      return true;
    });
    for (const name of UNIMPLEMENTED) {
      if (this.methods.has(name.toLowerCase())) continue;
      add(name, () => {
        console.warn(`fake Telegram: ${name} is a real Bot API method the fake does not implement`);
        throw new ApiError(501, `Not Implemented: the fake Telegram server does not implement ${name}`);
      });
    }

    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        console.error('fake Telegram: internal error', err);
        if (!res.headersSent) this.send(res, 500, { ok: false, error_code: 500, description: `Internal Server Error: ${String(err)}` });
      });
    });
    // Keep idle keep-alive sockets open longer than clients keep them, so a reused socket is never
    // closed under a request (grammY's node-fetch agent keeps connections alive).
    this.server.keepAliveTimeout = 120_000;
    this.server.headersTimeout = 130_000;
    this.server.requestTimeout = 0;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.apiRoot = `http://127.0.0.1:${port}`;
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  private send(res: ServerResponse, status: number, body: unknown, retryAfter?: number): void {
    if (res.writableEnded || res.destroyed) return;
    const text = JSON.stringify(body);
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    };
    if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
    res.writeHead(status, headers);
    res.end(text);
  }

  private async drain(req: IncomingMessage): Promise<void> {
    for await (const _ of req) {
      // discard
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const pathname = url.pathname;

    if (pathname.startsWith('/file/')) {
      await this.drain(req);
      this.serveFile(pathname, req, res);
      return;
    }
    const m = /^\/bot([^/]*)\/(.*)$/.exec(pathname);
    if (!m) {
      await this.drain(req);
      this.send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    const token = decodeURIComponent(m[1]!);
    if (token !== this.token) {
      await this.drain(req);
      if (/^\d+:[\w-]{30,}$/.test(token)) this.send(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
      else this.send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    let methodPath = m[2]!;
    if (methodPath.startsWith('test/')) methodPath = methodPath.slice(5);
    const entry = this.methods.get(methodPath.toLowerCase());
    const at = Date.now();

    // Parameters: the query string, then the body.
    const rawParams: Record<string, unknown> = {};
    for (const [k, v] of url.searchParams) rawParams[k] = v;
    const uploads = new Map<string, UploadedPart>();
    const callFiles: CallFile[] = [];
    const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
    let tooLarge = false;
    try {
      if (contentType.startsWith('multipart/form-data')) {
        const boundary = boundaryOf(String(req.headers['content-type']));
        if (!boundary) throw new MultipartError('no boundary');
        const parsed = await parseMultipart(req, boundary, {
          dir: this.uploadDir,
          fileLimitBytes: this.uploadLimitBytes,
          nextSeq: () => ++this.uploadSeq,
        });
        for (const [k, v] of parsed.fields) rawParams[k] = v;
        for (const f of parsed.files) {
          uploads.set(f.field, f);
          callFiles.push({ field: f.field, filename: f.filename, bytes: f.bytes, path: f.path });
        }
        tooLarge = parsed.tooLarge;
      } else {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of req as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > 16 * MB) tooLarge = true;
          else chunks.push(chunk);
        }
        const body = Buffer.concat(chunks).toString('utf8');
        if (!tooLarge && body.trim().length > 0) {
          if (contentType.startsWith('application/json')) {
            let parsed: unknown;
            try {
              parsed = JSON.parse(body);
            } catch {
              throw bad("can't parse JSON object");
            }
            if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(rawParams, parsed);
          } else if (contentType.startsWith('application/x-www-form-urlencoded')) {
            for (const [k, v] of new URLSearchParams(body)) rawParams[k] = v;
          }
        }
      }
    } catch (err) {
      if (!req.complete) await this.drain(req).catch(() => undefined);
      const error = err instanceof ApiError ? err : bad(`can't parse multipart/form-data: ${(err as Error).message}`);
      this.finish(res, { method: entry?.name ?? methodPath, params: normalizeParams(rawParams), rawParams, files: callFiles, at, status: 0, response: undefined, notes: [] }, { error });
      return;
    }

    const call: FakeCall = {
      method: entry?.name ?? methodPath,
      params: normalizeParams(rawParams),
      rawParams,
      files: callFiles,
      at,
      status: 0,
      response: undefined,
      notes: [],
    };
    if (tooLarge) {
      for (const f of callFiles) rmSync(f.path, { force: true });
      this.finish(res, call, { error: new ApiError(413, 'Request Entity Too Large') });
      return;
    }
    if (!entry) {
      this.finish(res, call, { error: new ApiError(404, 'Not Found: method not found') });
      return;
    }

    const injected = this.takeFailure(entry.name);
    if (injected) {
      this.finish(res, call, { error: new ApiError(injected.error_code, injected.description, injected.parameters) });
      return;
    }

    const ctx: Ctx = { method: entry.name, params: call.params, uploads, call, res };
    let outcome: Outcome;
    try {
      outcome = { result: await entry.run(ctx) };
    } catch (err) {
      if (err instanceof ApiError) outcome = { error: err };
      else throw err;
    }
    this.finish(res, call, outcome);
  }

  private finish(res: ServerResponse, call: FakeCall, outcome: Outcome): void {
    let status: number;
    let body: Record<string, unknown>;
    let retryAfter: number | undefined;
    if ('error' in outcome) {
      const e = outcome.error;
      status = e.code;
      body = { ok: false, error_code: e.code, description: e.description };
      if (e.parameters) body.parameters = e.parameters;
      retryAfter = e.parameters?.retry_after;
    } else {
      status = 200;
      body = { ok: true, result: outcome.result };
    }
    call.status = status;
    call.response = body;
    this.send(res, status, body, retryAfter);
    this.calls.push(call);
    for (const wake of [...this.callWaiters]) wake();
  }

  private takeFailure(method: string): FakeApiError | undefined {
    for (const key of [method.toLowerCase(), ...(method === 'getUpdates' ? [] : ['*'])]) {
      const queue = this.failures.get(key);
      const head = queue?.[0];
      if (!head) continue;
      head.left--;
      if (head.left <= 0) queue!.shift();
      return head.error;
    }
    return undefined;
  }

  private serveFile(pathname: string, req: IncomingMessage, res: ServerResponse): void {
    const notFound = (): void => this.send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    // telegram-bot-api has no download endpoint at all; in --local mode files are read from disk.
    if (this.localMode) return notFound();
    const m = /^\/file\/bot([^/]+)\/(.+)$/.exec(pathname);
    if (!m || decodeURIComponent(m[1]!) !== this.token) return notFound();
    const file = this.filesByPath.get(decodeURIComponent(m[2]!));
    if (!file || file.size > this.downloadLimitBytes) return notFound();
    const record: FileDownload = { filePath: decodeURIComponent(m[2]!), callsBefore: this.calls.length, done: false };
    this.fileDownloads.push(record);
    const serve = () => {
      res.on('finish', () => (record.done = true));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.size });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      createReadStream(file.diskPath).pipe(res);
    };
    if (this.downloadGate) void this.downloadGate.then(serve);
    else serve();
  }

  // -------------------------------------------------------------------------------------------
  // Updates

  private pushUpdate(update: Record<string, unknown>): number {
    const update_id = this.nextUpdateId++;
    this.updates.push({ update_id, ...update });
    if (this.waiter?.ready()) this.waiter.settle({ result: undefined });
    return update_id;
  }

  private updateType(u: Record<string, unknown>): string {
    return Object.keys(u).find((k) => k !== 'update_id') ?? '';
  }

  private getUpdates(ctx: Ctx): Promise<unknown> | unknown {
    if (this.webhookUrl) {
      throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    const p = ctx.params;
    const offset = intParam(p.offset) ?? 0;
    const limit = Math.min(100, Math.max(1, intParam(p.limit) ?? 100));
    const timeout = Math.max(0, intParam(p.timeout) ?? 0);
    if (p.allowed_updates !== undefined) {
      const list = typeof p.allowed_updates === 'string' ? [] : p.allowed_updates;
      if (!Array.isArray(list)) throw bad("can't parse allowed updates JSON object");
      this.allowedUpdates = new Set(list.length ? list.map(String) : DEFAULT_UPDATES);
    }
    // Confirm: drop updates below a positive offset; a negative one keeps only the last -offset.
    if (offset > 0) this.updates = this.updates.filter((u) => u.update_id >= offset);
    else if (offset < 0) this.updates = this.updates.slice(offset);

    // A newer getUpdates terminates a pending one.
    if (this.waiter) {
      const old = this.waiter;
      this.waiter = undefined;
      old.settle({
        error: new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'),
      });
    }

    const pick = (): Array<Record<string, unknown>> => {
      // Updates of types not allowed are not kept (the real server does not even store them).
      this.updates = this.updates.filter((u) => this.allowedUpdates.has(this.updateType(u)));
      return this.updates.slice(0, limit);
    };
    const now = pick();
    if (now.length > 0 || timeout === 0 || this.closed) return now;

    return new Promise<unknown>((resolve, reject) => {
      const settle = (outcome: Outcome): void => {
        if (this.waiter === waiter) this.waiter = undefined;
        clearTimeout(timer);
        ctx.res.off('close', onClose);
        if ('error' in outcome) reject(outcome.error);
        else resolve(pick());
      };
      const waiter: Waiter = { settle, ready: () => pick().length > 0 };
      const timer = setTimeout(() => settle({ result: undefined }), timeout * 1000);
      timer.unref();
      // The client went away (grammY aborts its poll on bot.stop()).
      const onClose = (): void => settle({ result: undefined });
      ctx.res.on('close', onClose);
      this.waiter = waiter;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Chats, users, messages

  private registerUser(u: User): void {
    this.users.set(u.id, { ...this.users.get(u.id), ...u });
  }

  private ensureChat(chat: Chat): ChatState {
    let state = this.chats.get(chat.id);
    if (!state) {
      state = {
        chat: { ...chat },
        messages: new Map(),
        nextMessageId: 1,
        members: new Set([this.botUser.id]),
        admins: new Set(),
        blocked: false,
      };
      this.chats.set(chat.id, state);
    } else {
      state.chat = { ...state.chat, ...chat };
    }
    return state;
  }

  private chatFor(raw: unknown): ChatState {
    if (raw === undefined || raw === null || raw === '') throw bad('chat_id is empty');
    let state: ChatState | undefined;
    const id = intParam(raw);
    if (id !== undefined) state = this.chats.get(id);
    else if (typeof raw === 'string' && raw.startsWith('@')) {
      const name = raw.slice(1).toLowerCase();
      state = [...this.chats.values()].find((c) => c.chat.username?.toLowerCase() === name);
    }
    if (!state) throw bad('chat not found');
    if (state.blocked) {
      throw new ApiError(403, state.chat.type === 'private' ? 'Forbidden: bot was blocked by the user' : 'Forbidden: bot was kicked from the group chat');
    }
    return state;
  }

  private lookupUser = (id: number): MessageEntity['user'] | undefined => {
    const u = this.users.get(id);
    return u ? { id: u.id, is_bot: u.is_bot, first_name: u.first_name } : undefined;
  };

  private formatText(raw: unknown, parseModeRaw: unknown, entitiesRaw: unknown): ParsedText & { parseMode?: string } {
    const text = raw === undefined || raw === null ? '' : String(raw);
    let parsed: ParsedText;
    let parseMode: string | undefined;
    if (entitiesRaw !== undefined && entitiesRaw !== null && entitiesRaw !== '') {
      if (!Array.isArray(entitiesRaw)) throw bad("can't parse entities JSON object");
      const len = text.length;
      const entities: MessageEntity[] = [];
      for (const e of entitiesRaw as MessageEntity[]) {
        if (!e || typeof e !== 'object' || typeof e.type !== 'string') throw bad("can't parse MessageEntity JSON object");
        const offset = intParam(e.offset) ?? -1;
        const length = intParam(e.length) ?? 0;
        if (offset < 0 || length <= 0) continue;
        if (offset + length > len) {
          throw bad(`can't parse entities: entity beginning at UTF-16 offset ${offset} ends after the end of the text at UTF-16 offset ${len}`);
        }
        if (e.type === 'text_link') {
          const checked = checkLink(String(e.url ?? ''));
          if (!checked.url) throw bad(`entity URL '${String(e.url ?? '')}' is invalid: ${checked.error}`);
          entities.push({ ...e, offset, length, url: checked.url });
        } else {
          entities.push({ ...e, offset, length });
        }
      }
      parsed = { text, entities: sortEntities(entities) };
    } else {
      const mode = strParam(parseModeRaw)?.toLowerCase() ?? '';
      try {
        if (mode === 'markdownv2') parsed = parseMarkdownV2(text, this.lookupUser);
        else if (mode === 'html') parsed = parseHtml(text, { strict: this.opts.strictHtml ?? true, lookupUser: this.lookupUser });
        else if (mode === 'markdown') parsed = parseMarkdown(text, this.lookupUser);
        else if (mode === '') parsed = { text, entities: [] };
        else throw bad('unsupported parse_mode');
      } catch (err) {
        if (err instanceof EntityParseError) throw bad(`can't parse entities: ${err.message}`);
        throw err;
      }
      if (mode) parseMode = strParam(parseModeRaw);
    }
    const trimmed = trimFormatted(parsed);
    return { text: trimmed.text, entities: mergeEntities(trimmed.entities, findEntities(trimmed.text)), parseMode };
  }

  /**
   * reply_markup: returns the inline keyboard to keep in the message (undefined when none) and any
   * other keyboard (reply keyboard, remove, force reply), which Telegram does not echo back.
   */
  private readMarkup(raw: unknown, inlineOnly = false): { inline?: { inline_keyboard: InlineButton[][] }; other?: unknown } {
    if (raw === undefined || raw === null || raw === '') return {};
    if (typeof raw === 'string') throw bad("can't parse reply keyboard markup JSON object");
    if (typeof raw !== 'object' || Array.isArray(raw)) throw bad("can't parse reply keyboard markup JSON object");
    const markup = raw as Record<string, unknown>;
    if (!('inline_keyboard' in markup)) {
      if (inlineOnly) throw bad("can't parse inline keyboard markup JSON object");
      if ('keyboard' in markup || 'remove_keyboard' in markup || 'force_reply' in markup) return { other: markup };
      throw bad("can't parse reply keyboard markup JSON object");
    }
    const rows = markup.inline_keyboard;
    if (!Array.isArray(rows)) throw bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array');
    if (rows.length === 0) return {};
    const out: InlineButton[][] = [];
    for (const row of rows) {
      if (!Array.isArray(row)) throw bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays');
      if (row.length === 0) throw bad('REPLY_MARKUP_INVALID');
      const outRow: InlineButton[] = [];
      for (const b of row) {
        if (!b || typeof b !== 'object') throw bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object");
        const button = { ...(b as InlineButton) };
        if (typeof button.text !== 'string') throw bad('can\'t parse inline keyboard button: Field "text" must be of type String');
        const kinds = [
          'url',
          'callback_data',
          'web_app',
          'login_url',
          'switch_inline_query',
          'switch_inline_query_current_chat',
          'switch_inline_query_chosen_chat',
          'copy_text',
          'callback_game',
          'pay',
        ].filter((k) => button[k] !== undefined);
        if (kinds.length === 0) throw bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
        if (button.callback_data !== undefined) {
          const data = button.callback_data;
          if (typeof data !== 'string') throw bad('can\'t parse inline keyboard button: Field "callback_data" must be of type String');
          const bytes = Buffer.byteLength(data, 'utf8');
          if (bytes < 1 || bytes > 64) throw bad('BUTTON_DATA_INVALID');
        }
        if (button.url !== undefined) {
          const checked = checkLink(String(button.url));
          if (!checked.url) throw bad(`inline keyboard button URL '${String(button.url)}' is invalid: ${checked.error}`);
          button.url = checked.url;
        }
        outRow.push(button);
      }
      out.push(outRow);
    }
    return { inline: { inline_keyboard: out } };
  }

  private replyTarget(chat: ChatState, p: Record<string, unknown>): StoredMessage | undefined {
    let id: number | undefined;
    let allowWithout = boolParam(p.allow_sending_without_reply);
    const rp = p.reply_parameters;
    if (rp !== undefined && rp !== null && rp !== '') {
      if (typeof rp !== 'object') throw bad("can't parse reply parameters JSON object");
      const r = rp as Record<string, unknown>;
      id = intParam(r.message_id);
      if (id === undefined) throw bad('message identifier is not specified');
      if (r.chat_id !== undefined && intParam(r.chat_id) !== chat.chat.id) throw bad('message to be replied not found');
      allowWithout = boolParam(r.allow_sending_without_reply);
    } else {
      id = intParam(p.reply_to_message_id);
    }
    if (id === undefined) return undefined;
    const target = chat.messages.get(id);
    if (!target && !allowWithout) throw bad('message to be replied not found');
    return target;
  }

  private stripReply(msg: Message): Message {
    const { reply_to_message: _r, ...rest } = msg;
    return rest as Message;
  }

  private storeMessage(
    chat: ChatState,
    fields: { from: User; fromBot: boolean; content: Record<string, unknown>; reply?: StoredMessage; date?: number },
  ): StoredMessage {
    const message_id = chat.nextMessageId++;
    const msg: Message = {
      message_id,
      from: fields.from,
      chat: { ...chat.chat },
      date: fields.date ?? Math.floor(Date.now() / 1000),
      ...(fields.reply ? { reply_to_message: this.stripReply(fields.reply.msg) } : {}),
      ...fields.content,
    };
    const stored: StoredMessage = { msg, fromBot: fields.fromBot, edits: 0, editTimes: [] };
    chat.messages.set(message_id, stored);
    return stored;
  }

  private botMessageContent(
    text: (ParsedText & { parseMode?: string }) | undefined,
    kind: 'text' | 'caption',
    markup: { inline?: unknown },
  ): Record<string, unknown> {
    const c: Record<string, unknown> = {};
    if (text && text.text.length > 0) {
      c[kind] = text.text;
      if (text.entities.length > 0) c[kind === 'text' ? 'entities' : 'caption_entities'] = text.entities;
    }
    if (markup.inline) c.reply_markup = markup.inline;
    return c;
  }

  private sendMessage(ctx: Ctx): unknown {
    const p = ctx.params;
    // The real server parses the markup before it looks at the chat.
    const text = this.formatText(p.text, p.parse_mode, p.entities);
    const chat = this.chatFor(p.chat_id);
    if (text.text.length === 0) throw bad('message text is empty');
    if (codePointLength(text.text) > 4096) throw bad('message is too long');
    const markup = this.readMarkup(p.reply_markup);
    const reply = this.replyTarget(chat, p);
    const stored = this.storeMessage(chat, {
      from: this.botUser,
      fromBot: true,
      content: this.botMessageContent(text, 'text', markup),
      reply,
    });
    stored.rawText = strParam(p.text);
    stored.parseMode = text.parseMode;
    stored.keyboard = markup.other;
    return stored.msg;
  }

  // -------------------------------------------------------------------------------------------
  // Files

  private newFileIds(kind: FileKind): { file_id: string; file_unique_id: string } {
    return {
      file_id: `${KIND_PREFIX[kind]}${randomToken(56)}`,
      file_unique_id: `AgAD${randomToken(12)}`,
    };
  }

  private registerFile(
    kind: FileKind,
    diskPath: string,
    info: { name?: string; mime?: string; width?: number; height?: number; duration?: number; ids?: { file_id: string; file_unique_id: string } },
  ): StoredFile {
    const ids = info.ids ?? this.newFileIds(kind);
    const size = statSync(diskPath).size;
    const fallbackMime = kind === 'video' || kind === 'animation' ? 'video/mp4' : kind === 'photo' || kind === 'thumbnail' ? 'image/jpeg' : 'application/octet-stream';
    const mime = info.mime && info.mime !== 'application/octet-stream' ? info.mime : mimeOf(info.name, fallbackMime);
    const ext = (info.name && path.extname(info.name).slice(1).toLowerCase()) || EXT_BY_MIME[mime] || 'dat';
    const relPath = `${KIND_DIR[kind]}/file_${this.fileSeq++}.${ext}`;
    const file: StoredFile = { ...ids, kind, diskPath, relPath, size, mime, name: info.name, width: info.width, height: info.height, duration: info.duration };
    this.files.set(file.file_id, file);
    this.filesByPath.set(relPath, file);
    return file;
  }

  addFile(source: string | Buffer | { sizeBytes: number }, meta: FileMeta = {}): { file_id: string; file_unique_id: string; file_size: number } {
    const name = meta.name ?? (typeof source === 'string' ? path.basename(source) : undefined);
    const mime = meta.mime ?? mimeOf(name, 'application/octet-stream');
    const kind: FileKind = mime.startsWith('video/')
      ? 'video'
      : mime === 'image/gif'
        ? 'animation'
        : mime.startsWith('image/')
          ? 'photo'
          : 'document';
    const ext = (name && path.extname(name).slice(1).toLowerCase()) || EXT_BY_MIME[mime] || 'dat';
    const disk = path.join(this.storeDir, KIND_DIR[kind], `file_${this.fileSeq}_added.${ext}`);
    if (typeof source === 'string') copyFileSync(source, disk);
    else if (Buffer.isBuffer(source)) writeFileSync(disk, source);
    else {
      writeFileSync(disk, '');
      truncateSync(disk, source.sizeBytes); // sparse, zero-filled
    }
    let { width, height } = meta;
    if (kind === 'photo' && (width === undefined || height === undefined)) {
      const dims = imageSize(disk);
      width ??= dims?.width;
      height ??= dims?.height;
    }
    const f = this.registerFile(kind, disk, { name, mime, width, height, duration: meta.duration });
    return { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.size };
  }

  private async resolveInputFile(ctx: Ctx, field: string, value: unknown, kind: FileKind): Promise<StoredFile> {
    if (value === undefined || value === null || value === '') {
      const direct = ctx.uploads.get(field);
      if (direct) return this.fromUpload(direct, kind);
      throw bad(`there is no ${field} in the request`);
    }
    if (typeof value !== 'string') throw bad(`there is no ${field} in the request`);
    if (value.startsWith('attach://')) {
      const part = ctx.uploads.get(value.slice('attach://'.length));
      if (!part) throw bad('wrong file identifier/HTTP URL specified');
      return this.fromUpload(part, kind);
    }
    if (/^https?:\/\//i.test(value)) return this.fromUrl(ctx, field, value, kind);
    if (this.localMode && (value.startsWith('file://') || path.isAbsolute(value))) {
      let local: string;
      try {
        local = value.startsWith('file://') ? fileURLToPath(value) : value;
      } catch {
        throw bad('wrong file identifier/HTTP URL specified');
      }
      let size: number;
      try {
        const st = statSync(local);
        if (!st.isFile()) throw new Error('not a file');
        size = st.size;
      } catch {
        throw bad('wrong file identifier/HTTP URL specified');
      }
      if (size > this.uploadLimitBytes) throw bad('file is too big');
      const copy = path.join(this.uploadDir, `${++this.uploadSeq}-${path.basename(local)}`);
      copyFileSync(local, copy);
      ctx.call.files.push({ field, filename: path.basename(local), bytes: size, path: copy });
      return this.registerFile(kind, copy, { name: path.basename(local) });
    }
    const known = this.files.get(value);
    if (!known) throw bad('wrong file identifier/HTTP URL specified');
    if ((known.kind === 'photo') !== (kind === 'photo')) throw bad('type of file mismatch');
    return known;
  }

  private fromUpload(part: UploadedPart, kind: FileKind): StoredFile {
    return this.registerFile(kind, part.path, { name: part.filename, mime: part.contentType });
  }

  private async fromUrl(ctx: Ctx, field: string, url: string, kind: FileKind): Promise<StoredFile> {
    const limit = kind === 'photo' ? 5 * MB : 20 * MB;
    const name = path.basename(new URL(url).pathname) || 'file';
    const target = path.join(this.uploadDir, `${++this.uploadSeq}-${name.replace(/[^\w.\-+]+/g, '_')}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const out = createWriteStream(target);
      let size = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > limit) throw new Error('too big');
        if (!out.write(chunk)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'close');
      ctx.call.files.push({ field, filename: name, bytes: size, path: target });
    } catch {
      rmSync(target, { force: true });
      throw bad('failed to get HTTP URL content');
    }
    return this.registerFile(kind, target, { name, mime: mimeOf(name, 'application/octet-stream') });
  }

  /** The thumbnail of a sendVideo/sendDocument/...: only a new upload, JPEG, ≤ 200 kB, ≤ 320 px. */
  private thumbnailFor(ctx: Ctx, value: unknown): Record<string, unknown> | undefined {
    let part: UploadedPart | undefined;
    if (value === undefined || value === null || value === '') {
      part = ctx.uploads.get('thumbnail'); // uploaded directly under the parameter's name
      if (!part) return undefined;
    } else if (typeof value === 'string' && value.startsWith('attach://')) {
      part = ctx.uploads.get(value.slice('attach://'.length));
    }
    if (!part) {
      ctx.call.notes.push('thumbnail ignored: thumbnails must be uploaded as a new file (attach://)');
      return undefined;
    }
    if (!isJpeg(part.path)) {
      ctx.call.notes.push('thumbnail ignored: not a JPEG');
      return undefined;
    }
    if (part.bytes > 200 * 1024) {
      ctx.call.notes.push('thumbnail ignored: over 200 kB');
      return undefined;
    }
    const dims = imageSize(part.path);
    if (!dims || dims.width > 320 || dims.height > 320) {
      ctx.call.notes.push(`thumbnail ignored: ${dims ? `${dims.width}x${dims.height}` : 'unknown size'}, over 320 px`);
      return undefined;
    }
    const f = this.registerFile('thumbnail', part.path, { name: part.filename, mime: 'image/jpeg', ...dims });
    return { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.size, width: dims.width, height: dims.height };
  }

  private photoSizes(file: StoredFile): Array<Record<string, unknown>> {
    const w = file.width ?? 0;
    const h = file.height ?? 0;
    const big = Math.max(w, h);
    const sizes: Array<Record<string, unknown>> = [];
    if (big > 0) {
      for (const t of [90, 320, 800, 1280]) {
        if (t >= big) break;
        const ids = this.newFileIds('photo');
        const scale = t / big;
        const small = this.registerFile('photo', file.diskPath, {
          name: file.name,
          mime: file.mime,
          width: Math.round(w * scale),
          height: Math.round(h * scale),
          ids,
        });
        sizes.push({ file_id: small.file_id, file_unique_id: small.file_unique_id, file_size: Math.max(1, Math.round(file.size * scale * scale)), width: small.width, height: small.height });
      }
    }
    let width = w;
    let height = h;
    if (big > 2560) {
      width = Math.round((w * 2560) / big);
      height = Math.round((h * 2560) / big);
    }
    sizes.push({ file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.size, width, height });
    return sizes;
  }

  private mediaObject(kind: 'video' | 'document' | 'animation', file: StoredFile, p: Record<string, unknown>, thumbnail?: Record<string, unknown>): Record<string, unknown> {
    if (kind === 'document') {
      return {
        file_id: file.file_id,
        file_unique_id: file.file_unique_id,
        ...(file.name ? { file_name: file.name } : {}),
        mime_type: file.mime,
        ...(thumbnail ? { thumbnail } : {}),
        file_size: file.size,
      };
    }
    const width = intParam(p.width) ?? file.width ?? 0;
    const height = intParam(p.height) ?? file.height ?? 0;
    const duration = intParam(p.duration) ?? file.duration ?? 0;
    file.width = width;
    file.height = height;
    file.duration = duration;
    return {
      file_id: file.file_id,
      file_unique_id: file.file_unique_id,
      width,
      height,
      duration,
      ...(file.name ? { file_name: file.name } : {}),
      mime_type: file.mime,
      ...(thumbnail ? { thumbnail } : {}),
      file_size: file.size,
    };
  }

  private async mediaContent(ctx: Ctx, kind: 'video' | 'photo' | 'document' | 'animation', value: unknown, p: Record<string, unknown>): Promise<Record<string, unknown>> {
    const file = await this.resolveInputFile(ctx, kind, value, kind);
    if (kind === 'photo') {
      if (file.width === undefined || file.height === undefined) {
        const dims = imageSize(file.diskPath);
        if (!dims) throw bad('IMAGE_PROCESS_FAILED');
        file.width = dims.width;
        file.height = dims.height;
      }
      const { width, height } = file;
      if (width! + height! > 10000 || Math.max(width!, height!) / Math.max(1, Math.min(width!, height!)) > 20) {
        throw bad('PHOTO_INVALID_DIMENSIONS');
      }
      return { photo: this.photoSizes(file) };
    }
    const thumbnail = this.thumbnailFor(ctx, p.thumbnail ?? p.thumb);
    const media = this.mediaObject(kind, file, p, thumbnail);
    if (kind === 'animation') {
      // "For backward compatibility, when this field is set, the document field will also be set"
      const { width: _w, height: _h, duration: _d, ...doc } = media;
      return { animation: media, document: doc };
    }
    return { [kind]: media };
  }

  private async sendMedia(ctx: Ctx, kind: 'video' | 'photo' | 'document' | 'animation'): Promise<unknown> {
    const p = ctx.params;
    const caption = this.formatText(p.caption, p.parse_mode, p.caption_entities);
    const chat = this.chatFor(p.chat_id);
    if (codePointLength(caption.text) > 1024) throw bad('message caption is too long');
    const markup = this.readMarkup(p.reply_markup);
    const reply = this.replyTarget(chat, p);
    const content = await this.mediaContent(ctx, kind, p[kind], p);
    const stored = this.storeMessage(chat, {
      from: this.botUser,
      fromBot: true,
      content: {
        ...content,
        ...this.botMessageContent(caption, 'caption', markup),
        ...(boolParam(p.show_caption_above_media) ? { show_caption_above_media: true } : {}),
        ...(boolParam(p.has_spoiler) ? { has_media_spoiler: true } : {}),
      },
      reply,
    });
    stored.rawCaption = strParam(p.caption);
    stored.parseMode = caption.parseMode;
    stored.keyboard = markup.other;
    return stored.msg;
  }

  private getFile(ctx: Ctx): unknown {
    const id = strParam(ctx.params.file_id);
    if (!id) throw bad('file_id is empty');
    const file = this.files.get(id);
    if (!file) throw bad('invalid file_id');
    if (!this.localMode && file.size > this.downloadLimitBytes) throw bad('file is too big');
    return {
      file_id: file.file_id,
      file_unique_id: file.file_unique_id,
      file_size: file.size,
      file_path: this.localMode ? file.diskPath : file.relPath,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Editing and deleting

  private editable(ctx: Ctx): { chat: ChatState; stored: StoredMessage } {
    const p = ctx.params;
    if (p.inline_message_id !== undefined) throw bad('MESSAGE_ID_INVALID'); // inline mode is not faked
    const chat = this.chatFor(p.chat_id);
    const id = intParam(p.message_id);
    if (id === undefined) throw bad('message identifier is not specified');
    const stored = chat.messages.get(id);
    if (!stored) throw bad('message to edit not found');
    if (!stored.fromBot) throw bad("message can't be edited");
    return { chat, stored };
  }

  private floodCheck(stored: StoredMessage): void {
    const min = this.opts.editMinIntervalMs;
    if (!min) return;
    const last = stored.editTimes[stored.editTimes.length - 1];
    if (last === undefined) return;
    const left = min - (Date.now() - last);
    if (left > 0) {
      const retry = this.opts.editRetryAfter ?? Math.max(1, Math.ceil(left / 1000));
      throw new ApiError(429, `Too Many Requests: retry after ${retry}`, { retry_after: retry });
    }
  }

  private applyEdit(stored: StoredMessage, content: Record<string, unknown>, drop: string[]): Message {
    const msg = { ...stored.msg };
    for (const k of drop) delete msg[k];
    Object.assign(msg, content, { edit_date: Math.floor(Date.now() / 1000) });
    stored.msg = msg as Message;
    stored.edits++;
    stored.editTimes.push(Date.now());
    return stored.msg;
  }

  private editMessageText(ctx: Ctx): unknown {
    const p = ctx.params;
    const text = this.formatText(p.text, p.parse_mode, p.entities);
    const { stored } = this.editable(ctx);
    if (stored.msg.text === undefined) throw bad('there is no text in the message to edit');
    if (text.text.length === 0) throw bad('message text is empty');
    if (codePointLength(text.text) > 4096) throw bad('MESSAGE_TOO_LONG');
    const markup = this.readMarkup(p.reply_markup, true);
    const same =
      stored.msg.text === text.text &&
      isDeepStrictEqual(stored.msg.entities ?? [], text.entities) &&
      isDeepStrictEqual(stored.msg.reply_markup, markup.inline);
    if (same) throw bad(NOT_MODIFIED);
    this.floodCheck(stored);
    stored.rawText = strParam(p.text);
    stored.parseMode = text.parseMode;
    // No reply_markup in an edit removes the inline keyboard.
    return this.applyEdit(stored, this.botMessageContent(text, 'text', markup), ['text', 'entities', 'reply_markup']);
  }

  private hasMedia(msg: Message): boolean {
    return ['video', 'photo', 'document', 'animation', 'audio', 'voice'].some((k) => msg[k] !== undefined);
  }

  private editMessageCaption(ctx: Ctx): unknown {
    const p = ctx.params;
    const caption = this.formatText(p.caption, p.parse_mode, p.caption_entities);
    const { stored } = this.editable(ctx);
    if (!this.hasMedia(stored.msg)) throw bad('there is no caption in the message to edit');
    if (codePointLength(caption.text) > 1024) throw bad('message caption is too long');
    const markup = this.readMarkup(p.reply_markup, true);
    const same =
      (stored.msg.caption ?? '') === caption.text &&
      isDeepStrictEqual(stored.msg.caption_entities ?? [], caption.entities) &&
      isDeepStrictEqual(stored.msg.reply_markup, markup.inline);
    if (same) throw bad(NOT_MODIFIED);
    this.floodCheck(stored);
    stored.rawCaption = strParam(p.caption);
    stored.parseMode = caption.parseMode;
    return this.applyEdit(stored, this.botMessageContent(caption, 'caption', markup), ['caption', 'caption_entities', 'reply_markup']);
  }

  private editMessageReplyMarkup(ctx: Ctx): unknown {
    const { stored } = this.editable(ctx);
    const markup = this.readMarkup(ctx.params.reply_markup, true);
    if (isDeepStrictEqual(stored.msg.reply_markup, markup.inline)) throw bad(NOT_MODIFIED);
    this.floodCheck(stored);
    return this.applyEdit(stored, markup.inline ? { reply_markup: markup.inline } : {}, ['reply_markup']);
  }

  private async editMessageMedia(ctx: Ctx): Promise<unknown> {
    const p = ctx.params;
    const media = p.media;
    if (!media || typeof media !== 'object') throw bad("can't parse InputMedia JSON object");
    const m = media as Record<string, unknown>;
    const type = strParam(m.type);
    if (type !== 'video' && type !== 'photo' && type !== 'document' && type !== 'animation') {
      throw bad("can't parse InputMedia JSON object");
    }
    const caption = this.formatText(m.caption, m.parse_mode, m.caption_entities);
    const { stored } = this.editable(ctx);
    if (!this.hasMedia(stored.msg)) throw bad('there is no media in the message to edit');
    if (codePointLength(caption.text) > 1024) throw bad('message caption is too long');
    const markup = this.readMarkup(p.reply_markup, true);
    const content = await this.mediaContent(ctx, type, m.media, m);
    this.floodCheck(stored);
    stored.rawCaption = strParam(m.caption);
    stored.parseMode = caption.parseMode;
    return this.applyEdit(
      stored,
      { ...content, ...this.botMessageContent(caption, 'caption', markup) },
      ['video', 'photo', 'document', 'animation', 'caption', 'caption_entities', 'reply_markup'],
    );
  }

  private canDelete(chat: ChatState, stored: StoredMessage): boolean {
    return stored.fromBot || chat.chat.type === 'private' || chat.admins.has(this.botUser.id);
  }

  private deleteMessage(ctx: Ctx): unknown {
    const chat = this.chatFor(ctx.params.chat_id);
    const id = intParam(ctx.params.message_id);
    if (id === undefined) throw bad('message identifier is not specified');
    const stored = chat.messages.get(id);
    if (!stored) throw bad('message to delete not found');
    if (!this.canDelete(chat, stored)) throw bad("message can't be deleted");
    chat.messages.delete(id);
    return true;
  }

  private deleteMessages(ctx: Ctx): unknown {
    const chat = this.chatFor(ctx.params.chat_id);
    const ids = ctx.params.message_ids;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 100) throw bad('message identifiers are not specified');
    let deleted = 0;
    for (const raw of ids) {
      const id = intParam(raw);
      const stored = id === undefined ? undefined : chat.messages.get(id);
      if (stored && this.canDelete(chat, stored)) {
        chat.messages.delete(id!);
        deleted++;
      }
    }
    if (deleted === 0) throw bad('message to delete not found');
    return true;
  }

  private answerCallbackQuery(ctx: Ctx): unknown {
    const p = ctx.params;
    const id = strParam(p.callback_query_id);
    if (!id || !this.callbacks.has(id)) {
      throw bad('query is too old and response timeout expired or query ID is invalid');
    }
    const text = strParam(p.text);
    if (text !== undefined && codePointLength(text) > 200) throw bad('MESSAGE_TOO_LONG');
    this.callbacks.delete(id);
    const answer: AnsweredCallback = { id };
    if (text !== undefined) answer.text = text;
    if (p.show_alert !== undefined) answer.show_alert = boolParam(p.show_alert);
    if (p.url !== undefined) answer.url = strParam(p.url);
    if (p.cache_time !== undefined) answer.cache_time = intParam(p.cache_time);
    this.answeredCallbacks.push(answer);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Commands, chats, members

  private commandsKey(p: Record<string, unknown>): string {
    const scope = p.scope && typeof p.scope === 'object' ? (p.scope as Record<string, unknown>) : { type: 'default' };
    return JSON.stringify([scope.type ?? 'default', scope.chat_id ?? null, scope.user_id ?? null, strParam(p.language_code) ?? '']);
  }

  private setMyCommands(ctx: Ctx): unknown {
    const list = ctx.params.commands;
    if (!Array.isArray(list)) throw bad("can't parse commands JSON object");
    if (list.length > 100) throw bad('too many commands specified');
    const lang = strParam(ctx.params.language_code);
    if (lang !== undefined && lang !== '' && !/^[a-z]{2}$/.test(lang)) throw bad('invalid language code specified');
    const out: Array<{ command: string; description: string }> = [];
    for (const c of list as Array<Record<string, unknown>>) {
      const command = strParam(c?.command)?.replace(/^\//, '') ?? '';
      const description = strParam(c?.description) ?? '';
      if (!/^[a-z0-9_]{1,32}$/.test(command)) throw bad('BOT_COMMAND_INVALID');
      if (description.trim().length === 0 || codePointLength(description) > 256) throw bad('BOT_COMMAND_DESCRIPTION_INVALID');
      out.push({ command, description });
    }
    if (out.length === 0) this.commands.delete(this.commandsKey(ctx.params));
    else this.commands.set(this.commandsKey(ctx.params), out);
    return true;
  }

  private getChat(ctx: Ctx): unknown {
    const chat = this.chatFor(ctx.params.chat_id);
    return { ...chat.chat, accent_color_id: 0, max_reaction_count: 11, accepted_gift_types: { unlimited_gifts: false, limited_gifts: false, unique_gifts: false, premium_subscription: false } };
  }

  private memberObject(chat: ChatState, userId: number): Record<string, unknown> {
    const user = this.users.get(userId) ?? { id: userId, is_bot: false, first_name: `User ${userId}` };
    if (chat.creator === userId) return { user, status: 'creator', is_anonymous: false };
    if (chat.admins.has(userId)) {
      return {
        user,
        status: 'administrator',
        can_be_edited: false,
        is_anonymous: false,
        can_manage_chat: true,
        can_delete_messages: true,
        can_manage_video_chats: true,
        can_restrict_members: true,
        can_promote_members: false,
        can_change_info: true,
        can_invite_users: true,
        can_post_stories: false,
        can_edit_stories: false,
        can_delete_stories: false,
        can_pin_messages: true,
      };
    }
    if (chat.members.has(userId) || (chat.chat.type === 'private' && chat.chat.id === userId)) return { user, status: 'member' };
    return { user, status: 'left' };
  }

  private getChatMember(ctx: Ctx): unknown {
    const chat = this.chatFor(ctx.params.chat_id);
    const userId = intParam(ctx.params.user_id);
    if (userId === undefined) throw bad('invalid user_id specified');
    if (!this.users.has(userId)) throw bad('user not found');
    return this.memberObject(chat, userId);
  }

  private getChatAdministrators(ctx: Ctx): unknown {
    const chat = this.chatFor(ctx.params.chat_id);
    if (chat.chat.type === 'private') throw bad('there are no administrators in the private chat');
    const ids = [...(chat.creator !== undefined ? [chat.creator] : []), ...[...chat.admins].filter((id) => id !== chat.creator)];
    return ids.map((id) => this.memberObject(chat, id));
  }

  // -------------------------------------------------------------------------------------------
  // Acting as users

  private userMedia(kind: 'video' | 'document' | 'animation', input: { file_id: string } & Record<string, unknown>): Record<string, unknown> {
    const file = this.files.get(input.file_id);
    if (!file) throw new Error(`fake Telegram: unknown file_id ${input.file_id} (use addFile first)`);
    const base: Record<string, unknown> = {
      file_id: file.file_id,
      file_unique_id: file.file_unique_id,
    };
    if (kind !== 'document') {
      base.width = (input.width as number | undefined) ?? file.width ?? 0;
      base.height = (input.height as number | undefined) ?? file.height ?? 0;
      base.duration = (input.duration as number | undefined) ?? file.duration ?? 0;
    }
    const name = (input.file_name as string | undefined) ?? file.name;
    if (name) base.file_name = name;
    base.mime_type = (input.mime_type as string | undefined) ?? file.mime;
    base.file_size = file.size;
    return base;
  }

  private userPhoto(input: NonNullable<UserMessageInput['photo']>): Array<Record<string, unknown>> {
    if (Array.isArray(input)) {
      return input.map((s) => {
        const file = this.files.get(s.file_id);
        if (!file) throw new Error(`fake Telegram: unknown file_id ${s.file_id} (use addFile first)`);
        return { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: s.file_size ?? file.size, width: s.width, height: s.height };
      });
    }
    const id = typeof input === 'string' ? input : input.file_id;
    const file = this.files.get(id);
    if (!file) throw new Error(`fake Telegram: unknown file_id ${id} (use addFile first)`);
    if (file.width === undefined || file.height === undefined) {
      const dims = imageSize(file.diskPath);
      file.width = dims?.width ?? 0;
      file.height = dims?.height ?? 0;
    }
    return this.photoSizes(file);
  }

  private deliverToBot(chat: ChatState, msg: Message): boolean {
    if (chat.chat.type === 'private' || chat.chat.type === 'channel') return true;
    if (!(this.opts.groupPrivacy ?? false)) return true;
    if (chat.admins.has(this.botUser.id)) return true;
    const me = this.botUser.username.toLowerCase();
    const text = (msg.text ?? msg.caption) as string | undefined;
    const entities = (msg.entities ?? msg.caption_entities ?? []) as MessageEntity[];
    if (text) {
      for (const e of entities) {
        const s = text.slice(e.offset, e.offset + e.length);
        if (e.type === 'bot_command' && e.offset === 0) {
          const at = s.indexOf('@');
          if (at < 0 || s.slice(at + 1).toLowerCase() === me) return true;
        }
        if (e.type === 'mention' && s.slice(1).toLowerCase() === me) return true;
        if (e.type === 'text_mention' && e.user?.id === this.botUser.id) return true;
      }
    }
    const reply = msg.reply_to_message as Message | undefined;
    return reply?.from?.id === this.botUser.id;
  }

  userMessage(m: UserMessageInput): Message {
    const chat = this.ensureChat(m.chat);
    this.registerUser(m.from);
    chat.members.add(m.from.id);
    const content: Record<string, unknown> = {};
    if (m.text !== undefined) {
      content.text = m.text;
      const entities = mergeEntities(m.entities ?? [], findEntities(m.text));
      if (entities.length > 0) content.entities = entities;
    }
    if (m.animation) {
      content.animation = this.userMedia('animation', m.animation);
      const { width: _w, height: _h, duration: _d, ...doc } = content.animation as Record<string, unknown>;
      content.document = doc;
    } else if (m.document) {
      content.document = this.userMedia('document', m.document);
    }
    if (m.video) content.video = this.userMedia('video', m.video);
    if (m.photo) content.photo = this.userPhoto(m.photo);
    if (m.caption !== undefined) {
      content.caption = m.caption;
      const entities = mergeEntities(m.caption_entities ?? [], findEntities(m.caption));
      if (entities.length > 0) content.caption_entities = entities;
    }
    Object.assign(content, m.extra ?? {});
    let reply: StoredMessage | undefined;
    if (m.reply_to_message_id !== undefined) {
      reply = chat.messages.get(m.reply_to_message_id);
      if (!reply) throw new Error(`fake Telegram: no message ${m.reply_to_message_id} in chat ${m.chat.id} to reply to`);
    }
    const stored = this.storeMessage(chat, { from: { ...m.from }, fromBot: false, content, reply, date: m.date });
    stored.rawText = m.text;
    stored.rawCaption = m.caption;
    if (this.deliverToBot(chat, stored.msg)) this.pushUpdate({ message: stored.msg });
    return stored.msg;
  }

  pressButton(p: { chat: Chat; from: User; messageId: number; data: string; force?: boolean }): string {
    const chat = this.chats.get(p.chat.id);
    const stored = chat?.messages.get(p.messageId);
    if (!p.force) {
      if (!stored) throw new Error(`fake Telegram: no message ${p.messageId} in chat ${p.chat.id}`);
      const buttons = ((stored.msg.reply_markup as { inline_keyboard?: InlineButton[][] } | undefined)?.inline_keyboard ?? []).flat();
      if (!buttons.some((b) => b.callback_data === p.data)) {
        throw new Error(
          `fake Telegram: message ${p.messageId} has no button with callback_data ${JSON.stringify(p.data)} ` +
            `(buttons: ${JSON.stringify(buttons.map((b) => b.callback_data ?? b.url))})`,
        );
      }
    }
    this.ensureChat(p.chat);
    this.registerUser(p.from);
    const id = ((BigInt(this.botUser.id) << 20n) + BigInt(++this.callbackSeq)).toString();
    this.callbacks.set(id, { chatId: p.chat.id, messageId: p.messageId });
    const chatInstance = ((BigInt(Math.abs(p.chat.id)) * 2654435761n) % 9_000_000_000_000_000_000n).toString();
    this.pushUpdate({
      callback_query: {
        id,
        from: { ...p.from },
        ...(stored ? { message: stored.msg } : {}),
        chat_instance: p.chat.id < 0 ? `-${chatInstance}` : chatInstance,
        data: p.data,
      },
    });
    return id;
  }

  queueUpdate(update: Record<string, unknown>): number {
    return this.pushUpdate(update);
  }

  setAdmins(chatId: number, users: Array<number | User>, opts: { creator?: number } = {}): void {
    const chat = this.chats.get(chatId) ?? this.ensureChat({ id: chatId, type: chatId < 0 ? 'supergroup' : 'private', title: `Chat ${chatId}` });
    chat.admins = new Set();
    for (const u of users) {
      if (typeof u === 'number') {
        if (!this.users.has(u)) this.users.set(u, { id: u, is_bot: false, first_name: `User ${u}` });
        chat.admins.add(u);
      } else {
        this.registerUser(u);
        chat.admins.add(u.id);
      }
    }
    if (opts.creator !== undefined) {
      chat.creator = opts.creator;
      chat.admins.add(opts.creator);
      if (!this.users.has(opts.creator)) this.users.set(opts.creator, { id: opts.creator, is_bot: false, first_name: `User ${opts.creator}` });
    }
  }

  blockBot(chatId: number, blocked = true): void {
    const chat = this.chats.get(chatId);
    if (!chat) throw new Error(`fake Telegram: unknown chat ${chatId}`);
    chat.blocked = blocked;
  }

  // -------------------------------------------------------------------------------------------
  // Observing

  chatMessages(chatId: number): ChatMessageRecord[] {
    const chat = this.chats.get(chatId);
    if (!chat) return [];
    return [...chat.messages.values()].map((s) => {
      const msg = s.msg;
      const r: ChatMessageRecord = { message_id: msg.message_id, from_bot: s.fromBot, edits: s.edits, edit_times: [...s.editTimes], message: msg };
      if (msg.from) r.from = msg.from;
      if (msg.text !== undefined) r.text = msg.text as string;
      if (msg.caption !== undefined) r.caption = msg.caption as string;
      if (msg.entities) r.entities = msg.entities as MessageEntity[];
      if (msg.caption_entities) r.caption_entities = msg.caption_entities as MessageEntity[];
      if (s.rawText !== undefined) r.raw_text = s.rawText;
      if (s.rawCaption !== undefined) r.raw_caption = s.rawCaption;
      if (s.parseMode !== undefined) r.parse_mode = s.parseMode;
      if (msg.reply_markup) r.reply_markup = msg.reply_markup as ChatMessageRecord['reply_markup'];
      if (s.keyboard !== undefined) r.keyboard = s.keyboard;
      for (const k of ['video', 'document', 'animation'] as const) if (msg[k]) r[k] = msg[k] as Record<string, unknown>;
      if (msg.photo) r.photo = msg.photo as Array<Record<string, unknown>>;
      if (msg.reply_to_message) r.reply_to_message_id = (msg.reply_to_message as Message).message_id;
      if (s.reactions !== undefined) r.reactions = s.reactions;
      return r;
    });
  }

  waitForCall(predicate: (c: FakeCall) => boolean, timeoutMs = 5000, opts: { since?: number } = {}): Promise<FakeCall> {
    let from = opts.since ?? 0;
    const scan = (): FakeCall | undefined => {
      for (; from < this.calls.length; from++) {
        const c = this.calls[from]!;
        if (predicate(c)) return c;
      }
      return undefined;
    };
    const found = scan();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        let c: FakeCall | undefined;
        try {
          c = scan();
        } catch (err) {
          done();
          reject(err);
          return;
        }
        if (c) {
          done();
          resolve(c);
        }
      };
      const done = (): void => {
        clearTimeout(timer);
        this.callWaiters.delete(wake);
      };
      const timer = setTimeout(() => {
        done();
        const recent = this.calls
          .filter((c) => c.method !== 'getUpdates')
          .slice(-10)
          .map((c) => `${c.method} → ${c.status}${c.status !== 200 ? ` ${(c.response as { description?: string }).description}` : ''}`);
        reject(new Error(`fake Telegram: no matching call within ${timeoutMs} ms; last calls: ${recent.join('; ') || 'none'}`));
      }, timeoutMs);
      this.callWaiters.add(wake);
    });
  }

  pendingUpdates(): Array<Record<string, unknown>> {
    return this.updates.map((u) => ({ ...u }));
  }

  failNext(method: string, error: FakeApiError, times = 1): void {
    const key = method === '*' ? '*' : method.toLowerCase();
    const queue = this.failures.get(key) ?? [];
    queue.push({ error, left: times });
    this.failures.set(key, queue);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.settle({ result: undefined });
    }
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if (this.ownsDir && !this.opts.keepFiles) rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startFakeTelegram(opts: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const server = new FakeTelegramServer(opts);
  await server.listen();
  return server;
}
