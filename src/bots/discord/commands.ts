/**
 * Pure: the application commands, as registered with Discord (PUT …/commands replaces the whole
 * set, so a renamed or removed command disappears on the next start). English names and texts with
 * Chinese localisations (zh-CN, zh-TW): Discord shows each user their own language.
 */
import { ApplicationCommandOptionType as OptionType, ApplicationCommandType as CommandType, PermissionFlagsBits } from 'discord.js';

export const ENHANCE_MESSAGE_COMMAND = 'Enhance video';

const zh = (s: string) => ({ 'zh-CN': s, 'zh-TW': s });

interface OptionDef {
  type: number;
  name: string;
  description: string;
  description_localizations?: Record<string, string>;
  required?: boolean;
  autocomplete?: boolean;
  choices?: Array<{ name: string; name_localizations?: Record<string, string>; value: string }>;
  options?: OptionDef[];
}

export interface CommandDef {
  type: number;
  name: string;
  name_localizations?: Record<string, string>;
  description: string;
  description_localizations?: Record<string, string>;
  options?: OptionDef[];
  /** Who sees the command by default (server admins can change it); null = everyone. */
  default_member_permissions?: string | null;
  /** 0 guild, 1 bot DM, 2 private channel. */
  contexts?: number[];
  integration_types?: number[];
}

const MANAGE_GUILD = PermissionFlagsBits.ManageGuild.toString();

export function commandDefinitions(): CommandDef[] {
  return [
    {
      type: CommandType.ChatInput,
      name: 'enhance',
      description: 'Sharpen a dance video and put the dancer on a new background',
      description_localizations: zh('让舞蹈视频更清晰，并把舞者放到新背景上'),
      contexts: [0, 1],
      integration_types: [0],
      options: [
        { type: OptionType.Attachment, name: 'video', description: 'The video', description_localizations: zh('视频'), required: true },
        {
          type: OptionType.String,
          name: 'background',
          description: 'A background from the library (leave empty to pick from a menu)',
          description_localizations: zh('背景库中的背景（留空则从菜单中选择）'),
          autocomplete: true,
        },
        {
          type: OptionType.String,
          name: 'scale',
          description: 'Upscaling (x2 by default)',
          description_localizations: zh('放大倍数（默认 x2）'),
          choices: [
            { name: 'x2', value: 'x2' },
            { name: 'x4', value: 'x4' },
            { name: 'none', name_localizations: zh('不放大'), value: 'none' },
          ],
        },
        {
          type: OptionType.Boolean,
          name: 'keep_cutout',
          description: 'Keep the cut-out dancer, to try other backgrounds in seconds',
          description_localizations: zh('保留抠像，几秒内即可换其他背景'),
        },
      ],
    },
    // A message command: right-click (long-press) a message with a video → Apps → Enhance video.
    { type: CommandType.Message, name: ENHANCE_MESSAGE_COMMAND, name_localizations: zh('处理视频'), description: '', contexts: [0, 1], integration_types: [0] },
    {
      type: CommandType.ChatInput,
      name: 'bg',
      description: 'The background library',
      description_localizations: zh('背景库'),
      default_member_permissions: MANAGE_GUILD,
      contexts: [0],
      integration_types: [0],
      options: [
        {
          type: OptionType.Subcommand,
          name: 'add',
          description: 'Add a picture or video as a background',
          description_localizations: zh('添加图片或视频作为背景'),
          options: [
            { type: OptionType.Attachment, name: 'file', description: 'A picture or video', description_localizations: zh('图片或视频'), required: true },
            { type: OptionType.String, name: 'name', description: 'Its name in the library', description_localizations: zh('在背景库中的名称'), required: true },
          ],
        },
        {
          type: OptionType.Subcommand,
          name: 'remove',
          description: 'Remove a background',
          description_localizations: zh('删除一个背景'),
          options: [{ type: OptionType.String, name: 'name', description: 'The background', description_localizations: zh('背景'), required: true, autocomplete: true }],
        },
        { type: OptionType.Subcommand, name: 'list', description: 'Show every background', description_localizations: zh('查看所有背景') },
      ],
    },
    {
      type: CommandType.ChatInput,
      name: 'queue',
      description: 'The jobs waiting and running',
      description_localizations: zh('排队和处理中的任务'),
      default_member_permissions: MANAGE_GUILD,
      contexts: [0],
      integration_types: [0],
    },
    {
      type: CommandType.ChatInput,
      name: 'stats',
      description: 'Queue and delivery counts',
      description_localizations: zh('队列与投递统计'),
      default_member_permissions: MANAGE_GUILD,
      contexts: [0],
      integration_types: [0],
    },
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
