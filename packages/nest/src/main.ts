import 'reflect-metadata';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { API_PREFIX } from '@builder/shared';
import type { Logger } from 'pino';
import { AppModule } from './app.module';
import { AppConfig, ConfigValidationError, loadConfig } from './config/app-config';
import { stopBootingEmbeddedPostgres } from './database/embedded-postgres.service';
import { SessionOwnershipService } from './modules/workspace/cluster/session-ownership.service';
import { WorkspaceGateway } from './modules/workspace/workspace.gateway';
import { SocketIoAdapter } from './shared/adapters/socket-io.adapter';
import { AllExceptionsFilter } from './shared/filters/all-exceptions.filter';
import { bodyParserError, errorBody } from './shared/filters/error-body';
import { ROOT_LOGGER } from './shared/logging/logging.module';
import { createRootLogger, PinoLoggerService } from './shared/logging/pino-logger.service';

export interface CreateAppOptions {
  /** Environment overrides on top of `process.env` (a key set to undefined removes it). */
  env?: Record<string, string | undefined>;
  /** Use exactly `env`, ignoring `process.env`. */
  isolatedEnv?: boolean;
}

/**
 * Builds and initializes the application (database migrated, routes mounted) without listening.
 * Tests call it with config overrides and `listen(0)`; `bootstrap` listens on the configured port.
 * Throws {@link ConfigValidationError} for a bad environment.
 */
export async function createApp(options: CreateAppOptions = {}): Promise<INestApplication> {
  const env = options.isolatedEnv ? { ...options.env } : { ...process.env, ...options.env };
  const config = loadConfig(env);
  const logger = createRootLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);

  let app: NestExpressApplication | undefined;
  try {
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger), {
      logger: new PinoLoggerService(logger),
      bodyParser: false,
      abortOnError: false,
    });
    configureApp(app, config, logger);
    await app.init();
    return app;
  } catch (error) {
    // Nest does not close what it already started when a later provider fails (e.g. a migration).
    if (app) await app.close().catch(() => undefined);
    await stopBootingEmbeddedPostgres();
    throw error;
  }
}

function configureApp(app: NestExpressApplication, config: AppConfig, logger: Logger): void {
  // Probes and metrics stay at the root, where orchestrators and Prometheus look for them.
  app.setGlobalPrefix(API_PREFIX.replace(/^\//, ''), { exclude: ['health', 'health/ready', 'metrics'] });
  app.useWebSocketAdapter(
    new SocketIoAdapter(
      app,
      config.webOrigins,
      config.database.kind === 'postgres' ? config.database.url : null,
    ),
  );
  app.enableCors({
    origin: config.webOrigins,
    credentials: true,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    // The web app names a downloaded export as the API does.
    exposedHeaders: ['Content-Disposition'],
  });
  app.disable('x-powered-by');
  // Our own JSON parser, so its limit fits file writes and its errors use the API's error shape.
  // Bodies are JSON. Another type would reach the routes as no body at all (their defaults: a
  // text/plain create started a workspace), so it is refused before any route sees it.
  app.use((req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void) => {
    if (!hasBody(req) || isJson(req.headers['content-type'])) {
      next();
      return;
    }
    const status = 415;
    res.statusCode = status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    const message = `request bodies are JSON: send Content-Type: application/json (got ${req.headers['content-type'] ?? 'none'})`;
    res.end(JSON.stringify(errorBody(status, message, req.originalUrl ?? req.url ?? '')));
  });
  app.useBodyParser('json', { limit: config.files.bodyLimitBytes });
  app.use(
    (
      error: unknown,
      req: IncomingMessage & { originalUrl?: string },
      res: ServerResponse,
      next: (error?: unknown) => void,
    ) => {
      const parsed = bodyParserError(error);
      if (!parsed) {
        next(error);
        return;
      }
      res.statusCode = parsed.status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(errorBody(parsed.status, parsed.message, req.originalUrl ?? req.url ?? '')));
    },
  );
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
    }),
  );
  app.useGlobalFilters(new AllExceptionsFilter(logger));
  // SIGTERM (a rolling update, an orchestrator's stop) first hands the work over: see bootstrap.
  app.enableShutdownHooks(['SIGINT', 'SIGHUP', 'SIGQUIT']);

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Landing builder API')
      .setDescription('Workspaces (live preview sessions) and accounts')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}

/** Whether a request carries a body (a length above zero, or a chunked one). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** `application/json` or a `+json` type, with any parameters (charset). */
function isJson(contentType: string | undefined): boolean {
  const type = contentType?.split(';')[0].trim().toLowerCase() ?? '';
  return type === 'application/json' || /^application\/[\w.+-]+\+json$/.test(type);
}

/** Process entry point: validate config, listen, and exit non-zero with a clear message on failure. */
export async function bootstrap(): Promise<void> {
  let app: INestApplication;
  try {
    app = await createApp();
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\n`);
    } else {
      process.stderr.write(`Start-up failed: ${(error as Error)?.stack ?? String(error)}\n`);
    }
    process.exit(1);
  }
  const config = app.get(AppConfig);
  const logger = app.get<Logger>(ROOT_LOGGER);
  await app.listen(config.port);
  logger.info({ url: await app.getUrl(), docs: '/api/docs' }, 'API listening');
  process.once('SIGTERM', () => void handOverAndExit(app, logger));
}

/**
 * Graceful handover of a replica being stopped: it stops taking new work (readiness answers 503
 * `draining`, creates 503), releases its leases and tells the other replicas, which take its
 * sessions' relays, followers and health checks at once; then closes its sockets, whose clients
 * reconnect (through the proxy, to another replica) and re-subscribe, getting statuses and lines
 * replayed; then shuts down as on any other signal.
 */
async function handOverAndExit(app: INestApplication, logger: Logger): Promise<void> {
  try {
    await app.get(SessionOwnershipService).drain();
    // Sockets still hear their sessions meanwhile (through the adapter), and reconnect only once
    // the proxy no longer sends anything here. The embedded database has no other replica to wait for.
    const config = app.get(AppConfig);
    if (config.database.kind === 'postgres') await sleep(config.cluster.drainGraceMs);
    app.get(WorkspaceGateway).disconnectAll();
    await app.close();
  } catch (error) {
    logger.error({ err: error }, 'graceful shutdown failed');
    process.exit(1);
  }
  process.exit(0);
}

// Only when run as a program (node dist/main.js), not when imported by tests.
if (typeof require !== 'undefined' && require.main === module) {
  void bootstrap();
}
