import { Liquid, type Template } from 'liquidjs';
import { z } from 'zod';
import { compileTemplate, parseConfigYaml, readConfigFile, registerCommonFilters } from '../config-files.js';
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

interface CompiledMessage {
  text: Template[];
  header: Template[];
  body: Template[] | null;
  fields: { label: Template[]; value: Template[] }[];
  context: Template[] | null;
}

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
 * template's own literal text is the admin's and stays as written.
 */
function createSlackLiquid(): Liquid {
  const liquid = new Liquid({
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    outputEscape: (value: unknown) => escapeMrkdwn(value === null || value === undefined ? '' : String(value)),
  });
  return registerCommonFilters(liquid);
}

export function compileSlackTemplates(source: string, file: string): SlackTemplates {
  const fail = (message: string) => new SlackTemplateError(message);
  const parsed = SlackTemplatesSchema.safeParse(parseConfigYaml(source, file, fail));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SlackTemplateError(`${file}: ${issue.path.join('.') || 'top level'}: ${issue.message}`);
  }
  const liquid = createSlackLiquid();
  const compile = (where: string, source: string): Template[] => compileTemplate(liquid, source, `${file}: ${where}`, fail);
  const message = (where: string, input: z.output<typeof MessageSchema>): CompiledMessage => ({
    text: compile(`${where}.text`, input.text),
    header: compile(`${where}.header`, input.header),
    body: input.body === undefined ? null : compile(`${where}.body`, input.body),
    fields: input.fields.map((field, index) => ({ label: compile(`${where}.fields.${index}.label`, field.label), value: compile(`${where}.fields.${index}.value`, field.value) })),
    context: input.context === undefined ? null : compile(`${where}.context`, input.context),
  });
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
  return compileSlackTemplates(source, file);
}

function renderText(liquid: Liquid, template: Template[], scope: object): string {
  return String(liquid.renderSync(template, scope)).trim();
}

/** Header, body, fields and context of one message; the caller adds buttons. */
export function renderMessage(templates: SlackTemplates, message: CompiledMessage, scope: object): RenderedMessage {
  const r = (t: Template[]) => renderText(templates.liquid, t, scope);
  const blocks: Block[] = [{ type: 'header', text: { type: 'plain_text', text: truncateText(r(message.header) || ' ', SLACK_LIMITS.headerText), emoji: true } }];
  const body = message.body ? r(message.body) : '';
  if (body !== '') blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncateText(body, SLACK_LIMITS.sectionText) } });
  const fields = message.fields
    .map((field) => ({ label: r(field.label), value: r(field.value) }))
    .filter((field) => field.value !== '')
    .map((field) => ({ type: 'mrkdwn', text: truncateText(`*${field.label}*\n${field.value}`, SLACK_LIMITS.fieldText) }));
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  const context = message.context ? r(message.context) : '';
  if (context !== '') blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncateText(context, SLACK_LIMITS.contextText) }] });
  return { text: truncateText(r(message.text), SLACK_LIMITS.text), blocks };
}

export function renderThreadReply(templates: SlackTemplates, scope: object): string {
  return truncateText(renderText(templates.liquid, templates.threadReply, scope), SLACK_LIMITS.text);
}
