import type { SignalSeries } from '@pulsebridge/core';

/**
 * A drain incident's chart as numbers and short texts, drawn as SVG by the `signal-chart`
 * template (every value goes through the template's escaping): a bar per minute, the threshold
 * line, a mark where a window crossed it, and the suspect deploy and the resolution as vertical
 * lines. Rendered on the server: it needs no JavaScript.
 */
export interface ChartModel {
  width: number;
  height: number;
  plot: { left: number; right: number; top: number; bottom: number };
  bars: { x: number; y: number; width: number; height: number; title: string }[];
  threshold: { y: number; label: string };
  marks: { x: number; y: number; title: string }[];
  lines: { x: number; label: string; kind: 'suspect' | 'resolved' }[];
  xLabels: { x: number; text: string; anchor: 'start' | 'middle' | 'end' }[];
  yLabel: { y: number; text: string };
  summary: string;
}

const WIDTH = 720;
const HEIGHT = 180;
const PLOT = { left: 44, right: WIDTH - 12, top: 16, bottom: HEIGHT - 24 };

const hhmm = (minute: number) => new Date(minute * 60_000).toISOString().slice(11, 16);
const round1 = (n: number) => Math.round(n * 10) / 10;

export function chartModel(series: SignalSeries): ChartModel {
  const n = series.values.length;
  const plotWidth = PLOT.right - PLOT.left;
  const plotHeight = PLOT.bottom - PLOT.top;
  const barWidth = plotWidth / Math.max(1, n);
  const peak = Math.max(0, ...series.values);
  const yMax = Math.max(1, peak, series.threshold) * 1.15;
  const yOf = (value: number) => round1(PLOT.bottom - (value / yMax) * plotHeight);
  const xOf = (minute: number) => round1(PLOT.left + (minute - series.fromMinute) * barWidth);
  const unit = series.measure === 'share' ? '%' : '';
  const what = series.measure === 'share' ? `5xx share of requests` : `${series.code} count`;
  const bars = series.values.map((value, index) => ({
    x: round1(PLOT.left + index * barWidth + barWidth * 0.1),
    y: yOf(value),
    width: round1(Math.max(0.5, barWidth * 0.8)),
    height: round1(PLOT.bottom - yOf(value)),
    title: `${hhmm(series.fromMinute + index)} UTC: ${value}${unit}`,
  }));
  const inRange = (minute: number) => minute >= series.fromMinute && minute <= series.toMinute;
  const lines: ChartModel['lines'] = [];
  if (series.suspect !== null && inRange(series.suspect.minute)) lines.push({ x: xOf(series.suspect.minute), label: series.suspect.label, kind: 'suspect' });
  if (series.resolvedMinute !== null && inRange(series.resolvedMinute)) lines.push({ x: xOf(series.resolvedMinute + 1), label: 'resolved', kind: 'resolved' });
  const peakIndex = series.values.indexOf(peak);
  return {
    width: WIDTH,
    height: HEIGHT,
    plot: PLOT,
    bars,
    threshold: { y: yOf(series.threshold), label: `threshold ${series.threshold}${unit}` },
    marks: [...new Set(series.crossings)].map((minute) => ({ x: round1(xOf(minute) + barWidth / 2), y: PLOT.top - 2, title: `${hhmm(minute)} UTC: above threshold` })),
    lines,
    xLabels: [
      { x: PLOT.left, text: hhmm(series.fromMinute), anchor: 'start' },
      { x: round1((PLOT.left + PLOT.right) / 2), text: hhmm(series.fromMinute + Math.floor(n / 2)), anchor: 'middle' },
      { x: PLOT.right, text: `${hhmm(series.toMinute)} UTC`, anchor: 'end' },
    ],
    yLabel: { y: PLOT.top + 4, text: `${round1(yMax / 1.15)}${unit}` },
    summary:
      `${what} on ${series.processType} per ${series.windowMinutes}-minute window, ${hhmm(series.fromMinute)} to ${hhmm(series.toMinute)} UTC; ` +
      `threshold ${series.threshold}${unit}; peak ${peak}${unit}${peakIndex >= 0 && peak > 0 ? ` at ${hhmm(series.fromMinute + peakIndex)} UTC` : ''}` +
      (series.suspect !== null ? `; suspect deploy ${series.suspect.label} at ${hhmm(series.suspect.minute)} UTC` : ''),
  };
}
