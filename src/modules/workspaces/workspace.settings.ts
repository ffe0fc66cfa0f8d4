import { DEFAULT_LIVE_INTERVAL_MS, MIN_LIVE_INTERVAL_MS } from '../../platform/live';

/** Upper bound of the live coalescing interval a workspace may set (one minute). */
export const MAX_LIVE_INTERVAL_MS = 60_000;

/** The workspace's live coalescing interval (`workspaces.settings.liveUpdateIntervalMs`), defaulted and clamped. */
export function liveIntervalOf(settings: Record<string, unknown> | null | undefined): number {
  const v = settings?.liveUpdateIntervalMs;
  if (typeof v !== 'number' || !Number.isInteger(v)) return DEFAULT_LIVE_INTERVAL_MS;
  return Math.min(MAX_LIVE_INTERVAL_MS, Math.max(MIN_LIVE_INTERVAL_MS, v));
}

/** Languages a workspace may choose for the text Siyu writes for it (alert messages). */
export type WorkspaceLocaleKey = 'zh-CN' | 'en';

/** Siyu is built for brands in China: a workspace writes Chinese unless it chose English. */
export const DEFAULT_LOCALE: WorkspaceLocaleKey = 'zh-CN';

/** The workspace's language (`workspaces.settings.locale`), defaulted. */
export function localeOf(settings: Record<string, unknown> | null | undefined): WorkspaceLocaleKey {
  return settings?.locale === 'en' ? 'en' : DEFAULT_LOCALE;
}
