import { LoggerService, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getConnectionToken } from '@nestjs/mongoose';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ValidationError as ClassValidatorError } from 'class-validator';
import cookieParser from 'cookie-parser';
import { readFileSync } from 'node:fs';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import type { Connection } from 'mongoose';
import { AppModule } from './app.module';
import { ValidationError } from './common/errors';
import { HttpExceptionFilter } from './common/http-exception.filter';
import { PlainHandler, RawHandler, RawRoutes } from './common/raw-routes';
import { JsonInterceptor } from './common/json.interceptor';
import { AppConfig } from './modules/config/app-config';
import { DatabaseInfo } from './modules/database/database.module';
import { DatabaseHandle, startDatabase } from './modules/database/database-process';
import { ensureIndexes } from './modules/database/ensure-indexes';
import { randomSecret } from './modules/auth/secrets';
import { PRODUCT_VERSION } from './modules/system/version';
import { UsersService } from './modules/users/users.service';

export const API_PREFIX = 'api/v1';

export interface RunningServer {
  app: NestExpressApplication;
  config: AppConfig;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  database: DatabaseHandle;
  databaseName: string;
  /** Set when this start created the initial admin; `password` only when it was generated. */
  initialAdmin: { login: string; password?: string } | null;
  /** Closes HTTP, then the database connection, then stops a database process we started. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: LoggerService | false;
  /** Use this database instead of starting one (tests share one server). */
  database?: DatabaseHandle;
  log?: (line: string) => void;
  warn?: (line: string) => void;
}

/** Start-up in DESIGN's order: config (given) → database → Nest app → indexes → listen. */
export async function startServer(config: AppConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? (() => {});
  const ownDatabase = !opts.database;
  const database =
    opts.database ??
    (await startDatabase({
      mongoUri: config.mongoUri,
      dataDir: config.dataDir,
      cacheDir: config.cacheDir,
      javaOptions: config.embeddedDbJavaOptions,
      javaLogLevel: config.logLevel === 'debug' ? 'info' : 'warn',
      log,
      warn: opts.warn,
    }));
  const dbName = databaseName(database.uri, config.mongoDbName);
  log(`database: ${describeEngine(database.engine)} at ${redact(database.uri)}, database "${dbName}", data in ${database.dataPath}`);

  let app: NestExpressApplication | undefined;
  try {
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, new DatabaseInfo(database.engine, database.uri, dbName)), {
      logger: opts.logger ?? false,
      bodyParser: false,
      forceCloseConnections: true,
      abortOnError: false,
      httpsOptions: config.tls ? { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) } : undefined,
    });
    // WebDAV and other raw prefixes answer before body parsers, CORS and Nest's routing
    app.use(app.get(RawRoutes).dispatch);
    configureApp(app, config);
    await app.init();
    serveRawRoutesFirst(app);
    // long uploads (WebDAV PUT, big chunks) must not be cut by Node's default 5-minute limit
    app.getHttpServer().requestTimeout = 0;
    await ensureIndexes(app.get<Connection>(getConnectionToken()));
    const initialAdmin = await app.get(UsersService).ensureInitialAdmin(() => randomSecret(20));
    await app.listen(config.port, config.host);
    const { port } = app.getHttpServer().address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `${config.tls ? 'https' : 'http'}://${host}:${port}`;
    const running = app;
    return {
      app,
      config,
      url,
      database,
      databaseName: dbName,
      initialAdmin,
      close: async () => {
        await running.close();
        if (ownDatabase) await database.stop();
      },
    };
  } catch (err) {
    await app?.close().catch(() => {});
    if (ownDatabase) await database.stop();
    throw err;
  }
}

function configureApp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'simple');
  app.use(cookieParser());
  app.setGlobalPrefix(API_PREFIX);
  app.useGlobalFilters(new HttpExceptionFilter());
  app.useGlobalInterceptors(new JsonInterceptor());
  app.useGlobalPipes(
    new ValidationPipe({
      transform: true,
      whitelist: true,
      exceptionFactory: (errors: ClassValidatorError[]) => {
        const first = errors[0];
        const message = first?.constraints ? Object.values(first.constraints)[0] : 'Invalid parameters.';
        return new ValidationError(message.replace(/^(\w+) /, 'Parameter $1 '), first?.property);
      },
    }),
  );
  // the OpenAPI document is built on the first request for it, not at start-up: it and what building
  // it takes stay out of the memory of a server nobody asks for its API docs
  const document = () =>
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Strata REST API')
        .setDescription('Girder-compatible REST API. Authenticate with the Girder-Token header, a Bearer token, or HTTP Basic.')
        .setVersion(PRODUCT_VERSION)
        .addApiKey({ type: 'apiKey', in: 'header', name: 'Girder-Token' }, 'Girder-Token')
        .addBearerAuth()
        .build(),
    );
  SwaggerModule.setup(`${API_PREFIX}/docs`, app, document, { jsonDocumentUrl: `${API_PREFIX}/docs/openapi.json` });
}

/**
 * Hands requests under the raw prefixes (WebDAV, Hatrac) to RawRoutes straight from the HTTP
 * server, before Express's router and Nest's middleware look at them (a measurable part of a small
 * WebDAV GET). Everything else, and a raw handler calling `next()`, goes to Express as before; the
 * `app.use(dispatch)` in startServer stays the fallback should the server's listener not be the
 * expected one.
 *
 * A route registered with `registerPlain` gets Node's request and response as they are. The others
 * get Express's prototypes first, as Express itself gives them (`Object.setPrototypeOf` in
 * `app.handle`), so they keep `req.ip`, `res.status()` and the like. Changing the prototype of a
 * live object is costly in V8: besides the CPU, it makes the request's objects survive young-
 * generation collections, about a fifth of what a small request allocates, so the old generation
 * grows by tens of MiB under load until a full collection. Measured on a WebDAV HEAD answered at
 * once: 0.05 ms of CPU and flat RSS without, 0.12 ms and RSS from 142 to 210 MiB in 20,000
 * requests with. (Every REST request pays the same inside Express.)
 */
function serveRawRoutesFirst(app: NestExpressApplication): void {
  const server = app.getHttpServer() as http.Server;
  const listeners = server.listeners('request') as http.RequestListener[];
  if (listeners.length !== 1) return;
  const [express] = listeners;
  const instance = app.getHttpAdapter().getInstance() as { request: object; response: object };
  const raw = app.get(RawRoutes);
  server.removeListener('request', express);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const route = raw.match(req.url ?? '');
    if (!route) return express(req, res);
    const next = () => express(req, res);
    if (route.plain) return (route.handler as PlainHandler)(req, res, next);
    const r = req as Request;
    const s = res as Response;
    r.res = s;
    s.req = r;
    s.locals = Object.create(null);
    Object.setPrototypeOf(req, instance.request);
    Object.setPrototypeOf(res, instance.response);
    (route.handler as RawHandler)(r, s, next);
  });
}

export function databaseName(uri: string, fallback: string): string {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : fallback;
}

function describeEngine(engine: DatabaseHandle['engine']): string {
  return { external: 'MongoDB (MONGO_URI)', mongod: 'mongod from PATH', embedded: 'embedded mongo-java-server (H2)' }[engine];
}

function redact(uri: string): string {
  return uri.replace(/\/\/([^@/]*)@/, '//***@');
}
