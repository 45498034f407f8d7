/**
 * The fake Discord (test/fakes/discord.ts), driven by the real discord.js client: what the bot's
 * end-to-end tests rely on must behave as on Discord, so the fake's own fidelity is tested here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  ApplicationCommandType,
  type ApplicationCommandDataResolvable,
  ButtonBuilder,
  ButtonStyle,
  Client,
  DiscordAPIError,
  GatewayIntentBits,
  MessageFlags,
  RESTEvents,
  StringSelectMenuBuilder,
  type Interaction,
  type RateLimitData,
} from 'discord.js';
import { WebSocket } from 'ws';
import { constants as zc, createInflate } from 'node:zlib';
import { startFakeDiscord, type DiscordUser, type FakeDiscord, type FakeDiscordOptions } from './fakes/discord.js';
import { ffmpeg, ffprobeJson, tempDir } from './helpers/media.js';

const tmp = tempDir('fake-discord-test-');
let clip: string; // a real 1 s 64x48 H.264 mp4

beforeAll(async () => {
  clip = path.join(tmp.dir, 'clip.mp4');
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=1', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', clip]);
});
afterAll(() => tmp.remove());

/** The commands the tests register, as a bot would. */
const COMMANDS: ApplicationCommandDataResolvable[] = [
  {
    name: 'enhance',
    description: 'Sharpen a dance video',
    options: [
      { type: ApplicationCommandOptionType.Attachment, name: 'video', description: 'The clip', required: true },
      {
        type: ApplicationCommandOptionType.String,
        name: 'background',
        description: 'Background',
        choices: [
          { name: 'Sunset', value: 'sunset' },
          { name: 'Studio', value: 'studio' },
        ],
      },
    ],
  },
  {
    name: 'bg',
    description: 'Find a background',
    options: [{ type: ApplicationCommandOptionType.String, name: 'query', description: 'Search', autocomplete: true, required: true }],
  },
  { name: 'ping', description: 'Ping' },
  { name: 'Enhance this', type: ApplicationCommandType.Message },
];

const closeCode = (ws: WebSocket): Promise<number> => new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));

const rejectionOf = async (p: Promise<unknown>): Promise<DiscordAPIError> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof DiscordAPIError) return e;
    throw e;
  }
  throw new Error('expected a DiscordAPIError');
};

