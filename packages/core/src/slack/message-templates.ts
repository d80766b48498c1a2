import type { Liquid, Template } from 'liquidjs';
import { z } from 'zod';
import { compileTemplate, parseConfigYaml, readConfigFile, registerCommonFilters } from '../config-files.js';
import { createLiquid, TEMPLATE_LIMITS } from '../create-liquid.js';
import { escapeMrkdwn, SLACK_LIMITS, truncateText } from './mrkdwn.js';

const template = z.string();
const FieldSchema = z.object({ label: template.min(1), value: template }).strict();
const MessageSchema = z
  .object({
    text: template.min(1),
    header: template.min(1),
    body: template.optional(),
    fields: z.array(FieldSchema).max(SLACK_LIMITS.fields).default([]),
    context: template.optional(),
  })
  .strict();

const SlackTemplatesSchema = z
  .object({
    incident: MessageSchema,
    thread_reply: z.object({ text: template.min(1) }).strict(),
    pulse: z.object({ build: MessageSchema, release: MessageSchema, deploy: MessageSchema }).strict(),
  })
  .strict();

/**
 * A message's texts (text, header, body, field labels and values, context) compiled as one
 * template, joined by NUL: one render per message instead of one per text (a sixth of the CPU
 * for the default incident message). NUL can appear in neither part: templates holding one are
 * refused, and it is stripped from every value.
 */
interface CompiledMessage {
  template: Template[];
  hasBody: boolean;
  fieldCount: number;
  hasContext: boolean;
}

const PART_SEPARATOR = '\u0000';

export interface SlackTemplates {
  file: string;
  incident: CompiledMessage;
  threadReply: Template[];
  pulse: Record<'build' | 'release' | 'deploy', CompiledMessage>;
  liquid: Liquid;
}

/** Block Kit JSON: built in code from rendered strings, never Liquid over JSON. */
export type Block = { type: string; block_id?: string } & Record<string, unknown>;

export interface RenderedMessage {
  text: string;
  blocks: Block[];
}

export class SlackTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlackTemplateError';
  }
}

/**
 * Liquid for Slack: every `{{ value }}` is escaped for mrkdwn, so payload text (app names,
 * descriptions, commit messages, emails) can never become a mention, a link or markup; the
 * template's own literal text is the admin's and stays as written (no `raw` filter to undo the
 * escaping). Partials are `.liquid`
 * files in the config folder when one is given, no other file.
 */
export function createSlackLiquid(configDir?: string): Liquid {
  const liquid = createLiquid({
    files: configDir === undefined ? 'none' : { root: configDir },
    limits: TEMPLATE_LIMITS.config,
    outputEscape: (value: unknown) => escapeMrkdwn(value === null || value === undefined ? '' : String(value).replaceAll(PART_SEPARATOR, '')),
  });
  // `raw` would put a value into the message unescaped: a template that uses it does not parse.
  delete (liquid.filters as Record<string, unknown>).raw;
  return registerCommonFilters(liquid);
}

/** Validates and compiles `slack.yaml` text; templates may use partials from `configDir` (none without it). */
export function compileSlackTemplates(source: string, file: string, configDir?: string): SlackTemplates {
  const fail = (message: string) => new SlackTemplateError(message);
  const parsed = SlackTemplatesSchema.safeParse(parseConfigYaml(source, file, fail));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SlackTemplateError(`${file}: ${issue.path.join('.') || 'top level'}: ${issue.message}`);
  }
  const liquid = createSlackLiquid(configDir);
  // Each text is compiled on its own first, so an error names the text it is in.
  const compile = (where: string, source: string): Template[] => {
    if (source.includes(PART_SEPARATOR)) throw fail(`${file}: ${where}: contains the NUL character`);
    return compileTemplate(liquid, source, `${file}: ${where}`, fail);
  };
  const message = (where: string, input: z.output<typeof MessageSchema>): CompiledMessage => {
    const parts: [string, string][] = [
      ['text', input.text],
      ['header', input.header],
      ...(input.body === undefined ? [] : [['body', input.body] as [string, string]]),
      ...input.fields.flatMap((field, index): [string, string][] => [
        [`fields.${index}.label`, field.label],
        [`fields.${index}.value`, field.value],
      ]),
      ...(input.context === undefined ? [] : [['context', input.context] as [string, string]]),
    ];
    for (const [name, source] of parts) compile(`${where}.${name}`, source);
    return {
      template: compileTemplate(liquid, parts.map(([, source]) => source).join(PART_SEPARATOR), `${file}: ${where}`, fail),
      hasBody: input.body !== undefined,
      fieldCount: input.fields.length,
      hasContext: input.context !== undefined,
    };
  };
  const t = parsed.data;
  return {
    file,
    liquid,
    incident: message('incident', t.incident),
    threadReply: compile('thread_reply.text', t.thread_reply.text),
    pulse: { build: message('pulse.build', t.pulse.build), release: message('pulse.release', t.pulse.release), deploy: message('pulse.deploy', t.pulse.deploy) },
  };
}

