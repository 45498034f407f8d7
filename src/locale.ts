/** The languages of every user-facing text (src/i18n/messages.ts); low, so that any layer may name one. */
export type Locale = 'en' | 'zh';
export const LOCALES: readonly Locale[] = ['en', 'zh'];
