import { HatracError } from './hatrac-errors';

export type Acl = Record<string, string[]>;
export type ResourceKind = 'namespace' | 'object' | 'version';

/** The ACL names each kind of resource has (reference §3.1); any other name is a 400. */
export const ACL_NAMES: Record<ResourceKind, readonly string[]> = {
  namespace: ['owner', 'create', 'read', 'subtree-owner', 'subtree-create', 'subtree-read', 'subtree-update'],
  object: ['owner', 'update', 'read', 'subtree-owner', 'subtree-read'],
  version: ['owner', 'read'],
};

export function checkAclName(kind: ResourceKind, acl: string): void {
  if (!ACL_NAMES[kind].includes(acl)) throw new HatracError(400, `Invalid ACL name "${acl}" for a ${kind}; use one of ${ACL_NAMES[kind].join(', ')}.`);
}

/** Every ACL of the kind, empty lists included, as the `;acl` resource shows them. */
export function fullAcl(kind: ResourceKind, acl: Acl | undefined): Acl {
  return Object.fromEntries(ACL_NAMES[kind].map((name) => [name, [...(acl?.[name] ?? [])]]));
}

/**
 * What a name inherits: the union of the `subtree-*` lists of its proper ancestor namespaces
 * (reference §3.2; a namespace's own `subtree-*` lists apply strictly below it).
 */
export interface Inherited {
  owner: string[];
  create: string[];
  update: string[];
  read: string[];
}

export function inherit(ancestorAcls: Acl[]): Inherited {
  const pick = (key: string) => [...new Set(ancestorAcls.flatMap((acl) => acl[`subtree-${key}`] ?? []))];
  return { owner: pick('owner'), create: pick('create'), update: pick('update'), read: pick('read') };
}

/** A name's ACL with what it inherits, the unit every rule below reads. */
export interface NameAcl {
  own: Acl;
  inherited: Inherited;
}

/**
 * Which ACL lists grant each action (reference §3.3): any role in any listed list suffices.
 * `object` is the version's object for the version rules.
 */
export const Rules = {
  listNamespace: (ns: NameAcl) => [ns.own.owner, ns.own.read, ns.inherited.owner, ns.inherited.read],
  createIn: (parent: NameAcl) => [parent.own.owner, parent.own.create, parent.inherited.owner, parent.inherited.create],
  updateObject: (object: NameAcl) => [object.own.owner, object.own.update, object.inherited.owner, object.inherited.update],
  listVersions: (object: NameAcl) => [object.own.owner, object.own.read, object.inherited.owner, object.inherited.read],
  readVersion: (version: Acl, object: NameAcl) => [
    version.owner,
    version.read,
    object.inherited.owner,
    object.inherited.read,
    object.own['subtree-owner'],
    object.own['subtree-read'],
  ],
  readMetadata: (version: Acl, object: NameAcl) => [version.owner, version.read, object.inherited.owner, object.inherited.read, object.own['subtree-read']],
  ownVersion: (version: Acl, object: NameAcl) => [version.owner, object.inherited.owner],
  /** Bulk deletion of a version with its object or namespace: object `subtree-owner` counts here. */
  deleteVersionInBulk: (version: Acl, object: NameAcl) => [version.owner, object.own['subtree-owner'], object.inherited.owner],
  ownName: (name: NameAcl) => [name.own.owner, name.inherited.owner],
  ownJob: (jobOwner: string[]) => [jobOwner],
  cancelJob: (jobOwner: string[], object: NameAcl) => [jobOwner, object.inherited.owner],
};
