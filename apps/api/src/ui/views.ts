import path from 'node:path';
import type { Liquid } from 'liquidjs';
import { createLiquid, isReadableDate, isoDate, registerCommonFilters, TEMPLATE_LIMITS } from '@pulsebridge/core';

const VIEWS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../views');

/** "4 min ago", "in 2 h", ... for people scanning a list; the exact time is in a tooltip. */
export function relativeTime(value: Date | string | null | undefined, now = Date.now()): string {
  if (value === null || value === undefined) return '';
  const date = typeof value === 'string' ? new Date(value) : value;
  if (!isReadableDate(date)) return '';
  const seconds = Math.round((now - date.getTime()) / 1000);
  const abs = Math.abs(seconds);
  const [amount, unit] = abs < 60 ? [abs, 's'] : abs < 3600 ? [Math.round(abs / 60), 'min'] : abs < 86_400 ? [Math.round(abs / 3600), 'h'] : [Math.round(abs / 86_400), 'd'];
  if (abs < 10) return 'just now';
  return seconds >= 0 ? `${amount} ${unit} ago` : `in ${amount} ${unit}`;
}

/**
 * Liquid as the view engine: every `{{ value }}` is HTML-escaped (payload text is shown, never
 * run); layouts and partials come from the views folder only, within the view limits.
 */
export function createViewEngine(): Liquid {
  const liquid = createLiquid({
    files: { root: VIEWS, cache: process.env.NODE_ENV === 'production' },
    limits: TEMPLATE_LIMITS.views,
    outputEscape: 'escape',
  });
  liquid.registerFilter('ago', (value: unknown) => relativeTime(value as Date | string | null));
  liquid.registerFilter('iso', (value: unknown) => (value instanceof Date ? (isoDate(value) ?? '') : typeof value === 'string' ? value : ''));
  liquid.registerFilter('json', (value: unknown) => JSON.stringify(value, null, 2));
  return registerCommonFilters(liquid);
}
