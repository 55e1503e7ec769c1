import type { PluginManifest } from '../plugin';
import { ExampleModule } from './example.module';

/** The example plugin of docs/plugins.md. Not loaded unless PLUGINS names it. */
export const examplePlugin: PluginManifest = {
  name: 'example',
  description: 'A small complete plugin: a route, a setting, an event handler and an assetstore type.',
  dependencies: [],
  enabledByDefault: false,
  module: ExampleModule,
};
