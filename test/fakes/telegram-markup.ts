/**
 * Text formatting as the Telegram Bot API server does it: `parse_mode` MarkdownV2 / HTML / Markdown
 * turned into plain text + entities (UTF-16 offsets), with the server's error messages.
 *
 * The three parsers are ports of TDLib's `parse_markdown_v2`, `parse_html` and `parse_markdown`
 * (td/telegram/MessageEntity.cpp), which is what the Bot API server runs. Error texts are TDLib's
 * ("Character '.' is reserved and must be escaped with the preceding '\'", "Unsupported start tag
 * "foo" at byte offset 3", ...); offsets in them are UTF-8 byte offsets, like the real server's.
 *
 * One deliberate difference, on by default (`strictHtml`): real Telegram keeps a `&` that starts no
 * entity, and a bare `>`, as literal text. The Bot API documentation requires both to be escaped,
 * and a bot that forgets shows garbage the day a name contains `&lt;`, so the fake refuses them
 * (with a description that says it is the fake being strict). Pass `strictHtml: false` to get
 * exactly TDLib's behaviour.
 */

export interface MessageEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
  user?: { id: number; is_bot: boolean; first_name: string };
}

/** A parse failure; `message` is the part after "Bad Request: can't parse entities: ". */
export class EntityParseError extends Error {}

const TYPE_NAMES: Record<string, string> = {
  bold: 'Bold',
  italic: 'Italic',
  underline: 'Underline',
  strikethrough: 'Strikethrough',
  spoiler: 'Spoiler',
  code: 'Code',
  pre: 'Pre',
  pre_code: 'PreCode',
  text_link: 'TextUrl',
  custom_emoji: 'CustomEmoji',
  blockquote: 'BlockQuote',
};

/** TDLib's MessageEntity::get_type_priority, used to order entities that start at the same place. */
const PRIORITY: Record<string, number> = {
  mention: 50,
  hashtag: 50,
  bot_command: 50,
  url: 50,
  email: 50,
  bold: 90,
  italic: 91,
  code: 20,
  pre: 11,
  text_link: 49,
  text_mention: 49,
  cashtag: 50,
  phone_number: 50,
  underline: 92,
  strikethrough: 93,
  blockquote: 0,
  expandable_blockquote: 0,
  spoiler: 94,
  custom_emoji: 99,
};

export function sortEntities(entities: MessageEntity[]): MessageEntity[] {
  return entities.sort(
    (a, b) => a.offset - b.offset || b.length - a.length || (PRIORITY[a.type] ?? 50) - (PRIORITY[b.type] ?? 50),
  );
}

const byteOffset = (s: string, jsIndex: number): number => Buffer.byteLength(s.slice(0, jsIndex), 'utf8');

/** td's is_space: also true for NUL, which is what td reads past the end of the string. */
const isSpace = (c: string): boolean =>
  c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\0' || c === '\v' || c === '\f';

export interface CheckedLink {
  url?: string;
  error?: string;
}

/**
 * TDLib's LinkManager::check_link: http(s) links (scheme optional, defaulting to http) whose host has
 * a dot (so `localhost` is refused: "Wrong HTTP URL"), and tg:// / ton:// links. Returns the
 * normalised link (`grammy.dev` → `http://grammy.dev/`).
 */
