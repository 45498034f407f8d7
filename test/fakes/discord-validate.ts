/**
 * What Discord validates in message and command bodies, with its 50035 "Invalid Form Body" error
 * shape (Reference → Error Messages: errors are nested by field path, arrays by index, each leaf an
 * `_errors` list of `{ code, message }`).
 *
 * Limits mirror the docs: Resources → Message (content 2000), Resources → Message → Embed Limits,
 * Components → Reference (action rows, buttons, select menus), Interactions → Application Commands
 * (names, descriptions, options, choices).
 */
import { MessageFlag, OptionType } from './discord-model.js';

export interface FieldError {
  code: string;
  message: string;
}
export interface FormErrors {
  [key: string]: FormErrors | FieldError[] | undefined;
}

type Path = Array<string | number>;

/** Collects field errors into Discord's nested `errors` object. */
export class ErrorCollector {
  readonly errors: FormErrors = {};
  count = 0;

  add(path: Path, code: string, message: string): void {
    let node = this.errors;
    for (const key of path) node = (node[String(key)] ??= {}) as FormErrors;
    ((node._errors ??= []) as FieldError[]).push({ code, message });
    this.count++;
  }

  /** Length of a string (in code points, as Discord counts) within [min, max]. */
  length(path: Path, value: unknown, min: number, max: number): void {
    if (value === undefined || value === null) {
      if (min > 0) this.add(path, 'BASE_TYPE_REQUIRED', 'This field is required');
      return;
    }
    if (typeof value !== 'string') {
      this.add(path, 'BASE_TYPE_STRING', 'Must be a string.');
      return;
    }
    const n = [...value].length;
    if (n > max || n < min) this.bad(path, min, max);
  }

  /** Item count of an array within [min, max]. */
  items(path: Path, value: unknown, min: number, max: number): value is unknown[] {
    if (value === undefined || value === null) {
      if (min > 0) this.add(path, 'BASE_TYPE_REQUIRED', 'This field is required');
      return false;
    }
    if (!Array.isArray(value)) {
      this.add(path, 'BASE_TYPE_ARRAY', 'Must be an array.');
      return false;
    }
    if (value.length > max || value.length < min) this.bad(path, min, max);
    return true;
  }

