/**
 * A Telegram file onto this machine: getFile, then the cloud Bot API's file link (through the shared
 * download-with-retry) or, with a self-hosted `telegram-bot-api --local`, a copy of the absolute
 * path it answers with.
 */
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { GrammyError, type Api } from 'grammy';
import type { Logger } from 'pino';
import { downloadWithRetry } from '../download.js';
import { MB, overDownloadLimit, type FoundMedia } from './parse.js';

export class TooBigToDownload extends Error {
  constructor(readonly sizeMb: number) {
    super('file too big to download');
  }
}

export function telegramDownloader(api: Api, tg: { token: string; apiRoot: string; downloadLimitMb: number; localMode: boolean }, log: Logger) {
  return async function download(found: FoundMedia, target: string): Promise<void> {
    if (overDownloadLimit(found.media.file_size, tg.downloadLimitMb, tg.localMode)) throw new TooBigToDownload(found.media.file_size! / MB);
    let file;
    try {
      file = await api.getFile(found.media.file_id);
    } catch (err) {
      if (err instanceof GrammyError && /file is too big/i.test(err.description)) throw new TooBigToDownload((found.media.file_size ?? 0) / MB);
      throw err;
    }
    const filePath = file.file_path;
    if (!filePath) throw new Error('getFile returned no file_path');
    if (path.isAbsolute(filePath)) {
      if (!tg.localMode) throw new Error('the Bot API server returned a local path: set TELEGRAM_LOCAL_MODE=true');
      // The server's own copy stays where it is; the job gets its own.
      await copyFile(filePath, target);
      return;
    }
    const url = `${tg.apiRoot}/file/bot${tg.token}/${filePath.split('/').map(encodeURIComponent).join('/')}`;
    await downloadWithRetry(url, target, { log });
  };
}
