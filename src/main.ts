import 'reflect-metadata';
import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { AppConfig } from './modules/config/app-config';
import { ConfigError, loadConfig } from './modules/config/load-config';
import { DatabaseStartError } from './modules/database/database-process';
import { BUILT_IN_PLUGIN_NAMES, DEFAULT_PLUGIN_NAMES } from './plugins/registry';
import { API_PREFIX, RunningServer, startServer } from './server';

const LEVELS: Record<AppConfig['logLevel'], LogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig(process.env, BUILT_IN_PLUGIN_NAMES, DEFAULT_PLUGIN_NAMES);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = new ConsoleLogger('Strata', { logLevels: LEVELS[config.logLevel], json: config.logFormat === 'json', colors: false });
  if (!config.tls && !config.isLoopback) {
    logger.warn(`listening on ${config.host} without TLS: passwords (WebDAV Basic auth, logins) travel in clear text; set TLS_CERT and TLS_KEY or put a TLS proxy in front`);
  }

  let server: RunningServer;
  try {
    server = await startServer(config, { logger, log: (line) => logger.log(line, 'Startup'), warn: (line) => logger.warn(line, 'Database') });
  } catch (err) {
    if (err instanceof DatabaseStartError) {
      logger.fatal(err.message, 'Startup');
      process.exit(3);
    }
    logger.fatal((err as Error).stack ?? String(err), 'Startup');
    process.exit(1);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received, shutting down`, 'Shutdown');
    const timer = setTimeout(() => {
      logger.error('shutdown took too long; exiting', 'Shutdown');
      process.exit(1);
    }, 30_000);
    timer.unref();
    await server.close();
    process.exit(0);
  };
  // last line of defence: one request's stray error must not stop the server for everyone
  process.on('uncaughtException', (err) => logger.error(`uncaught error (the server keeps running): ${err.stack ?? err}`, 'Process'));
  process.on('unhandledRejection', (err) => logger.error(`unhandled rejection (the server keeps running): ${(err as Error)?.stack ?? err}`, 'Process'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const lines = [
    `Strata is running on ${config.plugins.length ? `${server.url} with plugins: ${config.plugins.join(', ')}` : server.url}`,
    `  REST API   ${server.url}/${API_PREFIX}`,
    `  API docs   ${server.url}/${API_PREFIX}/docs`,
  ];
  if (server.initialAdmin) {
    lines.push(
      server.initialAdmin.password
        ? `  Initial admin: login "${server.initialAdmin.login}", password "${server.initialAdmin.password}" (shown only this once; change it)`
        : `  Initial admin: login "${server.initialAdmin.login}", with the password from ADMIN_PASSWORD`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

void main();