export function checkLink(link: string, opts: { httpOnly?: boolean; httpsOnly?: boolean } = {}): CheckedLink {
  let rest = link;
  let scheme: 'tg' | 'ton' | undefined;
  if (/^tg:/i.test(rest)) {
    scheme = 'tg';
    rest = rest.slice(3);
  } else if (/^ton:/i.test(rest)) {
    scheme = 'ton';
    rest = rest.slice(4);
  }
  if (scheme && rest.startsWith('//')) rest = rest.slice(2);
  const explicit = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (explicit && !/^https?$/i.test(explicit[1]!)) return { error: 'Unsupported URL protocol' };
  if (rest.length === 0 || /\s/.test(rest)) return { error: 'Wrong HTTP URL' };
  let parsed: URL;
  try {
    parsed = new URL(explicit ? rest : `http://${rest}`);
  } catch {
    return { error: 'Wrong HTTP URL' };
  }
  if (opts.httpsOnly && (parsed.protocol !== 'https:' || scheme)) return { error: 'Only HTTPS links are allowed' };
  if (scheme) {
    if (opts.httpOnly) return { error: 'Only HTTP links are allowed' };
    if (explicit || parsed.username || parsed.password || parsed.port || parsed.hostname.startsWith('[')) {
      return { error: scheme === 'tg' ? 'Wrong tg URL' : 'Wrong ton URL' };
    }
    if (!/^[a-z0-9_-]+$/i.test(parsed.hostname)) return { error: 'Unallowed characters in URL host' };
    const query = `${parsed.pathname === '/' ? '' : parsed.pathname}${parsed.search}`;
    return { url: `${scheme}://${parsed.hostname}${query}` };
  }
  if (!parsed.hostname.includes('.') && !parsed.hostname.startsWith('[')) return { error: 'Wrong HTTP URL' };
  return { url: parsed.href };
}

/** `tg://user?id=123` → 123 (a text_mention), like LinkManager::get_link_user_id. */
function linkUserId(url: string): number | undefined {
  const m = /^tg:(?:\/\/)?user\?(?:.*&)?id=(\d+)(?:&|$)/i.exec(url);
  return m ? Number(m[1]) : undefined;
}

export interface ParsedText {
  text: string;
  entities: MessageEntity[];
}

type LookupUser = (id: number) => MessageEntity['user'] | undefined;

function linkEntity(
  url: string,
  offset: number,
  length: number,
  lookupUser: LookupUser,
): MessageEntity | undefined {
  const userId = linkUserId(url);
  if (userId !== undefined) {
    const user = lookupUser(userId);
    return user ? { type: 'text_mention', offset, length, user } : undefined;
  }
  const checked = checkLink(url);
  return checked.url ? { type: 'text_link', offset, length, url: checked.url } : undefined;
}

// ---------------------------------------------------------------------------------------------
// MarkdownV2 (td::parse_markdown_v2)

