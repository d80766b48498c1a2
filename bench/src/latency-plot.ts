import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export interface LatencySeries {
  label: string;
  color: string;
  /** [seconds since start, latency in ms] */
  points: [number, number][];
}

const CHROMIUM = '/usr/bin/chromium';

/** Latency over time as an SVG scatter plot, screenshotted to PNG with Debian's Chromium. */
export async function writeLatencyPlot(file: string, title: string, series: LatencySeries[], targetsMs: { label: string; ms: number }[]): Promise<boolean> {
  if (!existsSync(CHROMIUM)) return false;
  const width = 1000;
  const height = 480;
  const pad = { left: 70, right: 20, top: 40, bottom: 50 };
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1, ...all.map(([x]) => x));
  const maxY = Math.max(100, ...targetsMs.map((t) => t.ms * 1.2), ...all.map(([, y]) => Math.min(y, 5_000)));
  const x = (v: number) => pad.left + (v / maxX) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (Math.min(v, maxY) / maxY) * (height - pad.top - pad.bottom);
  const ticks = Array.from({ length: 6 }, (_, i) => Math.round((maxY / 5) * i));
  const xStep = maxX > 60 ? 20 : maxX > 20 ? 10 : 5;
  const xTicks = Array.from({ length: Math.floor(maxX / xStep) + 1 }, (_, i) => i * xStep);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
  <rect width="100%" height="100%" fill="#fff"/>
  <text x="${pad.left}" y="22" font-size="15" font-weight="bold">${title}</text>
  ${ticks.map((t) => `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${pad.left - 8}" y="${y(t) + 4}" text-anchor="end">${t} ms</text>`).join('')}
  <line x1="${pad.left}" x2="${pad.left}" y1="${pad.top}" y2="${height - pad.bottom}" stroke="#999"/>
  <line x1="${pad.left}" x2="${width - pad.right}" y1="${height - pad.bottom}" y2="${height - pad.bottom}" stroke="#999"/>
  ${xTicks.map((t) => `<line x1="${x(t)}" x2="${x(t)}" y1="${height - pad.bottom}" y2="${height - pad.bottom + 5}" stroke="#999"/><text x="${x(t)}" y="${height - pad.bottom + 18}" text-anchor="middle">${t}</text>`).join('')}
  <text x="${(width + pad.left) / 2}" y="${height - 8}" text-anchor="middle">seconds since the measured deliveries began (when the incident's first delivery was accepted)</text>
  ${targetsMs.map((t) => `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(t.ms)}" y2="${y(t.ms)}" stroke="#c92a2a" stroke-dasharray="6 4"/><text x="${width - pad.right}" y="${y(t.ms) - 4}" text-anchor="end" fill="#c92a2a">${t.label}</text>`).join('')}
  ${series.map((s) => s.points.map(([px, py]) => `<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="2" fill="${s.color}" fill-opacity="0.6"/>`).join('')).join('')}
  ${series.map((s, i) => `<rect x="${pad.left + 10 + i * 230}" y="${pad.top + 4}" width="10" height="10" fill="${s.color}"/><text x="${pad.left + 26 + i * 230}" y="${pad.top + 13}">${s.label}</text>`).join('')}
</svg>`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.screenshot({ path: file });
  } finally {
    await browser.close();
  }
  return true;
}
