/**
 * Pure: the flow's messages in Discord's shapes (its texts become markdown in markup.ts). Its button rows
 * become message components: the background buttons of a menu become one string select (a phone
 * shows 25 names in a select where 25 buttons would not even fit: 5 rows of 5 at most), the rest
 * stay buttons; a delivered result's timing becomes an embed.
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  EmbedBuilder,
  StringSelectMenuBuilder,
  type APIActionRowComponent,
  type APIComponentInMessageActionRow,
  type APISelectMenuOption,
} from 'discord.js';
import { backgroundLabel, TEXTS, type Locale } from '../../i18n/messages.js';
import type { StatsInfo } from '../chat-ui.js';
import { parseCallback, type Button } from '../menu.js';
import { shortName } from '../texts.js';
import { escapeMarkdown } from './markup.js';

/** Discord's limits, as documented. */
export const LIMITS = {
  content: 2000,
  buttonLabel: 80,
  selectOptions: 25,
  selectLabel: 100,
  selectValue: 100,
  customId: 100,
  rows: 5,
  perRow: 5,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
} as const;


/** Content fits Discord's 2000 characters (a long list is cut with an ellipsis). */
export function fitContent(md: string): string {
  return md.length <= LIMITS.content ? md : `${md.slice(0, LIMITS.content - 1)}…`;
}

/** An action row as sent (the builders' JSON). */
export type ActionRow = APIActionRowComponent<APIComponentInMessageActionRow>;

const PICKED = /^✅ /;
const cut = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** The select's custom_id for a menu session; its values are the flow's callback data. */
export const selectId = (session: string) => `sel:${session}`;

/**
 * The flow's rows → action rows. Background buttons (anywhere in the rows) gather into one string
 * select at the top; the others keep their order, five to a row. A page-number label (a no-op) is a
 * disabled button. `link` adds a link button (its own row). At most 5 rows: extra rows are dropped
 * (the flow never makes that many).
 */
export function toComponents(rows: Button[][] | undefined, opts: { placeholder: string; link?: { text: string; url: string } }): ActionRow[] {
  const out: ActionRowBuilder<ButtonBuilder | StringSelectMenuBuilder>[] = [];
  const options: APISelectMenuOption[] = [];
  let session: string | undefined;
  const buttonRows: ButtonBuilder[][] = [];
  for (const row of rows ?? []) {
    const buttons: ButtonBuilder[] = [];
    for (const b of row) {
      const cb = parseCallback(b.data);
      if (cb?.scope === 'menu' && cb.action.kind === 'bg') {
        session = cb.session;
        options.push({ label: cut(b.text.replace(PICKED, ''), LIMITS.selectLabel), value: b.data, ...(PICKED.test(b.text) ? { default: true } : {}) });
        continue;
      }
      const kind = cb?.action.kind;
      const style =
        kind === 'start' || kind === 'again' ? ButtonStyle.Primary : kind === 'close' || kind === 'cancelJob' ? ButtonStyle.Danger : PICKED.test(b.text) ? ButtonStyle.Success : ButtonStyle.Secondary;
      const button = new ButtonBuilder().setStyle(style).setLabel(cut(b.text.replace(PICKED, '✓ '), LIMITS.buttonLabel)).setCustomId(b.data);
      buttons.push(kind === 'noop' ? button.setDisabled(true) : button);
    }
    for (let i = 0; i < buttons.length; i += LIMITS.perRow) buttonRows.push(buttons.slice(i, i + LIMITS.perRow));
  }
  if (options.length > 0 && session) {
    const select = new StringSelectMenuBuilder()
      .setCustomId(selectId(session))
      .setPlaceholder(cut(opts.placeholder, 150))
      .addOptions(options.slice(0, LIMITS.selectOptions))
      .setMinValues(1)
      .setMaxValues(1);
    out.push(new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(select));
  }
  for (const r of buttonRows) out.push(new ActionRowBuilder<ButtonBuilder>().addComponents(r));
  if (opts.link) out.push(new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setStyle(ButtonStyle.Link).setLabel(cut(opts.link.text, LIMITS.buttonLabel)).setURL(opts.link.url)));
  return out.slice(0, LIMITS.rows).map((r) => r.toJSON());
}

export interface Embed {
  title: string;
  description?: string;
  color?: number;
  fields: Array<{ name: string; value: string; inline?: boolean }>;
  footer?: { text: string };
}

const num = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const device = (d: string) => d.replace(/\s*\([^)]*\)\s*$/, '').trim();

/** The timing of a result as an embed: one field per stage (seconds, fps), the total with the realtime factor, the devices. */
export function statsEmbed(p: StatsInfo): Embed {
  const { result, locale } = p;
  const zh = locale === 'zh';
  const label = (n: string) => (TEXTS[locale].stages as Record<string, string>)[n] ?? n;
  const stages = result.stats.stages;
  const devices = [...new Set(stages.filter((s) => s.name === 'upscale' || s.name === 'matte').map((s) => `${s.engine} / ${device(s.device)}`))].join('\n');
  const fields: Embed['fields'] = stages.map((s) => ({
    name: cut(`${label(s.name)}${s.fallbackFrom ? ' *' : ''}`, LIMITS.fieldName),
    value: `${num(s.seconds, 2)} s · ${num(s.fps, 1)} fps`,
    inline: true,
  }));
  fields.push({
    name: zh ? '总计' : 'total',
    value: zh ? `${num(result.stats.totalS, 2)} 秒 · ${num(result.stats.realtimeFactor, 2)}x 实时` : `${num(result.stats.totalS, 2)} s · ${num(result.stats.realtimeFactor, 2)}x realtime`,
    inline: false,
  });
  if (devices) fields.push({ name: zh ? '设备' : 'device', value: cut(escapeMarkdown(devices), LIMITS.fieldValue), inline: false });
  if (p.delivery) fields.push({ name: zh ? '发送' : 'delivery', value: cut(escapeMarkdown(p.delivery), LIMITS.fieldValue), inline: false });
  // A link field, not a button: the link button of the row is the full-quality download.
  if (p.alphaLink) fields.push({ name: zh ? '透明抠像' : 'transparent cut-out', value: cut(`[WebM](${p.alphaLink})`, LIMITS.fieldValue), inline: false });
  const notes = [...stages.filter((s) => s.fallbackFrom).map((s) => `* ${label(s.name)}: ${s.fallbackFrom}`), ...result.stats.retries];
  const embed = new EmbedBuilder()
    .setTitle(cut(`✅ ${shortName(p.name, 80)} → ${shortName(backgroundLabel(p.background, locale), 60)}`, LIMITS.embedTitle))
    .setDescription(`${result.width}×${result.height} · ${num(result.durationS, 1)} ${zh ? '秒' : 's'}`)
    .setColor(0x2ecc71)
    .addFields(fields.slice(0, LIMITS.embedFields));
  if (notes.length > 0) embed.setFooter({ text: cut(notes.join('\n'), 2048) });
  return embed.toJSON() as Embed;
}

/** The placeholder of the background select. */
export function selectPlaceholder(locale: Locale): string {
  return locale === 'zh' ? '选择背景' : 'Pick a background';
}
