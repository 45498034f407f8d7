/**
 * Pure: the application commands (discord.js's builders), as registered with Discord (PUT …/commands replaces the whole
 * set, so a renamed or removed command disappears on the next start). English names and texts with
 * Chinese localisations (zh-CN, zh-TW): Discord shows each user their own language.
 */
import {
  ApplicationCommandType,
  ApplicationIntegrationType,
  ContextMenuCommandBuilder,
  InteractionContextType,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type RESTPostAPIApplicationCommandsJSONBody,
} from 'discord.js';

export const ENHANCE_MESSAGE_COMMAND = 'Enhance video';

const zh = (s: string) => ({ 'zh-CN': s, 'zh-TW': s });

const { Guild, BotDM } = InteractionContextType;
const { GuildInstall } = ApplicationIntegrationType;

/** An admin command: hidden from members without Manage Server (server admins can change that), servers only. */
const adminCommand = (name: string, description: string, zhDescription: string) =>
  new SlashCommandBuilder()
    .setName(name)
    .setDescription(description)
    .setDescriptionLocalizations(zh(zhDescription))
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .setContexts(Guild)
    .setIntegrationTypes(GuildInstall);

export function commandDefinitions(): RESTPostAPIApplicationCommandsJSONBody[] {
  const enhance = new SlashCommandBuilder()
    .setName('enhance')
    .setDescription('Sharpen a dance video and put the dancer on a new background')
    .setDescriptionLocalizations(zh('让舞蹈视频更清晰，并把舞者放到新背景上'))
    .setContexts(Guild, BotDM)
    .setIntegrationTypes(GuildInstall)
    .addAttachmentOption((o) => o.setName('video').setDescription('The video').setDescriptionLocalizations(zh('视频')).setRequired(true))
    .addStringOption((o) =>
      o
        .setName('background')
        .setDescription('A background from the library (leave empty to pick from a menu)')
        .setDescriptionLocalizations(zh('背景库中的背景（留空则从菜单中选择）'))
        .setAutocomplete(true),
    )
    .addStringOption((o) =>
      o
        .setName('scale')
        .setDescription('Upscaling (x2 by default)')
        .setDescriptionLocalizations(zh('放大倍数（默认 x2）'))
        .addChoices({ name: 'x2', value: 'x2' }, { name: 'x4', value: 'x4' }, { name: 'none', name_localizations: zh('不放大'), value: 'none' }),
    )
    .addBooleanOption((o) =>
      o.setName('keep_cutout').setDescription('Keep the cut-out dancer, to try other backgrounds').setDescriptionLocalizations(zh('保留抠像，便于换其他背景')),
    )
    // The menu's other choices, for a request that skips the menu.
    .addStringOption((o) =>
      o
        .setName('model')
        .setDescription('Upscaler model (the server default when empty)')
        .setDescriptionLocalizations(zh('放大模型（留空则用服务器默认）'))
        .addChoices({ name: 'real footage', name_localizations: zh('实拍'), value: 'general' }, { name: 'anime', name_localizations: zh('动漫'), value: 'anime' }),
    )
    .addStringOption((o) =>
      o
        .setName('matting')
        .setDescription('Matting network (the server default when empty)')
        .setDescriptionLocalizations(zh('抠像网络（留空则用服务器默认）'))
        .addChoices({ name: 'faster', name_localizations: zh('更快'), value: 'mobilenetv3' }, { name: 'fine hair', name_localizations: zh('发丝精细'), value: 'resnet50' }),
    );
  // A message command: right-click (long-press) a message with a video → Apps → Enhance video.
  const enhanceMessage = new ContextMenuCommandBuilder()
    .setName(ENHANCE_MESSAGE_COMMAND)
    .setNameLocalizations(zh('处理视频'))
    .setType(ApplicationCommandType.Message)
    .setContexts(Guild, BotDM)
    .setIntegrationTypes(GuildInstall);
  const bg = adminCommand('bg', 'The background library', '背景库')
    .addSubcommand((c) =>
      c
        .setName('add')
        .setDescription('Add a picture or video as a background')
        .setDescriptionLocalizations(zh('添加图片或视频作为背景'))
        .addAttachmentOption((o) => o.setName('file').setDescription('A picture or video').setDescriptionLocalizations(zh('图片或视频')).setRequired(true))
        .addStringOption((o) => o.setName('name').setDescription('Its name in the library').setDescriptionLocalizations(zh('在背景库中的名称')).setRequired(true)),
    )
    .addSubcommand((c) =>
      c
        .setName('remove')
        .setDescription('Remove a background')
        .setDescriptionLocalizations(zh('删除一个背景'))
        .addStringOption((o) => o.setName('name').setDescription('The background').setDescriptionLocalizations(zh('背景')).setRequired(true).setAutocomplete(true)),
    )
    .addSubcommand((c) => c.setName('list').setDescription('Show every background').setDescriptionLocalizations(zh('查看所有背景')))
    .addSubcommand((c) =>
      c
        .setName('generate')
        .setDescription('Generate a background with the Stable Diffusion server')
        .setDescriptionLocalizations(zh('用 Stable Diffusion 服务器生成背景'))
        .addStringOption((o) => o.setName('prompt').setDescription('What to picture').setDescriptionLocalizations(zh('画面描述')).setRequired(true).setMaxLength(300)),
    );
  return [
    enhance.toJSON(),
    enhanceMessage.toJSON(),
    bg.toJSON(),
    adminCommand('queue', 'The jobs waiting and running', '排队和处理中的任务').toJSON(),
    adminCommand('stats', 'Queue and delivery counts', '队列与投递统计').toJSON(),
  ];
}

/** The bot's permissions in a server: View Channels, Send Messages, Embed Links, Attach Files, Read Message History, Use Application Commands. */
export const BOT_PERMISSIONS = (1n << 10n) | (1n << 11n) | (1n << 14n) | (1n << 15n) | (1n << 16n) | (1n << 31n);

/** The invite link: the bot and its commands, with the permissions above. */
export function inviteUrl(applicationId: string): string {
  return `https://discord.com/oauth2/authorize?client_id=${encodeURIComponent(applicationId)}&scope=bot+applications.commands&permissions=${BOT_PERMISSIONS}`;
}

/** Up to 25 autocomplete choices: names that start with what was typed first, then names that contain it. */
export function autocompleteChoices(names: readonly string[], typed: string, label: (name: string) => string): Array<{ name: string; value: string }> {
  const q = typed.trim().toLowerCase();
  const score = (n: string) => {
    const l = label(n).toLowerCase();
    const k = n.toLowerCase();
    if (!q) return 1;
    if (k.startsWith(q) || l.startsWith(q)) return 0;
    if (k.includes(q) || l.includes(q)) return 1;
    return -1;
  };
  return names
    .map((n) => ({ n, s: score(n) }))
    .filter((x) => x.s >= 0)
    .sort((a, b) => a.s - b.s)
    .slice(0, 25)
    .map(({ n }) => {
      const l = label(n);
      const shown = l === n ? n : `${l} (${n})`;
      return { name: shown.slice(0, 100), value: n.slice(0, 100) };
    });
}