export function parseMarkdownV2(input: string, lookupUser: LookupUser = () => undefined): ParsedText {
  let out = '';
  const entities: MessageEntity[] = [];
  interface Nested {
    type: string;
    argument: string;
    offset: number; // UTF-16 offset in the output
    source: number; // index in the input, for error byte offsets
    begin: number; // index in the output where the entity text begins
  }
  const nested: Nested[] = [];
  const at = (k: number): string => input[k] ?? '\0';
  const code = (k: number): number => (k < input.length ? input.charCodeAt(k) : 0);
  const fail = (msg: string): never => {
    throw new EntityParseError(msg);
  };
  const reservedError = (c: string): never =>
    fail(`Character '${c}' is reserved and must be escaped with the preceding '\\'`);
  let haveBlockquote = false;

  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c === '\\' && code(i + 1) > 0 && code(i + 1) <= 126) {
      i++;
      out += input[i];
      continue;
    }
    let reserved = '_*[]()~`>#+-=|{}.!\n';
    const top = nested[nested.length - 1];
    if (top && (top.type === 'code' || top.type === 'pre' || top.type === 'pre_code')) reserved = '`';
    if (!reserved.includes(c)) {
      out += c;
      continue;
    }

    let isEnd = false;
    if (top) {
      if (haveBlockquote && c === '\n' && (i + 1 === input.length || input[i + 1] !== '>')) {
        isEnd = true;
      } else {
        switch (top.type) {
          case 'bold':
            isEnd = c === '*';
            break;
          case 'italic':
            isEnd = c === '_' && at(i + 1) !== '_';
            break;
          case 'code':
            isEnd = c === '`';
            break;
          case 'pre':
          case 'pre_code':
            isEnd = c === '`' && at(i + 1) === '`' && at(i + 2) === '`';
            break;
          case 'text_link':
          case 'custom_emoji':
            isEnd = c === ']';
            break;
          case 'underline':
            isEnd = c === '_' && at(i + 1) === '_';
            break;
          case 'strikethrough':
            isEnd = c === '~';
            break;
          case 'spoiler':
            isEnd = c === '|' && at(i + 1) === '|';
            break;
          default:
            isEnd = false;
        }
      }
    }

    if (!isEnd) {
      let type: string | undefined;
      let argument = '';
      const source = i;
      switch (c) {
        case '_':
          if (at(i + 1) === '_') {
            type = 'underline';
            i++;
          } else {
            type = 'italic';
          }
          break;
        case '*':
          type = 'bold';
          break;
        case '~':
          type = 'strikethrough';
          break;
        case '|':
          if (at(i + 1) === '|') {
            i++;
            type = 'spoiler';
          } else {
            reservedError(c);
          }
          break;
        case '[':
          type = 'text_link';
          break;
        case '`':
          if (at(i + 1) === '`' && at(i + 2) === '`') {
            i += 3;
            type = 'pre';
            let languageEnd = i;
            while (!isSpace(at(languageEnd)) && at(languageEnd) !== '`') languageEnd++;
            if (i !== languageEnd && languageEnd < input.length && at(languageEnd) !== '`') {
              type = 'pre_code';
              argument = input.slice(i, languageEnd);
              i = languageEnd;
            }
            if (at(i) === '\n' || at(i) === '\r') {
              if ((at(i + 1) === '\n' || at(i + 1) === '\r') && at(i) !== at(i + 1)) i += 2;
              else i++;
            }
            i--;
          } else {
            type = 'code';
          }
          break;
        case '!':
          if (at(i + 1) === '[') {
            i++;
            type = 'custom_emoji';
          } else {
            reservedError(c);
          }
          break;
        case '\n':
          out += '\n';
          if (i + 1 < input.length && input[i + 1] === '>') {
            i++;
            if (!haveBlockquote) {
              type = 'blockquote';
              haveBlockquote = true;
            }
          }
          break;
        case '>':
          if (i === 0) {
            type = 'blockquote';
            haveBlockquote = true;
          } else {
            reservedError(c);
          }
          break;
        default:
          reservedError(c);
      }
      if (type === undefined) continue;
      nested.push({ type, argument, offset: out.length, source, begin: out.length });
    } else {
      const entity = top!;
      const type = entity.type;
      if (c === '\n' && type !== 'blockquote') {
        fail(`Can't find end of ${TYPE_NAMES[type]} entity at byte offset ${byteOffset(input, entity.source)}`);
      }
      let skip = out.length === entity.offset;
      let made: MessageEntity | undefined;
      const length = () => out.length - entity.offset;
      switch (type) {
        case 'bold':
        case 'italic':
        case 'code':
        case 'strikethrough':
          made = { type, offset: entity.offset, length: length() };
          break;
        case 'underline':
        case 'spoiler':
          i++;
          made = { type, offset: entity.offset, length: length() };
          break;
        case 'pre':
        case 'pre_code':
          i += 2;
          made =
            type === 'pre_code'
              ? { type: 'pre', offset: entity.offset, length: length(), language: entity.argument }
              : { type: 'pre', offset: entity.offset, length: length() };
          break;
        case 'text_link': {
          let url = '';
          if (at(i + 1) !== '(') {
            url = out.slice(entity.begin);
          } else {
            i += 2;
            const urlBegin = i;
            while (i < input.length && input[i] !== ')') {
              if (input[i] === '\\' && code(i + 1) > 0 && code(i + 1) <= 126) {
                url += input[i + 1];
                i += 2;
                continue;
              }
              url += input[i++];
            }
            if (at(i) !== ')') fail(`Can't find end of a URL at byte offset ${byteOffset(input, urlBegin)}`);
          }
          made = linkEntity(url, entity.offset, length(), lookupUser);
          if (!made) skip = true;
          break;
        }
        case 'custom_emoji': {
          if (at(i + 1) !== '(') fail('Custom emoji entity must contain a tg://emoji URL');
          i += 2;
          let url = '';
          const urlBegin = i;
          while (i < input.length && input[i] !== ')') {
            if (input[i] === '\\' && code(i + 1) > 0 && code(i + 1) <= 126) {
              url += input[i + 1];
              i += 2;
              continue;
            }
            url += input[i++];
          }
          if (at(i) !== ')') fail(`Can't find end of a custom emoji URL at byte offset ${byteOffset(input, urlBegin)}`);
          const id = /^tg:\/\/emoji\?id=(\d+)$/i.exec(url);
          if (!id || id[1] === '0') fail('Custom emoji URL must have an emoji identifier');
          made = { type: 'custom_emoji', offset: entity.offset, length: length(), custom_emoji_id: id![1]! };
          break;
        }
        case 'blockquote':
          haveBlockquote = false;
          out += input[i];
          made = { type: 'blockquote', offset: entity.offset, length: length() };
          break;
        default:
          throw new Error(`unreachable entity type ${type}`);
      }
      if (!skip && made) entities.push(made);
      nested.pop();
    }
  }
  if (haveBlockquote) {
    const top = nested[nested.length - 1];
    if (top && top.type === 'blockquote') {
      const length = out.length - top.offset;
      if (length !== 0) entities.push({ type: 'blockquote', offset: top.offset, length });
      nested.pop();
    }
  }
  if (nested.length > 0) {
    const top = nested[nested.length - 1]!;
    fail(`Can't find end of ${TYPE_NAMES[top.type]} entity at byte offset ${byteOffset(input, top.source)}`);
  }
  return { text: out, entities: sortEntities(entities) };
}

