import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { ConfigError, loadConfig } from './modules/config/load-config';
import { DatabaseInfo } from './modules/database/database.module';
import { startDatabase } from './modules/database/database-process';
import { Reconciler } from './plugins/home-dirs/reconcile';
import { BUILT_IN_PLUGIN_NAMES, DEFAULT_PLUGIN_NAMES } from './plugins/registry';
import { databaseName } from './server';

const USAGE = `usage: npm run cli -- reconcile [--login <login> | --tale <taleId>]

Runs with the server's configuration (environment, CONFIG_FILE). While a server runs on the same
DATA_DIR with the embedded database, its database is locked: set MONGO_URI to the URI that server
logged at start-up.`;

/** Administrative commands that need the application without HTTP. */
async function main(argv: string[]): Promise<number> {
  const [command, flag, value] = argv;
  if (command !== 'reconcile' || (flag && !['--login', '--tale'].includes(flag)) || (flag && !value)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(process.env, BUILT_IN_PLUGIN_NAMES, DEFAULT_PLUGIN_NAMES);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (!config.pluginEnabled('home-dirs')) {
    process.stderr.write('The home-dirs plugin is not enabled (PLUGINS).\n');
    return 2;
  }
  const database = await startDatabase({ mongoUri: config.mongoUri, dataDir: config.dataDir, cacheDir: config.cacheDir, javaOptions: config.embeddedDbJavaOptions, log: () => {} });
  try {
    const info = new DatabaseInfo(database.engine, database.uri, databaseName(database.uri, config.mongoDbName));
    const app = await NestFactory.createApplicationContext(AppModule.forRoot(config, info), { logger: ['error', 'warn'] });
    try {
      const reconciler = app.get(Reconciler);
      const report = flag === '--login' ? await reconciler.one('homes', value) : flag === '--tale' ? await reconciler.one('tales', value) : await reconciler.all();
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    } finally {
      await app.close();
    }
  } finally {
    await database.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  },
);
