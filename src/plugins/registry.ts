import { examplePlugin } from './example';
import { homeDirsPlugin } from './home-dirs';
import type { PluginManifest } from './plugin';

/** Every built-in plugin. New plugins add their manifest here. */
export const BUILT_IN_PLUGINS: PluginManifest[] = [homeDirsPlugin, examplePlugin];

export const BUILT_IN_PLUGIN_NAMES = BUILT_IN_PLUGINS.map((p) => p.name);

/** What loads when PLUGINS is not set. */
export const DEFAULT_PLUGIN_NAMES = BUILT_IN_PLUGINS.filter((p) => p.enabledByDefault !== false).map((p) => p.name);

/** The selected plugins and their dependencies, dependencies first. */
export function resolvePlugins(selected: readonly string[], available: PluginManifest[] = BUILT_IN_PLUGINS): PluginManifest[] {
  const byName = new Map(available.map((p) => [p.name, p]));
  const ordered: PluginManifest[] = [];
  const visiting = new Set<string>();
  const visit = (name: string, from?: string) => {
    const plugin = byName.get(name);
    if (!plugin) throw new Error(`plugin ${from ? `${from} needs ` : ''}${name}, which does not exist`);
    if (ordered.includes(plugin)) return;
    if (visiting.has(name)) throw new Error(`plugins depend on each other in a cycle through ${name}`);
    visiting.add(name);
    for (const dep of plugin.dependencies ?? []) visit(dep, name);
    visiting.delete(name);
    ordered.push(plugin);
  };
  for (const name of selected) visit(name);
  return ordered;
}
