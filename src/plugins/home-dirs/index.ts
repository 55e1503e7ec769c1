import type { PluginManifest } from '../plugin';
import { HomeDirsModule } from './home-dirs.module';

export const homeDirsPlugin: PluginManifest = {
  name: 'home-dirs',
  description: 'WebDAV home directories (/homes/<login>) and tale workspaces (/tales/<id>), in two-way sync with the data tree.',
  dependencies: [],
  module: HomeDirsModule,
};
