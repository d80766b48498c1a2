/**
 * Escapes untrusted text for Slack mrkdwn: `&`, `<` and `>` are the only characters Slack
 * interprets as control sequences (`<!channel>`, `<@U123>`, `<url|label>`).
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Cuts text to at most `max` characters, ending with an ellipsis, never inside an escape
 * like `&amp;` nor inside a surrogate pair.
 */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  const amp = cut.lastIndexOf('&');
  if (amp !== -1 && amp > cut.length - 6 && !cut.slice(amp).includes(';')) cut = cut.slice(0, amp);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Slack's limits (docs.slack.dev: Block Kit and chat.postMessage). */
export const SLACK_LIMITS = {
  headerText: 150,
  sectionText: 3_000,
  fieldText: 2_000,
  fields: 10,
  blocks: 50,
  contextText: 2_000,
  buttonText: 75,
  /** `text` is cut by Slack above 40,000; keep notifications readable well below that. */
  text: 4_000,
} as const;
