import type { DynamicModule, Type } from '@nestjs/common';

/**
 * A plugin: a Nest module under `src/plugins/<name>/` plus this manifest. `PLUGINS` selects which
 * load (default: all built-in plugins); dependencies load first. See docs/plugins.md.
 */
export interface PluginManifest {
  name: string;
  description: string;
  /** Names of plugins this one needs; they are loaded too, before it. */
  dependencies?: string[];
  /** Loaded when PLUGINS is not set (default true); the example plugin is opt-in. */
  enabledByDefault?: boolean;
  module: Type<unknown> | DynamicModule;
}