// ---------------------------------------------------------------------------------------------
// HTML (td::parse_html)

/** td's decode_html_entity: returns the code point and the index after the entity, or undefined. */
function decodeHtmlEntity(s: string, pos: number): { code: number; end: number } | undefined {
  let end = pos + 1;
  let res = 0;
  if (s[pos + 1] === '#') {
    end++;
    if (s[pos + 2] === 'x') {
      end++;
      while (end < s.length && /[0-9a-fA-F]/.test(s[end]!)) {
        res = Math.min(res * 16 + parseInt(s[end]!, 16), 0x7fffffff);
        end++;
      }
    } else {
      while (end < s.length && /[0-9]/.test(s[end]!)) {
        res = Math.min(res * 10 + Number(s[end]), 0x7fffffff);
        end++;
      }
    }
    if (res === 0 || res >= 0x10ffff || end - pos >= 10) return undefined;
  } else {
    while (end < s.length && /[a-zA-Z]/.test(s[end]!)) end++;
    const name = s.slice(pos + 1, end);
    if (name === 'lt') res = 0x3c;
    else if (name === 'gt') res = 0x3e;
    else if (name === 'amp') res = 0x26;
    else if (name === 'quot') res = 0x22;
    else return undefined;
  }
  if (s[end] === ';') end++;
  return { code: res, end };
}

const HTML_TAGS = new Set([
  'a',
  'b',
  'strong',
  'i',
  'em',
  's',
  'strike',
  'del',
  'u',
  'ins',
  'tg-spoiler',
  'tg-emoji',
  'span',
  'pre',
  'code',
  'blockquote',
]);

