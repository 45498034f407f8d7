/**
 * The fake Discord gateway: a WebSocket server speaking gateway v10 with JSON encoding, as
 * described in Topics → Gateway and Topics → Opcodes and Status Codes.
 *
 * - `?v=` must be 9 or 10 (else close 4012), `?encoding=json` (etf is not spoken here: close 4002);
 *   `&compress=zlib-stream` gets one zlib stream for the whole connection, each message ending in a
 *   Z_SYNC_FLUSH marker (Gateway → Transport Compression). discord.js asks for it only when
 *   `zlib-sync` is installed.
 * - HELLO (op 10) first; the client must IDENTIFY (op 2) or RESUME (op 6) before anything else
 *   (4003), only once (4005); a bad token closes 4004, invalid intents 4013, privileged intents not
 *   enabled 4014, a bad shard 4010; unknown opcodes 4001, undecodable payloads 4002.
 * - READY, then one GUILD_CREATE per guild when the GUILDS intent is set; dispatches carry
 *   increasing sequence numbers per session, kept so RESUME replays what the client missed and
 *   ends with RESUMED; an unknown session or sequence answers INVALID_SESSION (op 9, d: false).
 * - HEARTBEAT (op 1) → HEARTBEAT_ACK (op 11) at any time; a connection silent for longer than 1.5
 *   heartbeat intervals is closed with 4009 Session timed out (resumable), as a zombie would be.
 * - Tests can send RECONNECT (op 7), INVALID_SESSION (op 9) or drop connections to exercise resuming.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { constants as zc, createDeflate, type Deflate } from 'node:zlib';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { ALL_INTENTS, PRIVILEGED_INTENTS, snowflake } from './discord-model.js';

export const GatewayOp = {
  DISPATCH: 0,
  HEARTBEAT: 1,
  IDENTIFY: 2,
  PRESENCE_UPDATE: 3,
  VOICE_STATE_UPDATE: 4,
  RESUME: 6,
  RECONNECT: 7,
  REQUEST_GUILD_MEMBERS: 8,
  INVALID_SESSION: 9,
  HELLO: 10,
  HEARTBEAT_ACK: 11,
  REQUEST_SOUNDBOARD_SOUNDS: 31,
} as const;

export const GatewayClose = {
  UNKNOWN_ERROR: 4000,
  UNKNOWN_OPCODE: 4001,
  DECODE_ERROR: 4002,
  NOT_AUTHENTICATED: 4003,
  AUTHENTICATION_FAILED: 4004,
  ALREADY_AUTHENTICATED: 4005,
  INVALID_SEQ: 4007,
  RATE_LIMITED: 4008,
  SESSION_TIMED_OUT: 4009,
  INVALID_SHARD: 4010,
  INVALID_API_VERSION: 4012,
  INVALID_INTENTS: 4013,
  DISALLOWED_INTENTS: 4014,
} as const;

interface Payload {
  op: number;
  d?: unknown;
  s?: number | null;
  t?: string | null;
}

export interface GatewaySession {
  id: string;
  intents: number;
  shard: [number, number];
  seq: number;
  /** Dispatches sent in this session, for RESUME replay. */
  sent: Payload[];
  connection?: GatewayConnection;
  identify: Record<string, unknown>;
}

/** What the gateway needs from the rest of the fake. */
export interface GatewayHost {
  checkToken(token: string): boolean;
  privilegedIntents: number;
  heartbeatIntervalMs: number;
  /** The READY payload for a session (without session fields, which the gateway adds). */
  readyPayload(session: GatewaySession): Record<string, unknown>;
  /** GUILD_CREATE payloads for a session's intents. */
  guildCreates(session: GatewaySession): Array<Record<string, unknown>>;
  /** `ws://127.0.0.1:PORT/...` for READY's resume_gateway_url. */
  resumeUrl(): string;
}

/** A log entry of the gateway traffic, for tests. */
export interface GatewayEvent {
  direction: 'in' | 'out' | 'close' | 'open';
  at: number;
  payload?: Payload;
  code?: number;
  /** The URL path and query the client connected with (on 'open'). */
  url?: string;
}

class GatewayConnection {
  session?: GatewaySession;
  private lastBeat = Date.now();
  private watchdog: NodeJS.Timeout;
  private deflate?: Deflate;
  /** Compressed output not yet sent: one WebSocket message per payload, ending at the sync flush. */
  private pending: Buffer[] = [];
  closed = false;

