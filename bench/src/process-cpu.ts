import { readFileSync, readdirSync } from 'node:fs';

/** CPU seconds used so far, per group of processes, read from /proc (Linux). */
export type CpuSnapshot = Map<string, number>;

const TICKS_PER_SECOND = 100;

/**
 * CPU time of every process on the machine, grouped: the named pids by their label,
 * PostgreSQL and Redis servers by name, and everything else as `other`.
 */
export function cpuSnapshot(named: Record<string, number | undefined>): CpuSnapshot {
  const labels = new Map<number, string>();
  for (const [label, pid] of Object.entries(named)) if (pid !== undefined) labels.set(pid, label);
  const totals: CpuSnapshot = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone since the listing
    }
    const close = stat.lastIndexOf(')');
    const name = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    const pid = Number(entry);
    const label = labels.get(pid) ?? (name === 'postgres' ? 'postgres' : name.startsWith('redis-server') ? 'redis' : 'other');
    totals.set(label, (totals.get(label) ?? 0) + seconds);
  }
  return totals;
}

/** CPU used between two snapshots, per group, in seconds (processes that ended in between are missed). */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): Map<string, number> {
  const used = new Map<string, number>();
  for (const [label, seconds] of after) used.set(label, Math.max(0, seconds - (before.get(label) ?? 0)));
  return used;
}