/** Loads `<configDir>/slack.yaml`; a broken file fails start-up naming it. */
export async function loadSlackTemplates(configDir: string): Promise<SlackTemplates> {
  const { file, source } = await readConfigFile(configDir, 'slack.yaml', (message) => new SlackTemplateError(message));
  return compileSlackTemplates(source, file, configDir);
}

function renderText(liquid: Liquid, template: Template[], scope: object): string {
  return String(liquid.renderSync(template, scope)).trim();
}

/** What a message says when its template cannot be rendered: its title (payload text) and a link. */
export interface PlainMessage {
  title: string;
  url?: string;
}

/**
 * Header, body, fields and context of one message; the caller adds buttons. A render that fails
 * (a template over its limits with this message's values, a filter that throws) still gives a
 * message: the plain title and link, saying the template failed, with `renderError` set, so a
 * page is never lost to a template.
 */
export function renderMessage(templates: SlackTemplates, message: CompiledMessage, scope: object, plain: PlainMessage): RenderedMessage & { renderError?: string } {
  let output: string;
  try {
    output = String(templates.liquid.renderSync(message.template, scope));
  } catch (error) {
    const reason = (error as Error).message;
    const note = `_${escapeMrkdwn(templates.file)} could not be rendered for this message (${escapeMrkdwn(truncateText(reason, 300))}); this is pulsebridge's plain message._`;
    const link = plain.url === undefined ? '' : `\n<${plain.url}|Open in pulsebridge>`;
    return {
      text: truncateText(escapeMrkdwn(plain.title), SLACK_LIMITS.text),
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: truncateText(plain.title || ' ', SLACK_LIMITS.headerText), emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: truncateText(`${note}${link}`, SLACK_LIMITS.sectionText) } },
      ],
      renderError: reason,
    };
  }
  const parts = output.split(PART_SEPARATOR).map((part) => part.trim());
  let at = 0;
  const next = () => parts[at++] ?? '';
  const text = next();
  const header = next();
  const body = message.hasBody ? next() : '';
  const blocks: Block[] = [{ type: 'header', text: { type: 'plain_text', text: truncateText(header || ' ', SLACK_LIMITS.headerText), emoji: true } }];
  if (body !== '') blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncateText(body, SLACK_LIMITS.sectionText) } });
  const fields = Array.from({ length: message.fieldCount }, () => ({ label: next(), value: next() }))
    .filter((field) => field.value !== '')
    .map((field) => ({ type: 'mrkdwn', text: truncateText(`*${field.label}*\n${field.value}`, SLACK_LIMITS.fieldText) }));
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  const context = message.hasContext ? next() : '';
  if (context !== '') blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncateText(context, SLACK_LIMITS.contextText) }] });
  return { text: truncateText(text, SLACK_LIMITS.text), blocks };
}

/** The thread reply; when its template cannot be rendered, the changes as plain text. */
export function renderThreadReply(templates: SlackTemplates, scope: { changes: string }): string {
  try {
    return truncateText(renderText(templates.liquid, templates.threadReply, scope), SLACK_LIMITS.text);
  } catch {
    return truncateText(escapeMrkdwn(scope.changes), SLACK_LIMITS.text);
  }
}
