import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { escapeMrkdwn, truncateText } from './mrkdwn.js';
import { compileSlackTemplates, loadSlackTemplates, renderMessage, renderThreadReply, SlackTemplateError } from './message-templates.js';

const CONFIG_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../../config');

describe('mrkdwn escaping and limits', () => {
  it.each([
    ['<!channel>', '&lt;!channel&gt;'],
    ['<@U123> & <https://evil.example|click>', '&lt;@U123&gt; &amp; &lt;https://evil.example|click&gt;'],
    ['a &amp; b', 'a &amp;amp; b'],
    ['plain *bold* _x_', 'plain *bold* _x_'],
  ])('%s', (input, escaped) => {
    expect(escapeMrkdwn(input)).toBe(escaped);
  });

  it('cuts cleanly: within the limit, with an ellipsis, never inside an escape or a surrogate pair', () => {
    expect(truncateText('short', 10)).toBe('short');
    expect(truncateText('abcdefghij', 5)).toBe('abcd…');
    expect(truncateText('abc&amp;def', 6)).toBe('abc…');
    expect(truncateText('ab😀cd', 4)).toBe('ab…');
    expect(truncateText('x'.repeat(5000), 3000)).toHaveLength(3000);
  });
});

describe('message templates', () => {
  it('the defaults render every kind within Slack limits, with payload text escaped', async () => {
    const templates = await loadSlackTemplates(CONFIG_DIR);
    const hostile = '<!channel> & <https://evil.example|click>';
    const incident = renderMessage(templates, templates.incident, {
      incident: { status_label: 'Triggered', status: 'triggered', severity: 'high', title: `Release failed: ${hostile} ${'x'.repeat(400)}`, app_name: 'shop', alert_count: 1, number: 3, url: 'http://pb/incidents/1' },
      services: 'checkout',
      suspect: { summary: `[Heroku][Release] ${hostile}`, version: 'v42', commit_sha: '1a2b3c4d', actor_email: 'alice@example.com', minutes_before: 4 },
    }, { title: 'plain' });
    const json = JSON.stringify(incident);
    expect(json).not.toContain('<!channel>');
    expect(json).not.toContain('<https://evil.example');
    expect(json).toContain('&lt;!channel&gt;');
    expect(json).toContain('<http://pb/incidents/1|Open in pulsebridge>');
    expect((incident.blocks[0] as any).text.text.length).toBeLessThanOrEqual(150);
    expect(json).toContain('v42 by alice@example.com (1a2b3c4), 4 min before');
    for (const kind of ['build', 'release', 'deploy'] as const) {
      const pulse = renderMessage(templates, templates.pulse[kind], { pulse: { summary: `[Heroku] ${hostile}`, data: { git_log: hostile, head: 'abc' }, commit_sha: 'abcdef123', app_name: 'shop', version: 'v1', status: 'succeeded' }, services: '' }, { title: 'plain' });
      expect(JSON.stringify(pulse)).not.toContain('<!channel>');
    }
  });

  it('puts each text where it belongs, whatever the values hold; empty fields are left out', () => {
    const source = [
      'incident: {text: "T {{ a }}", header: "H {{ a }}", body: "{{ b }}", fields: [{label: One, value: "{{ a }}"}, {label: Two, value: "{{ missing }}"}, {label: "{{ b }}", value: "3"}], context: "C"}',
      'thread_reply: {text: c}',
      'pulse: {build: {text: a, header: b}, release: {text: a, header: b}, deploy: {text: a, header: b}}',
    ].join('\n');
    const templates = compileSlackTemplates(source, 'slack.yaml');
    // A NUL in a value (never stored by PostgreSQL, but possible in a scope) cannot shift texts.
    const message = renderMessage(templates, templates.incident, { a: 'x\u0000y', b: '  spaced  ' }, { title: 'plain' });
    expect(message).toEqual({
      text: 'T xy',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'H xy', emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: 'spaced' } },
        { type: 'section', fields: [{ type: 'mrkdwn', text: '*One*\nxy' }, { type: 'mrkdwn', text: '*spaced*\n3' }] },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'C' }] },
      ],
    });
  });

  it('a template that fails with this message’s values still posts the plain title and link, escaped, saying so', () => {
    const source = [
      'incident: {text: "T {{ a }}", header: "{% for i in (1..100000000) %}{{ i }}{% endfor %}"}',
      'thread_reply: {text: "{% for i in (1..100000000) %}{{ i }}{% endfor %}{{ changes }}"}',
      'pulse: {build: {text: a, header: b}, release: {text: a, header: b}, deploy: {text: a, header: b}}',
    ].join('\n');
    const templates = compileSlackTemplates(source, 'slack.yaml');
    const message = renderMessage(templates, templates.incident, { a: 'x' }, { title: 'Dyno <!channel> & web.1 crashed', url: 'https://pb.example/incidents/1' });
    expect(message.renderError).toMatch(/limit/);
    expect(message.text).toBe('Dyno &lt;!channel&gt; &amp; web.1 crashed');
    expect(message.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Dyno <!channel> & web.1 crashed', emoji: true } });
    expect(message.blocks[1]).toMatchObject({ type: 'section', text: { type: 'mrkdwn', text: expect.stringMatching(/^_slack\.yaml could not be rendered for this message \(.*limit.*\); this is pulsebridge's plain message\._\n<https:\/\/pb\.example\/incidents\/1\|Open in pulsebridge>$/) } });
    expect(renderThreadReply(templates, { changes: 'Acknowledged by <@U1>' })).toBe('Acknowledged by &lt;@U1&gt;');
  });

  it.each([
    ['NUL in a text', 'incident: {text: "a\\0b", header: b}\nthread_reply: {text: c}\npulse: {build: {text: a, header: b}, release: {text: a, header: b}, deploy: {text: a, header: b}}', /slack\.yaml: incident\.text: contains the NUL character/],
    ['missing section', 'incident: {text: a, header: b}\nthread_reply: {text: c}', /slack\.yaml: pulse: /],
    ['raw, which would undo the escaping', 'incident: {text: "{{ incident.title | raw }}", header: b}\nthread_reply: {text: c}\npulse: {build: {text: a, header: b}, release: {text: a, header: b}, deploy: {text: a, header: b}}', /slack\.yaml: incident\.text: undefined filter: raw/],
    ['bad filter', 'incident: {text: "{{ x | nope }}", header: b}\nthread_reply: {text: c}\npulse: {build: {text: a, header: b}, release: {text: a, header: b}, deploy: {text: a, header: b}}', /slack\.yaml: incident\.text: undefined filter: nope/],
    ['too many fields', `incident: {text: a, header: b, fields: [${Array(11).fill('{label: l, value: v}').join(',')}]}\nthread_reply: {text: c}\npulse: {build: {text: a, header: b}, release: {text: a, header: b}, deploy: {text: a, header: b}}`, /incident\.fields/],
  ])('a broken template file fails naming it: %s', (_name, source, message) => {
    expect(() => compileSlackTemplates(source, '/etc/pb/slack.yaml')).toThrow(SlackTemplateError);
    expect(() => compileSlackTemplates(source, '/etc/pb/slack.yaml')).toThrow(message);
  });
});