  constructor(
    private readonly gw: FakeGateway,
    readonly socket: WebSocket,
    compress: boolean,
  ) {
    if (compress) {
      this.deflate = createDeflate({ flush: zc.Z_NO_FLUSH });
      this.deflate.on('data', (chunk: Buffer) => this.pending.push(chunk));
      this.deflate.on('error', () => undefined);
    }
    const interval = gw.host.heartbeatIntervalMs;
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastBeat > interval * 1.5 + 1000) this.close(GatewayClose.SESSION_TIMED_OUT, 'Session timed out');
    }, Math.min(interval, 5000));
    this.watchdog.unref();
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('close', (code) => this.onClosed(code));
    socket.on('error', () => undefined);
    this.send({ op: GatewayOp.HELLO, d: { heartbeat_interval: interval, _trace: ['["gateway-fake",{"micros":0}]'] }, s: null, t: null });
  }

  send(payload: Payload): void {
    if (this.closed) return;
    this.gw.log({ direction: 'out', at: Date.now(), payload });
    const text = JSON.stringify(payload);
    if (this.deflate) {
      // One shared zlib context; each payload ends with 00 00 ff ff (Gateway → Transport Compression).
      this.deflate.write(text);
      this.deflate.flush(zc.Z_SYNC_FLUSH, () => {
        const message = Buffer.concat(this.pending);
        this.pending = [];
        if (message.length && this.socket.readyState === this.socket.OPEN) this.socket.send(message, { binary: true });
      });
    } else if (this.socket.readyState === this.socket.OPEN) this.socket.send(text);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.gw.log({ direction: 'close', at: Date.now(), code });
    if (this.session?.connection === this) this.session.connection = undefined;
    // Let buffered (compressed) output reach the client before the close frame.
    setTimeout(() => this.socket.close(code, reason), this.deflate ? 20 : 0);
  }

  private onClosed(code: number): void {
    if (!this.closed) this.gw.log({ direction: 'close', at: Date.now(), code });
    this.closed = true;
    clearInterval(this.watchdog);
    this.deflate?.destroy();
    if (this.session?.connection === this) this.session.connection = undefined;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    let payload: Payload;
    try {
      if (isBinary) throw new Error('binary');
      payload = JSON.parse(data.toString()) as Payload;
      if (typeof payload !== 'object' || payload === null || typeof payload.op !== 'number') throw new Error('shape');
    } catch {
      return this.close(GatewayClose.DECODE_ERROR, 'Error while decoding payload.');
    }
    this.gw.log({ direction: 'in', at: Date.now(), payload });
    this.lastBeat = Date.now();
    this.handle(payload);
  }

  private handle(p: Payload): void {
    switch (p.op) {
      case GatewayOp.HEARTBEAT:
        return this.send({ op: GatewayOp.HEARTBEAT_ACK, d: null, s: null, t: null });
      case GatewayOp.IDENTIFY:
        return this.identify(p.d);
      case GatewayOp.RESUME:
        return this.resume(p.d);
      case GatewayOp.PRESENCE_UPDATE:
      case GatewayOp.VOICE_STATE_UPDATE:
      case GatewayOp.REQUEST_GUILD_MEMBERS:
      case GatewayOp.REQUEST_SOUNDBOARD_SOUNDS:
        if (!this.session) return this.close(GatewayClose.NOT_AUTHENTICATED, 'Not authenticated.');
        return; // accepted, nothing the fake needs to answer
      default:
        return this.close(GatewayClose.UNKNOWN_OPCODE, 'Unknown opcode.');
    }
  }

  private identify(d: unknown): void {
    if (this.session) return this.close(GatewayClose.ALREADY_AUTHENTICATED, 'Already authenticated.');
    const id = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
    if (typeof id.token !== 'string' || !this.gw.host.checkToken(id.token)) {
      return this.close(GatewayClose.AUTHENTICATION_FAILED, 'Authentication failed.');
    }
    const intents = id.intents;
    if (typeof intents !== 'number' || !Number.isInteger(intents) || intents < 0 || (intents & ~ALL_INTENTS) !== 0) {
      return this.close(GatewayClose.INVALID_INTENTS, 'Invalid intent(s).');
    }
    if (intents & PRIVILEGED_INTENTS & ~this.gw.host.privilegedIntents) {
      return this.close(GatewayClose.DISALLOWED_INTENTS, 'Disallowed intent(s).');
    }
    const shard = Array.isArray(id.shard) ? (id.shard as [number, number]) : ([0, 1] as [number, number]);
    if (shard.length !== 2 || shard[1]! < 1 || shard[0]! < 0 || shard[0]! >= shard[1]!) {
      return this.close(GatewayClose.INVALID_SHARD, 'Invalid shard.');
    }
    const session: GatewaySession = { id: snowflake().slice(-8) + Math.random().toString(16).slice(2, 26), intents, shard, seq: 0, sent: [], connection: this, identify: id };
    this.session = session;
    this.gw.sessions.set(session.id, session);
    const ready = { ...this.gw.host.readyPayload(session), session_id: session.id, resume_gateway_url: this.gw.host.resumeUrl(), shard };
    this.gw.dispatchTo(session, 'READY', ready);
    for (const g of this.gw.host.guildCreates(session)) this.gw.dispatchTo(session, 'GUILD_CREATE', g);
  }

  private resume(d: unknown): void {
    if (this.session) return this.close(GatewayClose.ALREADY_AUTHENTICATED, 'Already authenticated.');
    const r = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
    if (typeof r.token !== 'string' || !this.gw.host.checkToken(r.token)) {
      return this.close(GatewayClose.AUTHENTICATION_FAILED, 'Authentication failed.');
    }
    const session = typeof r.session_id === 'string' ? this.gw.sessions.get(r.session_id) : undefined;
    const seq = typeof r.seq === 'number' ? r.seq : -1;
    if (!session || seq < 0 || seq > session.seq) {
      // Not resumable: the client must identify again (Gateway → Resuming).
      return this.send({ op: GatewayOp.INVALID_SESSION, d: false, s: null, t: null });
    }
    session.connection?.close(GatewayClose.UNKNOWN_ERROR, 'Session resumed elsewhere.');
    session.connection = this;
    this.session = session;
    for (const p of session.sent) if ((p.s ?? 0) > seq) this.send(p);
    this.gw.dispatchTo(session, 'RESUMED', null);
  }
}