describe('fake Discord, driven by the real discord.js client', () => {
  let dc: FakeDiscord;
  let client: Client;
  let alice: DiscordUser;
  /** Errors thrown by interaction handlers (discord.js would swallow them into an event). */
  let handlerErrors: unknown[];

  afterEach(async () => {
    await client?.destroy();
    await dc?.close();
  });

  const start = async (opts: FakeDiscordOptions = {}, intents: GatewayIntentBits[] = [GatewayIntentBits.Guilds]): Promise<void> => {
    dc = await startFakeDiscord({ heartbeatIntervalMs: 1000, ...opts });
    alice = dc.addUser({ username: 'alice' });
    handlerErrors = [];
    client = new Client({ intents, rest: { api: dc.apiBase } });
    const ready = new Promise<void>((resolve) => client.once('clientReady', () => resolve()));
    await client.login(dc.token);
    await ready;
  };

  /** Runs `fn` for each interaction, recording what it throws. */
  const onInteraction = (fn: (i: Interaction) => Promise<unknown>): void => {
    client.on('interactionCreate', (i) => void fn(i).catch((e: unknown) => handlerErrors.push(e)));
  };

  it('logs in: gateway/bot, HELLO, IDENTIFY, READY and GUILD_CREATE with roles, channels, the bot member', async () => {
    await start();
    expect(dc.apiBase).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/);
    expect(client.user?.id).toBe(dc.botUser.id);
    expect(client.user?.bot).toBe(true);
    expect(client.application?.id).toBe(dc.applicationId);
    const guild = client.guilds.cache.get(dc.guildId)!;
    expect(guild.ownerId).toBe(dc.owner.id);
    expect(guild.channels.cache.get(dc.channelId)?.name).toBe('general');
    expect(guild.roles.everyone.id).toBe(dc.guildId);
    expect(guild.members.me?.id).toBe(dc.botUser.id);

    const gb = dc.calls.find((c) => c.path === '/gateway/bot')!;
    expect(gb.auth).toBe(dc.token);
    const open = dc.gateway.events.find((e) => e.direction === 'open')!;
    expect(open.url).toMatch(/^\/?\?v=10&encoding=json$/);
    const identify = dc.gateway.events.find((e) => e.direction === 'in' && e.payload?.op === 2)!;
    expect(identify.payload?.d).toMatchObject({ token: dc.token, intents: GatewayIntentBits.Guilds, shard: [0, 1] });
    const sent = dc.gateway.events.filter((e) => e.direction === 'out').map((e) => e.payload!);
    expect(sent[0]).toMatchObject({ op: 10, d: { heartbeat_interval: 1000 } });
    expect(sent.filter((p) => p.op === 0).map((p) => [p.t, p.s])).toEqual([
      ['READY', 1],
      ['GUILD_CREATE', 2],
    ]);

    // Heartbeats are acknowledged: discord.js measures the latency from the ACK.
    await expect.poll(() => dc.gateway.events.some((e) => e.direction === 'out' && e.payload?.op === 11), { timeout: 3000 }).toBe(true);
    await expect.poll(() => client.ws.ping, { timeout: 3000 }).toBeGreaterThanOrEqual(0);

    // REST reads the bot can make.
    expect((await client.channels.fetch(dc.channelId, { force: true }))?.id).toBe(dc.channelId);
    expect((await client.guilds.fetch({ guild: dc.guildId, force: true })).name).toBe('Dance Club');
    const dm = await (await client.users.fetch(alice.id)).createDM();
    expect(dm.recipientId).toBe(alice.id);
    expect((await client.users.fetch(alice.id)).username).toBe('alice');
    expect((await client.application!.fetch()).id).toBe(dc.applicationId);
    expect((await guild.members.fetch({ user: dc.owner.id, force: true })).id).toBe(dc.owner.id);
    expect((await guild.roles.fetch()).size).toBe(2);
    const unknown = await rejectionOf(guild.members.fetch({ user: '1234567890123', force: true }));
    expect([unknown.status, unknown.code]).toEqual([404, 10007]);
  });

  it('refuses a bad token: 401 on REST (discord.js: TokenInvalid) and close 4004 on the gateway', async () => {
    dc = await startFakeDiscord();
    const bad = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: dc.apiBase } });
    await expect(bad.login(`${dc.token.slice(0, -4)}AAAA`)).rejects.toThrow(/invalid token/i);
    await bad.destroy();
    expect(dc.calls.at(-1)).toMatchObject({ path: '/gateway/bot', status: 401, response: { message: '401: Unauthorized', code: 0 } });

    const ws = new WebSocket(`${dc.gatewayUrl}/?v=10&encoding=json`);
    const hello = await new Promise<{ op: number }>((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)))));
    expect(hello.op).toBe(10);
    ws.send(JSON.stringify({ op: 2, d: { token: 'nope', intents: 1, properties: { os: 'linux', browser: 'x', device: 'x' } } }));
    expect(await closeCode(ws)).toBe(4004);

    // Privileged intents not enabled in the portal: 4014; sending before identifying: 4003.
    const dc2 = await startFakeDiscord({ privilegedIntents: 0 });
    const closeCodeOf = async (payload: unknown): Promise<number> => {
      const w = new WebSocket(`${dc2.gatewayUrl}/?v=10&encoding=json`);
      await new Promise((resolve) => w.once('message', resolve));
      w.send(JSON.stringify(payload));
      return closeCode(w);
    };
    expect(await closeCodeOf({ op: 2, d: { token: dc2.token, intents: 1 << 15, properties: {} } })).toBe(4014);
    expect(await closeCodeOf({ op: 3, d: { status: 'online' } })).toBe(4003);
    expect(await closeCodeOf({ op: 99, d: null })).toBe(4001);
    await dc2.close();
  });

  it('gateway by hand: zlib-stream compression, HEARTBEAT → ACK, RESUME of an unknown session → op 9', async () => {
    dc = await startFakeDiscord();
    // What @discordjs/ws asks for when zlib-sync is installed: one zlib stream, each message ending 00 00 ff ff.
    const ws = new WebSocket(`${dc.gatewayUrl}/?v=10&encoding=json&compress=zlib-stream`);
    const inflate = createInflate();
    const payloads: Array<{ op: number; t?: string; s?: number; d?: any }> = [];
    let text = '';
    inflate.on('data', (b: Buffer) => (text += b.toString()));
    ws.on('message', (data: Buffer) => {
      expect(data.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff]))).toBe(true);
      inflate.write(data);
      inflate.flush(zc.Z_SYNC_FLUSH, () => {
        if (text) payloads.push(JSON.parse(text));
        text = '';
      });
    });
    await expect.poll(() => payloads.length).toBe(1);
    expect(payloads[0]).toMatchObject({ op: 10, d: { heartbeat_interval: 41250 } });
    ws.send(JSON.stringify({ op: 1, d: null }));
    ws.send(JSON.stringify({ op: 2, d: { token: dc.token, intents: 1, properties: { os: 'linux', browser: 'test', device: 'test' } } }));
    await expect.poll(() => payloads.map((p) => p.t ?? p.op)).toEqual([10, 11, 'READY', 'GUILD_CREATE']);
    expect(payloads[2]!.d).toMatchObject({ v: 10, user: { id: dc.botUser.id, bot: true }, application: { id: dc.applicationId }, guilds: [{ id: dc.guildId, unavailable: true }] });
    expect(payloads[3]!.d).toMatchObject({ id: dc.guildId, owner_id: dc.owner.id, members: [{ user: { id: dc.botUser.id } }], channels: [{ id: dc.channelId, type: 0 }] });
    ws.close();

    const again = new WebSocket(`${dc.gatewayUrl}/resume?v=10&encoding=json`);
    const got: Array<{ op: number; d: unknown }> = [];
    again.on('message', (d) => got.push(JSON.parse(String(d))));
    await expect.poll(() => got.length).toBe(1);
    again.send(JSON.stringify({ op: 6, d: { token: dc.token, session_id: 'nope', seq: 1 } }));
    await expect.poll(() => got.at(-1)).toEqual({ op: 9, d: false, s: null, t: null });
    again.close();
    expect((await new Promise<number>((resolve) => new WebSocket(`${dc.gatewayUrl}/?v=8&encoding=json`).once('close', resolve)))).toBe(4012);
  });

  it('registers commands with application.commands.set, validating them like Discord (50035)', async () => {
    await start();
    const set = await client.application!.commands.set(COMMANDS);
    expect([...set.values()].map((c) => c.name).sort()).toEqual(['Enhance this', 'bg', 'enhance', 'ping']);
    expect(dc.calls.find((c) => c.method === 'PUT')).toMatchObject({ path: `/applications/${dc.applicationId}/commands`, status: 200 });
    expect(dc.commands().find((c) => c.name === 'enhance')?.options?.[0]).toMatchObject({ type: 11, name: 'video', required: true });
    // Ids survive a re-registration of the same name, as on Discord.
    const again = await client.application!.commands.set(COMMANDS);
    expect(again.find((c) => c.name === 'enhance')?.id).toBe(set.find((c) => c.name === 'enhance')?.id);

    const guildSet = await client.application!.commands.set([{ name: 'ping', description: 'Ping' }], dc.guildId);
    expect(guildSet.first()?.guildId).toBe(dc.guildId);
    expect(dc.commands(dc.guildId)).toHaveLength(1);
    expect((await client.application!.commands.fetch({ guildId: dc.guildId })).size).toBe(1);

    const bad = await rejectionOf(
      client.application!.commands.set([
        { name: 'Enhance', description: 'upper case' },
        { name: 'x', description: 'd', options: [{ type: ApplicationCommandOptionType.String, name: 'o', description: 'd', choices: Array.from({ length: 26 }, (_, i) => ({ name: `c${i}`, value: `v${i}` })) }] },
      ]),
    );
    expect([bad.status, bad.code, bad.message]).toEqual([400, 50035, expect.stringContaining('Invalid Form Body')]);
    const errors = bad.rawError as { errors: Record<string, any> };
    expect(errors.errors['0'].name._errors[0].code).toBe('APPLICATION_COMMAND_INVALID_NAME');
    expect(errors.errors['1'].options['0'].choices._errors[0]).toEqual({ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 25 or fewer in length.' });
  });

  it('a slash command with an attachment: deferReply, editReply with a file (multipart), ephemeral followUp', async () => {
    await start();
    await client.application!.commands.set(COMMANDS);
    const input = dc.addAttachment(clip, { filename: 'my dance.mp4' });
    expect(input).toMatchObject({ filename: 'my_dance.mp4', size: statSync(clip).size, content_type: 'video/mp4', width: 64, height: 48 });

    let downloaded = 0;
    onInteraction(async (i) => {
      if (!i.isChatInputCommand()) return;
      await i.deferReply();
      const video = i.options.getAttachment('video', true);
      const res = await fetch(video.url);
      downloaded = (await res.arrayBuffer()).byteLength;
      await i.editReply({ content: `done (${i.options.getString('background')})`, files: [{ attachment: clip, name: 'out.mp4' }] });
      await i.followUp({ content: 'stats: 1.0x realtime', flags: MessageFlags.Ephemeral });
    });

    const { id } = dc.slashCommand({ user: alice, name: 'enhance', attachments: { video: input }, options: { background: 'sunset' }, locale: 'fr' });
    const payload = dc.interaction(id)!.payload;
    expect(payload).toMatchObject({
      type: 2,
      guild_id: dc.guildId,
      locale: 'fr',
      guild_locale: 'en-US',
      context: 0,
      authorizing_integration_owners: { '0': dc.guildId },
      attachment_size_limit: 10 * 1024 * 1024,
      entitlements: [],
      member: { user: { id: alice.id } },
      data: { name: 'enhance', type: 1, resolved: { attachments: { [input.id]: { filename: 'my_dance.mp4' } } } },
    });
    expect(typeof (payload.member as { permissions: string }).permissions).toBe('string');

    const followup = await dc.waitForCall((c) => c.method === 'POST' && c.route === '/webhooks/:app/:token');
    expect(handlerErrors).toEqual([]);
    expect(downloaded).toBe(statSync(clip).size);
    expect(dc.downloads.at(-1)).toMatchObject({ attachmentId: input.id, status: 200 });

    expect(dc.interactionResponse(id)).toMatchObject({ type: 5 });
    const edit = dc.calls.find((c) => c.method === 'PATCH')!;
    expect(edit).toMatchObject({ route: '/webhooks/:app/:token/messages/:message', multipart: true, status: 200, auth: undefined });
    expect(edit.path.endsWith('/messages/@original')).toBe(true);
    expect(edit.files).toHaveLength(1);
    expect(edit.files[0]).toMatchObject({ field: 'files[0]', filename: 'out.mp4', bytes: statSync(clip).size });
    const probe = await ffprobeJson(dc.uploads[0]!.path);
    expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', width: 64, height: 48 });

    const [original, stats] = dc.messages();
    expect(original).toMatchObject({ content: 'done (sunset)', ephemeral: false, fromBot: true, edited: true, interactionId: id });
    expect(original!.flags & MessageFlags.Loading).toBe(0);
    expect(original!.json).toMatchObject({ type: 20, webhook_id: dc.applicationId, interaction_metadata: { id, type: 2, name: 'enhance' } });
    expect(original!.attachments[0]).toMatchObject({ filename: 'out.mp4', content_type: 'video/mp4', width: 64, height: 48 });
    expect(stats).toMatchObject({ content: 'stats: 1.0x realtime', ephemeral: true });
    expect(followup.response).toMatchObject({ flags: 64 });

    // The bot's upload is served by the CDN, signed; an unsigned URL is refused.
    const got = Buffer.from(await (await fetch(original!.attachments[0]!.url)).arrayBuffer());
    expect(got.equals(readFileSync(clip))).toBe(true);
    const ranged = await fetch(original!.attachments[0]!.url, { headers: { range: 'bytes=0-9' } });
    expect([ranged.status, (await ranged.arrayBuffer()).byteLength]).toEqual([206, 10]);
    expect((await fetch(original!.attachments[0]!.url.split('?')[0]!)).status).toBe(404);

    // An ephemeral message is unknown to channel routes.
    const e = await rejectionOf(client.rest.get(`/channels/${dc.channelId}/messages/${stats!.id}`));
    expect([e.status, e.code]).toEqual([404, 10008]);
  });

  it('refuses a second response (40060) and a late first one (10062)', async () => {
    await start({ interactionResponseWindowMs: 300 });
    await client.application!.commands.set(COMMANDS);
    const seen: string[] = [];
    onInteraction(async (i) => {
      if (!i.isChatInputCommand()) return;
      if (i.options.data.length === 0 && seen.length === 1) await new Promise((r) => setTimeout(r, 500));
      seen.push(i.id);
      await i.reply({ content: 'pong', withResponse: seen.length === 1 });
    });
    const first = dc.slashCommand({ user: alice, name: 'ping' });
    await dc.waitForResponse(first.id);
    expect(dc.messages().at(-1)).toMatchObject({ content: 'pong' });
    // discord.js refuses a second reply itself, so ask Discord directly, as another process might.
    const again = await fetch(`${dc.apiBase}/v10/interactions/${first.id}/${first.token}/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 4, data: { content: 'again' } }),
    });
    expect([again.status, await again.json()]).toEqual([400, { message: 'Interaction has already been acknowledged.', code: 40060 }]);

    dc.slashCommand({ user: alice, name: 'ping' });
    await expect.poll(() => handlerErrors.length, { timeout: 3000 }).toBe(1);
    expect(handlerErrors[0]).toMatchObject({ status: 404, code: 10062, message: 'Unknown interaction' });
  });

  it('a button press answered with update; a string select answered with deferUpdate + editReply', async () => {
    await start();
    await client.application!.commands.set(COMMANDS);
    onInteraction(async (i) => {
      if (i.isChatInputCommand()) {
        const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
          new ButtonBuilder().setCustomId('bg:sunset').setLabel('Sunset').setStyle(ButtonStyle.Primary),
          new ButtonBuilder().setCustomId('bg:off').setLabel('Off').setStyle(ButtonStyle.Secondary).setDisabled(true),
        );
        const select = new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(
          new StringSelectMenuBuilder().setCustomId('scale').addOptions({ label: 'x2', value: '2' }, { label: 'x4', value: '4' }),
        );
        await i.reply({ content: 'Pick a background', components: [row, select] });
      } else if (i.isButton()) {
        await i.update({ content: `Background: ${i.customId.slice(3)}`, components: [] });
      } else if (i.isStringSelectMenu()) {
        await i.deferUpdate();
        await i.editReply({ content: `Scale ${i.values.join()}` });
      }
    });
    dc.slashCommand({ user: alice, name: 'ping' });
    const menu = (await dc.waitForCall((c) => c.route.endsWith('/callback') && c.status === 204)) && dc.messages().at(-1)!;
    expect(menu.components[0]).toMatchObject({ type: 1, components: [{ type: 2, custom_id: 'bg:sunset', label: 'Sunset' }, { disabled: true }] });
    expect(() => dc.pressComponent({ user: alice, messageId: menu.id, customId: 'bg:off' })).toThrow(/disabled/);
    expect(() => dc.pressComponent({ user: alice, messageId: menu.id, customId: 'scale', values: ['3'] })).toThrow(/not an option/);

    const select = dc.pressComponent({ user: alice, messageId: menu.id, customId: 'scale', values: ['4'] });
    expect(select.payload).toMatchObject({ type: 3, data: { custom_id: 'scale', component_type: 3, values: ['4'] }, message: { id: menu.id } });
    await dc.waitForCall((c) => c.method === 'PATCH' && c.status === 200);
    expect(dc.message(menu.id)).toMatchObject({ content: 'Scale 4', edited: true });

    const press = dc.pressComponent({ user: alice, messageId: menu.id, customId: 'bg:sunset' });
    expect((await dc.waitForResponse(press.id)).type).toBe(7);
    expect(dc.message(menu.id)).toMatchObject({ content: 'Background: sunset', components: [], edits: 2 });
    expect(handlerErrors).toEqual([]);
  });

  it('a 429 on an edit is waited out and retried by discord.js; a global one too', async () => {
    await start();
    await client.application!.commands.set(COMMANDS);
    const limited: RateLimitData[] = [];
    client.rest.on(RESTEvents.RateLimited, (d) => limited.push(d));
    let editedAt = 0;
    onInteraction(async (i) => {
      if (!i.isChatInputCommand()) return;
      await i.deferReply();
      await i.editReply('working…');
      editedAt = Date.now();
      await i.editReply('done');
    });
    dc.failNext('PATCH', '/webhooks/:app/:token/messages/@original', 429, { retryAfter: 0.2 });
    const t0 = Date.now();
    dc.slashCommand({ user: alice, name: 'ping' });
    await dc.waitForCall((c) => c.method === 'PATCH' && c.status === 200 && (c.body as { content?: string }).content === 'done', 8000);
    const patches = dc.calls.filter((c) => c.method === 'PATCH');
    expect(patches.map((c) => c.status)).toEqual([429, 200, 200]);
    expect(patches[0]!.response).toEqual({ message: 'You are being rate limited.', retry_after: 0.2, global: false });
    // Retry-After is whole seconds (1), which discord.js waits out before retrying.
    expect(editedAt - t0).toBeGreaterThanOrEqual(900);
    // A route 429 is slept off inside the handler; discord.js emits no rateLimited event for it.
    expect(limited).toEqual([]);
    expect(dc.messages().at(-1)?.content).toBe('done');

    dc.failNext('POST', `/channels/${dc.channelId}/messages`, 429, { retryAfter: 0.5, global: true });
    const channel = await client.channels.fetch(dc.channelId);
    if (!channel?.isSendable()) throw new Error('not sendable');
    await channel.send('hello');
    // A global 429 blocks every route until it resets: discord.js reports waiting on it.
    expect(limited.at(-1)).toMatchObject({ global: true });
    expect(dc.messages().at(-1)?.content).toBe('hello');
    const posted = dc.calls.filter((c) => c.method === 'POST' && c.route === '/channels/:channel/messages');
    expect(posted.map((c) => c.status)).toEqual([429, 200]);
    expect(Number(dc.calls.at(-1)!.status)).toBe(200);
  });

  it('an expired interaction token answers 401 50027 Invalid Webhook Token', async () => {
    await start({ interactionTokenLifetimeMs: 600 });
    await client.application!.commands.set(COMMANDS);
    onInteraction(async (i) => {
      if (!i.isChatInputCommand()) return;
      await i.deferReply();
      await new Promise((r) => setTimeout(r, 800));
      await i.editReply('too late');
    });
    dc.slashCommand({ user: alice, name: 'ping' });
    await expect.poll(() => handlerErrors.length, { timeout: 3000 }).toBe(1);
    expect(handlerErrors[0]).toBeInstanceOf(DiscordAPIError);
    expect(handlerErrors[0]).toMatchObject({ status: 401, code: 50027, message: 'Invalid Webhook Token' });
    expect(dc.messages().at(-1)!.flags & MessageFlags.Loading).toBe(MessageFlags.Loading);
  });

  it('validates message bodies (50035 with the errors tree), refuses empty messages, edits of others, big uploads', async () => {
    await start();
    const channel = await client.channels.fetch(dc.channelId);
    if (!channel?.isSendable()) throw new Error('not sendable');

    const long = await rejectionOf(channel.send('x'.repeat(2001)));
    expect([long.status, long.code]).toEqual([400, 50035]);
    expect((long.rawError as any).errors).toEqual({ content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] } });

    const embeds = await rejectionOf(
      channel.send({ embeds: [{ title: 't'.repeat(257), fields: [{ name: 'n', value: 'v'.repeat(1025) }] }, { description: 'd'.repeat(4096) }, { description: 'd'.repeat(2000) }] }),
    );
    const ee = (embeds.rawError as any).errors.embeds;
    expect(ee['0'].title._errors[0].code).toBe('BASE_TYPE_MAX_LENGTH');
    expect(ee['0'].fields['0'].value._errors[0]).toEqual({ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 1024 in length.' });
    expect(ee._errors[0].code).toBe('MAX_EMBED_SIZE_EXCEEDED');

    const button = (id: string) => ({ type: 2, style: 1, label: 'b', custom_id: id });
    const rows = await rejectionOf(
      client.rest.post(`/channels/${dc.channelId}/messages`, {
        body: {
          content: 'menu',
          components: [
            { type: 1, components: [button('a'), button('b'), button('c'), button('d'), button('e'), button('f')] },
            { type: 1, components: [button('x'.repeat(101)), { type: 2, style: 1, label: 'l'.repeat(81), custom_id: 'g' }, button('a')] },
            { type: 1, components: [{ type: 3, custom_id: 's', options: Array.from({ length: 26 }, (_, i) => ({ label: `o${i}`, value: `${i}` })) }] },
            ...Array.from({ length: 3 }, (_, i) => ({ type: 1, components: [button(`r${i}`)] })),
          ],
        },
      }),
    );
    const ce = (rows.rawError as any).errors.components;
    expect(ce._errors[0].message).toBe('Must be 5 or fewer in length.');
    expect(ce['0'].components._errors[0].message).toBe('Must be between 1 and 5 in length.');
    expect(ce['1'].components['0'].custom_id._errors[0].message).toBe('Must be between 1 and 100 in length.');
    expect(ce['1'].components['1'].label._errors[0].message).toBe('Must be 80 or fewer in length.');
    expect(ce['1'].components['2'].custom_id._errors[0].code).toBe('COMPONENT_CUSTOM_ID_DUPLICATED');
    expect(ce['2'].components['0'].options._errors[0].message).toBe('Must be between 1 and 25 in length.');

    const empty = await rejectionOf(client.rest.post(`/channels/${dc.channelId}/messages`, { body: { content: '' } }));
    expect([empty.status, empty.code]).toEqual([400, 50006]);

    // A user's message: the bot may not edit it (50005), and may delete it only with MANAGE_MESSAGES.
    const theirs = dc.userMessage({ user: alice, content: 'my clip' });
    const edit = await rejectionOf(channel.messages.edit(theirs.id, 'hacked'));
    expect([edit.status, edit.code, edit.message]).toEqual([403, 50005, 'Cannot edit a message authored by another user']);
    const mine = await channel.send('mine');
    await mine.edit('mine, edited');
    expect(dc.message(mine.id)).toMatchObject({ content: 'mine, edited', edited: true });

    dc.setUploadLimit(dc.guildId, 1000);
    const big = await rejectionOf(channel.send({ files: [{ attachment: clip, name: 'big.mp4' }] }));
    expect([big.status, big.code, big.message]).toEqual([413, 40005, 'Request entity too large']);
  });

  it('autocomplete and message commands carry what Discord sends', async () => {
    await start();
    await client.application!.commands.set(COMMANDS);
    onInteraction(async (i) => {
      if (i.isAutocomplete()) {
        const q = i.options.getFocused();
        await i.respond(['sunset', 'studio', 'beach'].filter((b) => b.startsWith(q)).map((b) => ({ name: b, value: b })));
      } else if (i.isMessageContextMenuCommand()) {
        await i.reply({ content: `target has ${i.targetMessage.attachments.size} attachment(s)`, flags: MessageFlags.Ephemeral });
      }
    });
    const ac = dc.autocomplete({ user: alice, name: 'bg', focused: 'query', options: { query: 's' } });
    expect(ac.payload).toMatchObject({ type: 4, data: { options: [{ name: 'query', value: 's', focused: true }] } });
    expect(await dc.waitForResponse(ac.id)).toMatchObject({ type: 8, data: { choices: [{ name: 'sunset' }, { name: 'studio' }] } });

    const clipAtt = dc.addAttachment(clip, { filename: 'clip.mp4' });
    const target = dc.userMessage({ user: alice, content: 'look', attachments: [clipAtt] });
    const mc = dc.messageCommand({ user: alice, name: 'Enhance this', messageId: target.id });
    expect(mc.payload).toMatchObject({ data: { type: 3, target_id: target.id, resolved: { messages: { [target.id]: { content: 'look' } } } } });
    await dc.waitForResponse(mc.id);
    expect(dc.messages().at(-1)).toMatchObject({ content: 'target has 1 attachment(s)', ephemeral: true });
    expect(dc.messages().at(-1)!.json.type).toBe(23);

    expect(() => dc.slashCommand({ user: alice, name: 'nope' })).toThrow(/not registered/);
    expect(() => dc.slashCommand({ user: alice, name: 'enhance' })).toThrow(/required option "video"/);
    expect(handlerErrors).toEqual([]);
  });

  it('resumes after a dropped connection on resume_gateway_url, replaying missed dispatches', async () => {
    await start();
    await client.application!.commands.set(COMMANDS);
    const got: string[] = [];
    onInteraction(async (i) => {
      got.push(i.id);
      if (i.isChatInputCommand()) await i.reply('pong');
    });
    dc.gateway.disconnect(4000);
    // Dispatched while the client is away: buffered in the session, replayed on RESUME.
    const missed = dc.slashCommand({ user: alice, name: 'ping' });
    await expect.poll(() => dc.gateway.events.some((e) => e.direction === 'out' && e.payload?.t === 'RESUMED'), { timeout: 5000 }).toBe(true);
    const opens = dc.gateway.events.filter((e) => e.direction === 'open');
    expect(opens.at(-1)?.url).toMatch(/^\/resume\?v=10&encoding=json$/);
    expect(dc.gateway.events.some((e) => e.direction === 'in' && e.payload?.op === 6)).toBe(true);
    await expect.poll(() => got, { timeout: 3000 }).toContain(missed.id);
    // Past the 3 s window the reply would fail; replayed fast enough, it lands.
    await dc.waitForResponse(missed.id);
    expect(handlerErrors).toEqual([]);
  });

  it('rate-limit headers on bot routes, failNext for other statuses, unknown routes 404', async () => {
    await start();
    const res = await fetch(`${dc.apiBase}/v10/users/@me`, { headers: { authorization: `Bot ${dc.token}` } });
    expect(res.headers.get('x-ratelimit-limit')).toBe('50');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('49');
    expect(Number(res.headers.get('x-ratelimit-reset-after'))).toBeGreaterThan(0);
    expect(res.headers.get('x-ratelimit-bucket')).toMatch(/^[0-9a-f]{32}$/);
    expect((await fetch(`${dc.apiBase}/v10/nope`)).status).toBe(404);
    expect((await fetch(`${dc.apiBase}/v6/users/@me`)).status).toBe(400);

    dc.failNext('GET', '/channels/:channel', 500, { times: 1 });
    expect((await client.channels.fetch(dc.channelId, { force: true }))?.id).toBe(dc.channelId); // retried by discord.js
    dc.failNext('GET', '/channels/:channel', 403, { code: 50001, message: 'Missing Access' });
    const e = await rejectionOf(client.channels.fetch(dc.channelId, { force: true }));
    expect([e.status, e.code]).toEqual([403, 50001]);
  });
});
