import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { createIntegrationOps, createSlackClient, herokuClientForApp, loggableUrl, type Config, type Database, type DrainWindowStore, type Ingestor, type IntegrationDeps, type IntegrationDirectory, type Logger, type Metrics, type Queues, type RuleSet } from '@pulsebridge/core';
import { registerUi } from './ui/ui-routes.js';
import { createViewEngine } from './ui/views.js';
import { registerSlackInteractions } from './routes/slack-interactions.js';
import { sameOriginPath } from './http/same-origin-path.js';
import { authenticate } from './http/auth.js';
import { requestIdOf } from './http/request-guard.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import { RouteTable } from './http/route-table.js';
import { describeOtherEndpoints } from './http/documented-endpoints.js';
import { registerActionRunRoutes } from './routes/action-runs.js';
import { registerWorkflowRoutes } from './routes/workflows.js';
import { registerEscalationRoutes } from './routes/escalation.js';
import { registerMaintenanceWindowRoutes } from './routes/maintenance-windows.js';
import { registerEventRoutes } from './routes/events.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerIncidentRoutes } from './routes/incidents.js';
import { registerPulseRoutes } from './routes/pulses.js';
import { completeHerokuOAuth, registerIntegrationRoutes } from './routes/integrations.js';
import { registerServiceRoutes } from './routes/services.js';
import { registerTokenRoutes } from './routes/tokens.js';

export interface AppDeps {
  config: Pick<Config, 'adminToken' | 'secretKey' | 'publicUrl' | 'slack' | 'heroku' | 'metricsToken' | 'queuePrefix'>;
  /** Webhook entities the rules use: what managed webhooks subscribe to. */
  webhookInclude: string[];
  /** The rules the worker applies (the UI shows what a test event would do under them). */
  rules: RuleSet;
  logger: Logger;
  db: Database;
  redis: Redis;
  queues: Queues;
  metrics: Metrics;
  integrations: IntegrationDirectory;
  ingestor: Ingestor;
  /** Drain windows in Redis (the integration page shows what each app's drain sent). */
  drainWindows: DrainWindowStore;
}

/** The express app: the REST API under /api/v1, health and metrics (webhook ingress sits in front of it). */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);

  const requestId = (req: IncomingMessage, res: ServerResponse) => {
    const id = requestIdOf(req);
    res.setHeader('X-Request-Id', id);
    return id;
  };

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: requestId,
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      serializers: {
        req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({ id: req.id, method: req.method, url: loggableUrl(req.url), remoteAddress: req.remoteAddress }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );

  /** After a person changes an incident, its Slack messages catch up (when Slack is on). */
  const onIncidentChanged = async (incidentId: string) => {
    if (deps.config.slack.botToken === undefined) return;
    const incident = await deps.db.prisma.incident.findUnique({ where: { id: incidentId }, select: { id: true, updatedAt: true } });
    if (incident) {
      await deps.queues.enqueueSlackIncidents([incident]).catch((err: unknown) => deps.logger.warn({ err, incidentId }, 'could not queue the Slack update'));
    }
  };

  const root = express.Router();
  registerHealthRoutes(root, { pool: deps.db.pool, redis: deps.redis, metrics: deps.metrics, metricsToken: deps.config.metricsToken });
  const herokuFor = herokuClientForApp({ pool: deps.db.pool, secretKey: deps.config.secretKey, heroku: deps.config.heroku });
  registerSlackInteractions(root, {
    pool: deps.db.pool,
    redis: deps.redis,
    keyPrefix: deps.config.queuePrefix,
    signingSecret: deps.config.slack.signingSecret,
    logger: deps.logger,
    onIncidentChanged,
    actions: { db: deps.db.prisma, queues: deps.queues, herokuFor },
    slack: createSlackClient({ botToken: deps.config.slack.botToken, apiUrl: deps.config.slack.apiUrl }),
  });
  app.use(root);

  const api = express.Router();
  const routes = new RouteTable(api);
  registerServiceRoutes(routes, { prisma: deps.db.prisma });
  registerEscalationRoutes(routes, { prisma: deps.db.prisma });
  registerMaintenanceWindowRoutes(routes, { prisma: deps.db.prisma });
  const integrationDeps: IntegrationDeps = {
    prisma: deps.db.prisma,
    pool: deps.db.pool,
    secretKey: deps.config.secretKey,
    publicUrl: deps.config.publicUrl,
    integrations: deps.integrations,
    heroku: deps.config.heroku,
    webhookInclude: deps.webhookInclude,
  };
  const integrationOps = createIntegrationOps(integrationDeps);
  registerIntegrationRoutes(routes, integrationDeps, integrationOps);
  // Heroku sends the browser back here; the signed `state` is the authorization.
  root.get('/oauth/heroku/callback', async (req, res) => {
    const result = await completeHerokuOAuth(integrationDeps, integrationOps, req.query);
    // A person who clicked "Connect with Heroku" goes back to the integration's page.
    const connected = result.body as { id?: string; error?: { message: string } };
    if (req.accepts(['json', 'html']) === 'html') {
      const notice = connected.error ? `Heroku connection failed: ${connected.error.message}` : 'Connected with Heroku; managed webhooks synced.';
      const page = `${connected.id ? `/integrations/${connected.id}` : '/integrations'}?notice=${encodeURIComponent(notice)}`;
      return res.redirect(303, sameOriginPath(page, deps.config.publicUrl) ?? '/integrations');
    }
    res.status(result.status).json(result.body);
  });
  registerIncidentRoutes(routes, { db: deps.db, onIncidentChanged });
  registerPulseRoutes(routes, { prisma: deps.db.prisma });
  registerActionRunRoutes(routes, { db: deps.db, queues: deps.queues, herokuFor });
  registerEventRoutes(routes, { prisma: deps.db.prisma, queues: deps.queues });
  registerWorkflowRoutes(routes, { prisma: deps.db.prisma, workflows: deps.rules.workflows });
  registerTokenRoutes(routes, { prisma: deps.db.prisma });

  describeOtherEndpoints(routes);
  const openapi = routes.document(deps.config.publicUrl);
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  // Routes carry their full paths (as in the OpenAPI document); auth covers the whole prefix.
  app.use('/api/v1', express.json({ limit: '1mb' }), authenticate({ prisma: deps.db.prisma, adminToken: deps.config.adminToken }));
  app.use(api);

  registerUi(root, {
    db: deps.db,
    queues: deps.queues,
    ingestor: deps.ingestor,
    rules: deps.rules,
    integrationOps,
    drainWindows: deps.drainWindows,
    views: createViewEngine(),
    logger: deps.logger,
    adminToken: deps.config.adminToken,
    // Sessions are signed with a key of their own, derived from SECRET_KEY.
    sessionKey: createHash('sha256').update('pulsebridge-ui-session:').update(deps.config.secretKey).digest(),
    secretKey: deps.config.secretKey,
    secureCookies: deps.config.publicUrl.startsWith('https://'),
    publicUrl: deps.config.publicUrl,
    herokuIdUrl: deps.config.heroku.idUrl,
    onIncidentChanged,
    herokuFor,
  });

  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
