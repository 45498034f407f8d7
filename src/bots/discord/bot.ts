/**
 * The Discord bot (discord.js): logs in over the gateway, registers its application commands (when
 * their definitions changed), hands interactions to interactions.ts, and delivers results from the
 * `deliver-discord` queue. It only uses interactions, so it needs no privileged intent (not even
 * Message Content): the Guilds intent keeps discord.js's channel cache sane, nothing more.
 */
import path from 'node:path';
import { Client, Events, GatewayIntentBits, Routes, type REST } from 'discord.js';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { createHash } from 'node:crypto';
import { startDeliverWorker } from '../../queue/deliver.js';
import type { Service } from '../../service/context.js';
import { BotFlow } from '../flow.js';
import { botLibrary, type BotLibrary } from '../library-warmup.js';
import { commandDefinitions } from './commands.js';
import { interactionHandler } from './interactions.js';
import { DEFAULT_UPLOAD_LIMIT_BYTES, MB } from './parse.js';
import { DiscordUi } from './ui.js';

export interface DiscordBot {
  client: Client;
  flow: BotFlow;
  ui: DiscordUi;
  library: BotLibrary;
  applicationId: string;
  close(): Promise<void>;
}

const SWEEP_EVERY_MS = 30 * 60 * 1000;
const READY_TIMEOUT_MS = 60_000;


export async function startDiscordBot(service: Service, log: Logger): Promise<DiscordBot> {
  const dc = service.config.discord;
  const capBytes = dc.uploadLimitMb * MB;
  // The REST timeout covers a whole request, an upload included: discord.js's 15 s aborts big videos.
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: dc.apiUrl, timeout: dc.restTimeoutS * 1000 } });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('discord: no READY from the gateway')), READY_TIMEOUT_MS);
    client.once(Events.ClientReady, () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await client.login(dc.token);
  await ready;
  const applicationId = client.application?.id;
  if (!applicationId) throw new Error('discord: READY carried no application id');
  const rest: REST = client.rest;
  rest.on('rateLimited', (info) => log.info({ route: info.route, retryAfter: info.retryAfter, global: info.global }, 'discord 429: waiting'));

  const library = botLibrary(service.config, log);
  const ui = new DiscordUi(rest, service.redis, `${service.config.queue.prefix}:bot:discord`, { editIntervalMs: dc.editIntervalMs, tokenLifetimeMs: dc.tokenLifetimeS * 1000 }, log);
  const flow = new BotFlow(service, {
    platform: 'discord',
    ui,
    uploadLimitBytes: Math.min(DEFAULT_UPLOAD_LIMIT_BYTES, capBytes),
    uploadLimitFor: (r) => {
      const n = Number(r.reply?.uploadLimit);
      return Number.isFinite(n) && n > 0 ? Math.min(n, capBytes) : Math.min(DEFAULT_UPLOAD_LIMIT_BYTES, capBytes);
    },
    linkWithStats: true,
    pollIntervalMs: dc.pollIntervalMs,
    menuPageSize: dc.menuPageSize,
    incomingDir: path.join(service.config.dataDir, 'incoming', 'discord'),
    library,
    log,
  });

  await registerCommands(service, rest, applicationId, log);

  client.on(Events.InteractionCreate, interactionHandler({ service, flow, ui, library, log }));
  client.on(Events.Error, (err) => log.error({ err }, 'discord client error'));

  const deliverer: Worker = startDeliverWorker(service.config, () => service.redisHandle.connection(), 'discord', (d) => flow.deliver(d), log);
  await flow.resumeTracking().catch((err: unknown) => log.warn({ err }, 'could not resume tracking'));
  await flow.sweepIncoming();
  const sweeper = setInterval(() => void flow.sweepIncoming().catch(() => {}), SWEEP_EVERY_MS);
  sweeper.unref();
  log.info({ user: client.user?.tag, apiUrl: dc.apiUrl }, 'discord bot ready');

  return {
    client,
    flow,
    ui,
    library,
    applicationId,
    async close() {
      clearInterval(sweeper);
      flow.close();
      await deliverer.close();
      ui.close();
      await client.destroy();
    },
  };
}

/**
 * Registration replaces the whole set: on the listed servers at once, else globally. It is skipped
 * when the definitions' hash is the one last registered for that place (Discord rate-limits command
 * writes hard, and a restart should not touch them). A failure is logged: the bot still answers
 * the commands registered before.
 */
async function registerCommands(service: Service, rest: REST, applicationId: string, log: Logger): Promise<void> {
  const defs = commandDefinitions();
  const hash = createHash('sha256').update(JSON.stringify(defs)).digest('hex');
  const guilds = service.config.discord.guildIds;
  const places = guilds.length > 0 ? guilds.map((g) => ({ scope: g, route: Routes.applicationGuildCommands(applicationId, g) })) : [{ scope: 'global', route: Routes.applicationCommands(applicationId) }];
  for (const { scope, route } of places) {
    const key = `${service.config.queue.prefix}:bot:discord:commands:${applicationId}:${scope}`;
    try {
      if ((await service.redis.get(key)) === hash) {
        log.info({ applicationId, scope }, 'discord commands unchanged: not registered again');
        continue;
      }
      await rest.put(route, { body: defs });
      await service.redis.set(key, hash);
      log.info({ applicationId, scope, commands: defs.length }, 'discord commands registered');
    } catch (err) {
      log.error({ err, applicationId, scope }, 'discord command registration failed: the bot goes on with the commands Discord has');
    }
  }
}