export function parseHtml(
  input: string,
  opts: { strict?: boolean; lookupUser?: LookupUser } = {},
): ParsedText {
  const strict = opts.strict ?? true;
  const lookupUser = opts.lookupUser ?? (() => undefined);
  const fail = (msg: string): never => {
    throw new EntityParseError(msg);
  };
  const at = (k: number): string => input[k] ?? '\0';
  let out = '';
  const entities: Array<MessageEntity & { argument?: string; kind: string }> = [];
  interface Nested {
    tag: string;
    argument: string;
    expandable: boolean;
    offset: number;
    begin: number;
  }
  const nested: Nested[] = [];

  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c === '&') {
      const decoded = decodeHtmlEntity(input, i);
      if (decoded) {
        out += String.fromCodePoint(decoded.code);
        i = decoded.end - 1;
        continue;
      }
      if (strict) {
        fail(
          `Character '&' at byte offset ${byteOffset(input, i)} starts no supported HTML entity and must be ` +
            `escaped as &amp; (the fake is stricter than Telegram, which would show it as typed)`,
        );
      }
    }
    if (c === '>' && strict) {
      fail(
        `Character '>' at byte offset ${byteOffset(input, i)} must be escaped as &gt; ` +
          `(the fake is stricter than Telegram, which would show it as typed)`,
      );
    }
    if (c !== '<') {
      out += c;
      continue;
    }

    const begin = i++;
    if (at(i) !== '/') {
      // begin of an entity
      while (!isSpace(at(i)) && at(i) !== '>') i++;
      if (at(i) === '\0') fail(`Unclosed start tag at byte offset ${byteOffset(input, begin)}`);
      const tag = input.slice(begin + 1, i).toLowerCase();
      if (!HTML_TAGS.has(tag)) fail(`Unsupported start tag "${tag}" at byte offset ${byteOffset(input, begin)}`);

      let argument = '';
      let expandable = false;
      while (at(i) !== '>') {
        while (at(i) !== '\0' && isSpace(at(i))) i++;
        if (at(i) === '>') break;
        const attributeBegin = i;
        while (!isSpace(at(i)) && at(i) !== '=' && at(i) !== '>') i++;
        const attribute = input.slice(attributeBegin, i);
        if (attribute.length === 0) {
          fail(`Empty attribute name in the tag "${tag}" at byte offset ${byteOffset(input, begin)}`);
        }
        let j = i;
        while (at(j) !== '\0' && isSpace(at(j))) j++;
        if (at(j) !== '=') {
          // Bot API 7.4: <blockquote expandable>
          if (tag === 'blockquote' && attribute.toLowerCase() === 'expandable') {
            expandable = true;
            i = j;
            continue;
          }
          fail(
            `Expected equal sign in declaration of an attribute of the tag "${tag}" at byte offset ${byteOffset(input, begin)}`,
          );
        }
        i = j + 1;
        while (at(i) !== '\0' && isSpace(at(i))) i++;
        if (at(i) === '\0') fail(`Unclosed start tag "${tag}" at byte offset ${byteOffset(input, begin)}`);
        let value = '';
        if (at(i) !== "'" && at(i) !== '"') {
          // a name token: letters, digits, periods, hyphens; not case sensitive
          const tokenBegin = i;
          while (/[A-Za-z0-9.-]/.test(at(i))) i++;
          value = input.slice(tokenBegin, i).toLowerCase();
          if (!isSpace(at(i)) && at(i) !== '>') {
            fail(`Unexpected end of name token at byte offset ${byteOffset(input, tokenBegin)}`);
          }
        } else {
          const quote = input[i++]!;
          while (at(i) !== quote && at(i) !== '\0') {
            if (at(i) === '&') {
              const decoded = decodeHtmlEntity(input, i);
              if (decoded) {
                value += String.fromCodePoint(decoded.code);
                i = decoded.end;
                continue;
              }
            }
            value += input[i++];
          }
          if (at(i) === quote) i++;
        }
        if (at(i) === '\0') fail(`Unclosed start tag at byte offset ${byteOffset(input, begin)}`);
        if (tag === 'a' && attribute === 'href') argument = value;
        else if (tag === 'code' && attribute === 'class' && value.startsWith('language-')) argument = value.slice(9);
        else if (tag === 'span' && attribute === 'class' && value.startsWith('tg-')) argument = value.slice(3);
        else if (tag === 'tg-emoji' && attribute === 'emoji-id') argument = value;
      }
      if (tag === 'span' && argument !== 'spoiler') {
        fail(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(input, begin)}`);
      }
      nested.push({ tag, argument, expandable, offset: out.length, begin: out.length });
    } else {
      // end of an entity
      if (nested.length === 0) fail(`Unexpected end tag at byte offset ${byteOffset(input, begin)}`);
      while (!isSpace(at(i)) && at(i) !== '>') i++;
      const endTag = input.slice(begin + 2, i).toLowerCase();
      while (isSpace(at(i)) && at(i) !== '\0') i++;
      if (at(i) !== '>') fail(`Unclosed end tag at byte offset ${byteOffset(input, begin)}`);
      const top = nested[nested.length - 1]!;
      if (endTag.length > 0 && endTag !== top.tag) {
        fail(
          `Unmatched end tag at byte offset ${byteOffset(input, begin)}, expected "</${top.tag}>", found "</${endTag}>"`,
        );
      }
      if (out.length > top.offset) {
        const offset = top.offset;
        const length = out.length - offset;
        const tag = top.tag;
        if (tag === 'i' || tag === 'em') entities.push({ kind: 'italic', type: 'italic', offset, length });
        else if (tag === 'b' || tag === 'strong') entities.push({ kind: 'bold', type: 'bold', offset, length });
        else if (tag === 's' || tag === 'strike' || tag === 'del')
          entities.push({ kind: 'strikethrough', type: 'strikethrough', offset, length });
        else if (tag === 'u' || tag === 'ins') entities.push({ kind: 'underline', type: 'underline', offset, length });
        else if (tag === 'tg-spoiler' || tag === 'span')
          entities.push({ kind: 'spoiler', type: 'spoiler', offset, length });
        else if (tag === 'tg-emoji') {
          if (!/^[1-9]\d*$/.test(top.argument)) fail('Invalid custom emoji identifier specified');
          entities.push({ kind: 'custom_emoji', type: 'custom_emoji', offset, length, custom_emoji_id: top.argument });
        } else if (tag === 'a') {
          const url = top.argument === '' ? out.slice(top.begin) : top.argument;
          const link = linkEntity(url, offset, length, lookupUser);
          if (link) entities.push({ ...link, kind: link.type });
        } else if (tag === 'pre') {
          const last = entities[entities.length - 1];
          if (last && last.kind === 'code' && last.offset === offset && last.length === length && last.argument) {
            last.kind = 'pre_code';
            last.type = 'pre';
            last.language = last.argument;
          } else {
            entities.push({ kind: 'pre', type: 'pre', offset, length });
          }
        } else if (tag === 'code') {
          const last = entities[entities.length - 1];
          if (last && last.kind === 'pre' && last.offset === offset && last.length === length && top.argument) {
            last.kind = 'pre_code';
            last.language = top.argument;
          } else {
            entities.push({ kind: 'code', type: 'code', offset, length, argument: top.argument });
          }
        } else if (tag === 'blockquote') {
          const type = top.expandable ? 'expandable_blockquote' : 'blockquote';
          entities.push({ kind: type, type, offset, length });
        }
      }
      nested.pop();
    }
  }
  if (nested.length > 0) fail(`Can't find end tag corresponding to start tag ${nested[nested.length - 1]!.tag}`);
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(out)) {
    fail('Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units');
  }
  const clean: MessageEntity[] = entities.map(({ kind: _kind, argument: _argument, ...e }) => e);
  return { text: out, entities: sortEntities(clean) };
}

