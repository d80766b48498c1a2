/** A service as routing needs it. */
export interface RoutedService {
  name: string;
  slackChannels: string[];
  postPulses: boolean;
}

/**
 * Channels of every linked service (for pulses, only services that post pulses), or the
 * default channel when that leaves none. Duplicates (`#ops` and `ops`) are sent once.
 */
export function routeToChannels(services: RoutedService[], defaultChannel: string | undefined, kind: 'incident' | 'pulse'): string[] {
  const seen = new Map<string, string>();
  for (const service of services) {
    if (kind === 'pulse' && !service.postPulses) continue;
    for (const channel of service.slackChannels) {
      const key = channel.replace(/^#/, '').toLowerCase();
      if (!seen.has(key)) seen.set(key, channel);
    }
  }
  if (seen.size > 0) return [...seen.values()];
  const anyLinked = services.some((service) => kind === 'incident' || service.postPulses);
  // A linked service that chose not to post pulses is a choice, not a missing route.
  if (kind === 'pulse' && services.length > 0 && !anyLinked) return [];
  return defaultChannel === undefined ? [] : [defaultChannel];
}