export class FakeGateway {
  readonly sessions = new Map<string, GatewaySession>();
  readonly events: GatewayEvent[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly connections = new Set<GatewayConnection>();

  constructor(readonly host: GatewayHost) {}

  log(e: GatewayEvent): void {
    this.events.push(e);
  }

  /** Takes over HTTP upgrades on the fake's server. */
  attach(server: http.Server): void {
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'ws://127.0.0.1');
      this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, url));
    });
  }

  private open(ws: WebSocket, url: URL): void {
    this.log({ direction: 'open', at: Date.now(), url: url.pathname + url.search });
    const v = url.searchParams.get('v');
    const encoding = url.searchParams.get('encoding') ?? 'json';
    const compress = url.searchParams.get('compress');
    if (v !== null && v !== '9' && v !== '10') return void ws.close(GatewayClose.INVALID_API_VERSION, 'Invalid API version.');
    if (encoding !== 'json') return void ws.close(GatewayClose.DECODE_ERROR, 'Only JSON encoding is supported by this fake.');
    if (compress !== null && compress !== 'zlib-stream') return void ws.close(GatewayClose.DECODE_ERROR, 'Unknown compression.');
    const conn = new GatewayConnection(this, ws, compress === 'zlib-stream');
    this.connections.add(conn);
    ws.on('close', () => this.connections.delete(conn));
  }

  /** Sends a dispatch in one session (buffered for RESUME if it is between connections). */
  dispatchTo(session: GatewaySession, t: string, d: unknown): void {
    const payload: Payload = { op: GatewayOp.DISPATCH, t, s: ++session.seq, d };
    session.sent.push(payload);
    session.connection?.send(payload);
  }

  /** Dispatches to every live session whose intents include `intent` (0: no intent needed). */
  dispatch(t: string, d: unknown, intent = 0): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (intent && !(s.intents & intent)) continue;
      this.dispatchTo(s, t, d);
      n++;
    }
    return n;
  }

  /** Sessions with a connection open now. */
  liveSessions(): GatewaySession[] {
    return [...this.sessions.values()].filter((s) => s.connection && !s.connection.closed);
  }

  /** Opcode 7: ask clients to reconnect and resume. */
  requestReconnect(): void {
    for (const c of this.connections) c.send({ op: GatewayOp.RECONNECT, d: null, s: null, t: null });
  }

  /** Drop every connection with `code` (4000: resumable); `invalidate` also forgets the sessions. */
  disconnect(code: number = GatewayClose.UNKNOWN_ERROR, invalidate = false): void {
    for (const c of this.connections) c.close(code, 'Disconnected by the test.');
    if (invalidate) this.sessions.clear();
  }

  /** Op 9: the session is gone (`resumable` false → the client must identify again). */
  invalidateSessions(resumable = false): void {
    for (const c of this.connections) c.send({ op: GatewayOp.INVALID_SESSION, d: resumable, s: null, t: null });
    if (!resumable) this.sessions.clear();
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.terminate();
    this.connections.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