// ---------------------------------------------------------------------------------------------
// Legacy Markdown (td::parse_markdown)

export function parseMarkdown(input: string, lookupUser: LookupUser = () => undefined): ParsedText {
  let out = '';
  const entities: MessageEntity[] = [];
  const at = (k: number): string => input[k] ?? '\0';
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c === '\\' && '_*`['.includes(at(i + 1)) && at(i + 1) !== '\0') {
      i++;
      out += input[i];
      continue;
    }
    if (c !== '_' && c !== '*' && c !== '`' && c !== '[') {
      out += c;
      continue;
    }
    const begin = i;
    const endCharacter = c === '[' ? ']' : c;
    let isPre = false;
    i++;
    let language = '';
    if (c === '`' && at(i) === '`' && at(i + 1) === '`') {
      i += 2;
      isPre = true;
      let languageEnd = i;
      while (!isSpace(at(languageEnd)) && at(languageEnd) !== '`') languageEnd++;
      if (i !== languageEnd && languageEnd < input.length && at(languageEnd) !== '`') {
        language = input.slice(i, languageEnd);
        i = languageEnd;
      }
      if (at(i) === '\n' || at(i) === '\r') {
        if ((at(i + 1) === '\n' || at(i + 1) === '\r') && at(i) !== at(i + 1)) i += 2;
        else i++;
      }
    }
    const offset = out.length;
    while (i < input.length && (input[i] !== endCharacter || (isPre && !(at(i + 1) === '`' && at(i + 2) === '`')))) {
      out += input[i++];
    }
    if (i >= input.length) {
      throw new EntityParseError(`Can't find end of the entity starting at byte offset ${byteOffset(input, begin)}`);
    }
    if (offset !== out.length) {
      const length = out.length - offset;
      if (c === '_') entities.push({ type: 'italic', offset, length });
      else if (c === '*') entities.push({ type: 'bold', offset, length });
      else if (c === '[') {
        let url = '';
        if (at(i + 1) !== '(') {
          url = input.slice(begin + 1, i);
        } else {
          i += 2;
          while (i < input.length && input[i] !== ')') url += input[i++];
        }
        const link = linkEntity(url, offset, length, lookupUser);
        if (link) entities.push(link);
      } else if (isPre) {
        entities.push(language ? { type: 'pre', offset, length, language } : { type: 'pre', offset, length });
      } else {
        entities.push({ type: 'code', offset, length });
      }
    }
    if (isPre) i += 2;
  }
  return { text: out, entities: sortEntities(entities) };
}

