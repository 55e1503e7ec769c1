import type { IncomingHttpHeaders } from 'node:http';
import { Injectable } from '@nestjs/common';
import { Acl, checkAclName, fullAcl, ResourceKind, Rules } from './hatrac-acl';
import { HatracDirectory } from './hatrac-directory';
import { badRequest, conflict, HatracError, notFound } from './hatrac-errors';
import { checkDisposition, checkPreconditions, cleanContentType, digestTag, HatracReply, parseChecksum } from './hatrac-http';
import { header } from './hatrac-names.service';
import { Caller, HatracResolver, ResolvedObject, VersionFile } from './hatrac-resolver';
import { HatracTree } from './hatrac-tree';
import { ROOT } from './hatrac-url';

const METADATA_FIELDS = ['content-type', 'content-disposition', 'content-md5', 'content-sha256'] as const;
type MetadataField = (typeof METADATA_FIELDS)[number];
const CHECKSUMS: readonly string[] = ['content-md5', 'content-sha256'];
const MAX_SMALL_BODY = 64 * 1024;

/** An ACL-bearing resource: a namespace, an object or one version of it. */
interface AclResource {
  kind: ResourceKind;
  acl: Acl;
  /** The lists that may read and change this ACL (reference §3.3). */
  owners: (readonly string[] | undefined)[];
  save(acl: Acl): Promise<void>;
}

export interface SmallBody {
  headers: IncomingHttpHeaders;
  read(limit: number): Promise<string>;
}

/** The `;acl` and `;metadata` sub-resources (reference §2.2, §3.6, §4.5). */
@Injectable()
export class HatracSubresourcesService {
  constructor(
    private readonly resolver: HatracResolver,
    private readonly directory: HatracDirectory,
    private readonly tree: HatracTree,
  ) {}

  // ---------------------------------------------------------------- ACLs