  private bad(path: Path, min: number, max: number): void {
    if (min === 0) this.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
    else this.add(path, 'BASE_TYPE_BAD_LENGTH', `Must be between ${min} and ${max} in length.`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const cp = (v: unknown): number => [...str(v)].length;

// ---------------------------------------------------------------------------------------------
// messages

/** Sum of the characters Discord counts towards the 6000-per-message embed limit. */
function embedSize(embed: Record<string, unknown>): number {
  let n = cp(embed.title) + cp(embed.description);
  if (isObject(embed.footer)) n += cp(embed.footer.text);
  if (isObject(embed.author)) n += cp(embed.author.name);
  if (Array.isArray(embed.fields)) for (const f of embed.fields) if (isObject(f)) n += cp(f.name) + cp(f.value);
  return n;
}

function validateEmbed(c: ErrorCollector, path: Path, embed: unknown): void {
  if (!isObject(embed)) {
    c.add(path, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    return;
  }
  if (embed.title !== undefined) c.length([...path, 'title'], embed.title, 0, 256);
  if (embed.description !== undefined) c.length([...path, 'description'], embed.description, 0, 4096);
  if (isObject(embed.footer)) c.length([...path, 'footer', 'text'], embed.footer.text, 1, 2048);
  if (isObject(embed.author)) c.length([...path, 'author', 'name'], embed.author.name, 1, 256);
  if (embed.color !== undefined && embed.color !== null && (typeof embed.color !== 'number' || embed.color < 0 || embed.color > 0xffffff)) {
    c.add([...path, 'color'], 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 16777215.');
  }
  if (embed.fields !== undefined && c.items([...path, 'fields'], embed.fields, 0, 25)) {
    embed.fields.forEach((f, i) => {
      const fp = [...path, 'fields', i];
      if (!isObject(f)) return c.add(fp, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
      c.length([...fp, 'name'], f.name, 1, 256);
      c.length([...fp, 'value'], f.value, 1, 1024);
    });
  }
}

const BUTTON = 2;
const STRING_SELECT = 3;
const SELECTS = new Set([3, 5, 6, 7, 8]);
const LINK_STYLE = 5;
const PREMIUM_STYLE = 6;

function validateButton(c: ErrorCollector, path: Path, b: Record<string, unknown>, ids: Set<string>): void {
  const style = b.style;
  if (typeof style !== 'number' || style < 1 || style > 6) {
    c.add([...path, 'style'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6}.');
    return;
  }
  if (b.label !== undefined) c.length([...path, 'label'], b.label, 0, 80);
  if (style === LINK_STYLE) {
    if (typeof b.url !== 'string') c.add([...path, 'url'], 'BASE_TYPE_REQUIRED', 'This field is required');
    else c.length([...path, 'url'], b.url, 1, 512);
    if (b.custom_id !== undefined) c.add([...path, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED', 'A custom id cannot be set on a link button');
  } else if (style !== PREMIUM_STYLE) {
    customId(c, path, b.custom_id, ids);
    if (b.url !== undefined) c.add([...path, 'url'], 'BUTTON_COMPONENT_URL_NOT_ALLOWED', 'A url cannot be set on a non-link button');
  }
  if (b.label === undefined && b.emoji === undefined && style !== PREMIUM_STYLE) {
    c.add([...path, 'label'], 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED', 'Button must have a label or emoji');
  }
}

function customId(c: ErrorCollector, path: Path, id: unknown, ids: Set<string>): void {
  c.length([...path, 'custom_id'], id, 1, 100);
  if (typeof id !== 'string') return;
  if (ids.has(id)) c.add([...path, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
  ids.add(id);
}

function validateSelect(c: ErrorCollector, path: Path, s: Record<string, unknown>, ids: Set<string>): void {
  customId(c, path, s.custom_id, ids);
  if (s.placeholder !== undefined) c.length([...path, 'placeholder'], s.placeholder, 0, 150);
  const min = typeof s.min_values === 'number' ? s.min_values : 1;
  const max = typeof s.max_values === 'number' ? s.max_values : 1;
  if (min < 0 || min > 25) c.add([...path, 'min_values'], 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 25.');
  if (max < 1 || max > 25) c.add([...path, 'max_values'], 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 25.');
  if (s.type !== STRING_SELECT) return;
  if (!c.items([...path, 'options'], s.options, 1, 25)) return;
  const values = new Set<string>();
  s.options.forEach((o, i) => {
    const op = [...path, 'options', i];
    if (!isObject(o)) return c.add(op, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    c.length([...op, 'label'], o.label, 1, 100);
    c.length([...op, 'value'], o.value, 1, 100);
    if (o.description !== undefined) c.length([...op, 'description'], o.description, 0, 100);
    if (typeof o.value === 'string') {
      if (values.has(o.value)) c.add([...op, 'value'], 'SELECT_COMPONENT_OPTION_VALUE_DUPLICATED', 'Select component option values must be unique');
      values.add(o.value);
    }
  });
  if (max > s.options.length) {
    c.add([...path, 'max_values'], 'SELECT_COMPONENT_MAX_VALUES_TOO_LARGE', `Max values cannot exceed the number of options (${s.options.length})`);
  }
}

/** Legacy (non-V2) components: up to 5 action rows of up to 5 buttons, or one select menu. */
function validateComponents(c: ErrorCollector, components: unknown, flags: number): void {
  if (flags & MessageFlag.IS_COMPONENTS_V2) {
    // Components V2 layouts (sections, containers, …) are accepted without a deep check.
    c.items(['components'], components, 0, 40);
    return;
  }
  if (!c.items(['components'], components, 0, 5)) return;
  const ids = new Set<string>();
  components.forEach((row, r) => {
    const rp: Path = ['components', r];
    if (!isObject(row) || row.type !== 1) {
      c.add(rp, 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (1,).');
      return;
    }
    if (!c.items([...rp, 'components'], row.components, 1, 5)) return;
    const children = row.components as unknown[];
    const hasSelect = children.some((ch) => isObject(ch) && SELECTS.has(ch.type as number));
    if (hasSelect && children.length > 1) {
      c.add([...rp, 'components'], 'COMPONENT_LAYOUT_WIDTH_EXCEEDED', 'The specified component exceeds the maximum width');
    }
    children.forEach((ch, i) => {
      const cp_: Path = [...rp, 'components', i];
      if (!isObject(ch)) return c.add(cp_, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
      if (ch.type === BUTTON) validateButton(c, cp_, ch, ids);
      else if (SELECTS.has(ch.type as number)) validateSelect(c, cp_, ch, ids);
      else c.add([...cp_, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (2, 3, 5, 6, 7, 8).');
    });
  });
}

export interface MessageBody {
  content?: unknown;
  embeds?: unknown;
  components?: unknown;
  flags?: unknown;
  attachments?: unknown;
  allowed_mentions?: unknown;
  [key: string]: unknown;
}

/**
 * Validates a message create / edit body; returns the 50035 `errors` object, or undefined if valid.
 * `fileCount` is how many files the request uploaded (they count towards the 10-attachment limit).
 */
export function validateMessage(body: MessageBody, fileCount = 0): FormErrors | undefined {
  const c = new ErrorCollector();
  if (body.content !== undefined && body.content !== null) c.length(['content'], body.content, 0, 2000);
  if (body.embeds !== undefined && body.embeds !== null && c.items(['embeds'], body.embeds, 0, 10)) {
    body.embeds.forEach((e, i) => validateEmbed(c, ['embeds', i], e));
    const total = body.embeds.reduce((n: number, e) => n + (isObject(e) ? embedSize(e) : 0), 0);
    if (total > 6000) c.add(['embeds'], 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
  }
  const flags = typeof body.flags === 'number' ? body.flags : 0;
  if (body.components !== undefined && body.components !== null) validateComponents(c, body.components, flags);
  if (Array.isArray(body.attachments) && body.attachments.length > 10) c.add(['attachments'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  if (fileCount > 10) c.add(['files'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  return c.count ? c.errors : undefined;
}

/** Autocomplete results: up to 25 choices of name 1–100 and string value ≤ 100. */
export function validateChoices(data: unknown): FormErrors | undefined {
  const c = new ErrorCollector();
  const choices = isObject(data) ? data.choices : undefined;
  if (c.items(['choices'], choices, 0, 25)) validateChoiceList(c, ['choices'], choices);
  return c.count ? c.errors : undefined;
}

function validateChoiceList(c: ErrorCollector, path: Path, choices: unknown[]): void {
  choices.forEach((ch, i) => {
    if (!isObject(ch)) return c.add([...path, i], 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    c.length([...path, i, 'name'], ch.name, 1, 100);
    if (typeof ch.value === 'string') c.length([...path, i, 'value'], ch.value, 1, 100);
    else if (typeof ch.value !== 'number') c.add([...path, i, 'value'], 'BASE_TYPE_REQUIRED', 'This field is required');
  });
}

// ---------------------------------------------------------------------------------------------
// application commands

/** CHAT_INPUT names: 1–32 letters / digits / `-_'`, lower case where the script has case. */
const CHAT_INPUT_NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

function validateName(c: ErrorCollector, path: Path, name: unknown, chatInput: boolean): void {
  c.length(path, name, 1, 32);
  if (typeof name !== 'string' || !chatInput) return;
  if (!CHAT_INPUT_NAME.test(name) || name !== name.toLowerCase()) {
    c.add(path, 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
  }
}

function validateOptions(c: ErrorCollector, path: Path, options: unknown, depth: number): void {
  if (options === undefined) return;
  if (!c.items(path, options, 0, 25)) return;
  const names = new Set<string>();
  let sawOptional = false;
  options.forEach((o, i) => {
    const op = [...path, i];
    if (!isObject(o)) return c.add(op, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    validateName(c, [...op, 'name'], o.name, true);
    c.length([...op, 'description'], o.description, 1, 100);
    if (typeof o.type !== 'number' || o.type < 1 || o.type > 11) {
      c.add([...op, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.');
    }
    if (typeof o.name === 'string') {
      if (names.has(o.name)) c.add([...op, 'name'], 'APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS', 'Option names must be unique');
      names.add(o.name);
    }
    if (o.required === true && sawOptional) {
      c.add(op, 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options');
    }
    if (o.required !== true) sawOptional = true;
    if (o.choices !== undefined && c.items([...op, 'choices'], o.choices, 0, 25)) {
      validateChoiceList(c, [...op, 'choices'], o.choices);
      if (o.autocomplete === true) c.add([...op, 'autocomplete'], 'APPLICATION_COMMAND_AUTOCOMPLETE_INVALID', 'Autocomplete cannot be set with choices');
    }
    const nested = o.type === OptionType.SUB_COMMAND || o.type === OptionType.SUB_COMMAND_GROUP;
    if (nested) {
      if (depth >= 2 || (o.type === OptionType.SUB_COMMAND_GROUP && depth >= 1)) {
        c.add([...op, 'type'], 'APPLICATION_COMMAND_SUBCOMMAND_NESTING', 'Sub-command groups and sub-commands cannot be nested this deep');
      }
      validateOptions(c, [...op, 'options'], o.options, depth + 1);
    }
  });
}

/** One command (Interactions → Application Commands → Application Command Naming / limits). */
export function validateCommand(c: ErrorCollector, path: Path, cmd: unknown): void {
  if (!isObject(cmd)) return c.add(path, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
  const type = cmd.type ?? 1;
  if (type !== 1 && type !== 2 && type !== 3 && type !== 4) {
    c.add([...path, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4}.');
    return;
  }
  const chatInput = type === 1;
  validateName(c, [...path, 'name'], cmd.name, chatInput);
  if (chatInput) c.length([...path, 'description'], cmd.description, 1, 100);
  else if (cmd.description !== undefined && cmd.description !== '') {
    c.add([...path, 'description'], 'APPLICATION_COMMAND_INVALID_DESCRIPTION', 'Context menu commands cannot have description');
  }
  if (chatInput) validateOptions(c, [...path, 'options'], cmd.options, 0);
  else if (Array.isArray(cmd.options) && cmd.options.length) {
    c.add([...path, 'options'], 'APPLICATION_COMMAND_OPTIONS_INVALID', 'Context menu commands cannot have options');
  }
}

/** A bulk overwrite: each command, plus unique (type, name) pairs; at most 100 slash commands. */
export function validateCommandList(list: unknown): FormErrors | undefined {
  const c = new ErrorCollector();
  if (!Array.isArray(list)) {
    c.add([], 'BASE_TYPE_ARRAY', 'Must be an array.');
    return c.errors;
  }
  const seen = new Set<string>();
  list.forEach((cmd, i) => {
    validateCommand(c, [i], cmd);
    if (!isObject(cmd)) return;
    const key = `${String(cmd.type ?? 1)}:${str(cmd.name)}`;
    if (seen.has(key)) c.add([i, 'name'], 'APPLICATION_COMMANDS_DUPLICATE_NAME', `Application command names must be unique`);
    seen.add(key);
  });
  if (list.filter((x) => isObject(x) && (x.type ?? 1) === 1).length > 100) {
    c.add([], 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.');
  }
  return c.count ? c.errors : undefined;
}