// ---------------------------------------------------------------------------------------------
// Entities the server finds by itself

const WORD = /[\p{L}\p{Nd}\p{N}_]/u;

/**
 * The entities Telegram detects in any text: bot commands (`/start`, `/enhance@dance_bot`), mentions,
 * hashtags and http(s) URLs. Simplified from TDLib's matchers (the URL one only takes links with a
 * scheme), which is enough for grammY's `bot.command()` to work on messages the fake users send.
 */
export function findEntities(text: string): MessageEntity[] {
  const found: MessageEntity[] = [];
  const before = (i: number): string => (i > 0 ? text[i - 1]! : '');
  // bot commands: (?<!\b|[\/<>])\/([a-zA-Z0-9_]{1,64})(?:@([a-zA-Z0-9_]{3,32}))?(?!\B|[\/<>])
  for (const m of text.matchAll(/\/([a-zA-Z0-9_]{1,64})(@[a-zA-Z0-9_]{3,32})?/g)) {
    const i = m.index!;
    const prev = before(i);
    if (prev && (WORD.test(prev) || '/<>'.includes(prev))) continue;
    const next = text[i + m[0].length] ?? '';
    if (next && (WORD.test(next) || '/<>'.includes(next))) continue;
    found.push({ type: 'bot_command', offset: i, length: m[0].length });
  }
  for (const m of text.matchAll(/@([a-zA-Z0-9_]{2,32})/g)) {
    const i = m.index!;
    const prev = before(i);
    if (prev && WORD.test(prev)) continue;
    if (prev === '/' || (i > 0 && found.some((e) => e.offset < i && e.offset + e.length > i))) continue;
    const next = text[i + m[0].length] ?? '';
    if (next && WORD.test(next)) continue;
    found.push({ type: 'mention', offset: i, length: m[0].length });
  }
  for (const m of text.matchAll(/#([\p{L}\p{Nd}_]{1,256})/gu)) {
    const i = m.index!;
    const prev = before(i);
    if (prev && WORD.test(prev)) continue;
    if (!/\p{L}/u.test(m[1]!)) continue;
    found.push({ type: 'hashtag', offset: i, length: m[0].length });
  }
  for (const m of text.matchAll(/\bhttps?:\/\/[^\s<>"]+/gi)) {
    let url = m[0];
    while (/[.,;:!?)\]'"]$/.test(url)) url = url.slice(0, -1);
    if (checkLink(url).url) found.push({ type: 'url', offset: m.index!, length: url.length });
  }
  return sortEntities(found);
}

/** TDLib's merge_entities: keep `old`, add each new entity that does not intersect one of them. */
export function mergeEntities(old: MessageEntity[], found: MessageEntity[]): MessageEntity[] {
  const result = [...old];
  for (const e of found) {
    const overlaps = old.some((o) => e.offset < o.offset + o.length && o.offset < e.offset + e.length);
    if (!overlaps) result.push(e);
  }
  return sortEntities(result);
}

/** Strip leading/trailing white space like Telegram does, moving and clipping the entities. */
export function trimFormatted(parsed: ParsedText): ParsedText {
  const lead = /^\s*/u.exec(parsed.text)![0].length;
  const text = parsed.text.trim();
  const entities: MessageEntity[] = [];
  for (const e of parsed.entities) {
    const start = Math.max(0, e.offset - lead);
    const end = Math.min(text.length, e.offset + e.length - lead);
    if (end > start) entities.push({ ...e, offset: start, length: end - start });
  }
  return { text, entities };
}

export const codePointLength = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