  async acl(caller: Caller, method: string, t: { name: string; version?: string; acl?: string; role?: string }, req: SmallBody): Promise<HatracReply> {
    const writing = method === 'PUT' || method === 'DELETE';
    if (writing) this.resolver.firewall(caller, 'manage_acl');
    else if (method !== 'GET' && method !== 'HEAD') throw new HatracError(405, `${method} is not allowed on ACLs.`);
    const resource = await this.aclResource(t.name, t.version);
    const what = `manage the ACLs of ${t.name}${t.version ? `:${t.version}` : ''}`;

    if (!t.acl) {
      if (writing) throw new HatracError(405, 'Change one ACL at a time (;acl/NAME).');
      const all = fullAcl(resource.kind, resource.acl);
      const etag = digestTag(all);
      checkPreconditions(req.headers, method, etag);
      this.resolver.require(caller, resource.owners, what);
      return json(all, etag);
    }
    checkAclName(resource.kind, t.acl);
    const list = resource.acl[t.acl] ?? [];
    const etag = digestTag([...list].sort());

    if (t.role === undefined) {
      if (method === 'PUT') {
        const roles = await parseRoleList(req);
        checkPreconditions(req.headers, method, etag);
        this.resolver.require(caller, resource.owners, what);
        await resource.save({ ...resource.acl, [t.acl]: [...new Set(roles)] });
        return { status: 204 };
      }
      checkPreconditions(req.headers, method, etag);
      this.resolver.require(caller, resource.owners, what);
      if (method === 'DELETE') {
        await resource.save({ ...resource.acl, [t.acl]: [] });
        return { status: 204 };
      }
      return json(list, etag);
    }

    const present = list.includes(t.role);
    if (method === 'PUT') {
      checkPreconditions(req.headers, method, present ? etag : null);
      this.resolver.require(caller, resource.owners, what);
      if (!present) await resource.save({ ...resource.acl, [t.acl]: [...list, t.role] });
      return { status: 204 };
    }
    if (method === 'DELETE') {
      checkPreconditions(req.headers, method, present ? etag : null);
      if (!present) throw notFound(`Role ${t.role} in ACL ${t.acl}`);
      this.resolver.require(caller, resource.owners, what);
      await resource.save({ ...resource.acl, [t.acl]: list.filter((r) => r !== t.role) });
      return { status: 204 };
    }
    if (!present) throw notFound(`Role ${t.role} in ACL ${t.acl}`);
    checkPreconditions(req.headers, method, etag);
    this.resolver.require(caller, resource.owners, what);
    return { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8', ETag: etag }, body: `${t.role}\n\n` };
  }

  private async aclResource(name: string, version?: string): Promise<AclResource> {
    if (version) {
      const object = await this.resolver.object(name);
      const file = await this.resolver.version(object, version);
      return {
        kind: 'version',
        acl: file.hatrac.acl,
        owners: Rules.ownVersion(file.hatrac.acl, object.acl),
        save: async (acl) => {
          await this.tree.setVersionInfo(file, { ...file.hatrac, acl });
        },
      };
    }
    const resolved = await this.resolver.name(name);
    return {
      kind: resolved.doc.kind,
      acl: resolved.acl.own,
      owners: Rules.ownName(resolved.acl),
      save: async (acl) => {
        // the root's configured owners are not stored: they always apply
        await this.directory.setAcl(name, name === ROOT ? { ...acl, owner: acl.owner ?? [] } : acl);
        if (resolved.doc.kind === 'namespace') await this.tree.deriveAccess(name);
      },
    };
  }

  // ---------------------------------------------------------------- metadata

  async metadata(caller: Caller, method: string, t: { name: string; version?: string; field?: string }, req: SmallBody): Promise<HatracReply> {
    const writing = method === 'PUT' || method === 'DELETE';
    if (writing) this.resolver.firewall(caller, 'manage_metadata');
    else if (method !== 'GET' && method !== 'HEAD') throw new HatracError(405, `${method} is not allowed on metadata.`);
    const { object, file } = await this.versionFor(t.name, t.version);
    const metadata = file.hatrac.metadata;
    const what = `${writing ? 'change' : 'read'} the metadata of ${t.name}`;
    const readers = Rules.readMetadata(file.hatrac.acl, object.acl);
    const writers = Rules.ownVersion(file.hatrac.acl, object.acl);

    if (!t.field) {
      if (writing) throw new HatracError(405, 'Change one metadata field at a time (;metadata/FIELD).');
      const shown = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, present(k, v)]));
      const etag = digestTag(shown);
      checkPreconditions(req.headers, method, etag);
      this.resolver.require(caller, readers, what);
      return json(shown, etag);
    }
    const field = t.field.toLowerCase();
    const known = (METADATA_FIELDS as readonly string[]).includes(field);
    const current = metadata[field];
    const etag = current === undefined ? null : digestTag(current);

    if (method === 'DELETE') {
      checkPreconditions(req.headers, method, etag);
      this.resolver.require(caller, writers, what);
      if (known && current !== undefined) await this.saveMetadata(file, Object.fromEntries(Object.entries(metadata).filter(([k]) => k !== field)));
      return { status: 204 };
    }
    if (!known) throw badRequest(`Unknown metadata field "${t.field}"; use one of ${METADATA_FIELDS.join(', ')}.`);
    if (method === 'PUT') {
      if (cleanContentType(req.headers['content-type']) !== 'text/plain') throw badRequest('Send the value as text/plain.');
      const value = stored(field as MetadataField, (await req.read(MAX_SMALL_BODY)).trim());
      checkPreconditions(req.headers, method, etag);
      this.resolver.require(caller, writers, what);
      if (CHECKSUMS.includes(field) && current !== undefined && current !== value) throw conflict(`${field} is already set to another value.`);
      if (current !== value) await this.saveMetadata(file, { ...metadata, [field]: value });
      return { status: 204 };
    }
    if (current === undefined) throw notFound(`Metadata field ${field}`);
    checkPreconditions(req.headers, method, etag);
    this.resolver.require(caller, readers, what);
    return { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8', ETag: etag! }, body: `${present(field, current)}\n` };
  }

  /** `/OBJ;metadata` is the current version's (409 without one); a namespace has none (404). */
  private async versionFor(name: string, version?: string): Promise<{ object: ResolvedObject; file: VersionFile }> {
    const object = await this.resolver.object(name);
    return { object, file: version ? await this.resolver.version(object, version) : await this.resolver.current(object) };
  }

  private async saveMetadata(file: VersionFile, metadata: Record<string, string>): Promise<void> {
    await this.tree.setVersionInfo(file, { ...file.hatrac, metadata });
  }
}

/** A metadata value as given, validated and in its stored form (checksums as hex). */
function stored(field: MetadataField, value: string): string {
  switch (field) {
    case 'content-md5':
      return parseChecksum(value, 'md5')!.toString('hex');
    case 'content-sha256':
      return parseChecksum(value, 'sha256')!.toString('hex');
    case 'content-type':
      if (!value || !/^[\w.+-]+\/[\w.+-]+/.test(value)) throw badRequest(`Invalid content-type "${value}".`);
      return cleanContentType(value)!;
    case 'content-disposition':
      return checkDisposition(value)!;
  }
}

/** A stored value as shown: checksums in base64. */
function present(field: string, value: string): string {
  return CHECKSUMS.includes(field) ? Buffer.from(value, 'hex').toString('base64') : value;
}

async function parseRoleList(req: SmallBody): Promise<string[]> {
  if (cleanContentType(header(req.headers, 'content-type')) !== 'application/json') throw badRequest('Send the ACL as application/json.');
  let roles: unknown;
  try {
    roles = JSON.parse(await req.read(MAX_SMALL_BODY));
  } catch {
    throw badRequest('The ACL must be a JSON array of role strings.');
  }
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw badRequest('The ACL must be a JSON array of role strings.');
  return roles as string[];
}

function json(value: unknown, etag: string): HatracReply {
  return { status: 200, headers: { 'Content-Type': 'application/json', ETag: etag, Vary: 'Accept' }, body: `${JSON.stringify(value)}\n` };
}
