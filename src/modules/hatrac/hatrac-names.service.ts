import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { FoldersRepository } from '../tree/repositories/folders.repository';
import { ItemsRepository } from '../tree/repositories/items.repository';
import { Rules } from './hatrac-acl';
import { Declared, HatracBytes, StoredVersion } from './hatrac-bytes';
import { HatracDirectory } from './hatrac-directory';
import { badRequest, conflict, HatracError, notFound } from './hatrac-errors';
import {
  checkDisposition,
  checkPreconditions,
  cleanContentType,
  digestTag,
  HatracReply,
  listingReply,
  NAMESPACE_TYPE,
  parseChecksum,
  parseRange,
  uriListReply,
} from './hatrac-http';
import { Caller, HatracResolver, newVersionId, ResolvedName, ResolvedObject, urlOf, VersionFile } from './hatrac-resolver';
import { HatracTree } from './hatrac-tree';
import { checkNewName, lastSegment, parentOf, ROOT } from './hatrac-url';
import type { HatracVersionInfo } from './hatrac.schema';

export interface BodyRequest {
  headers: IncomingHttpHeaders;
  body: Readable;
  parents: boolean;
}

/**
 * Namespaces, objects and versions (reference §2.2, §4.1–4.4): listing, creation, content, deletion.
 * Order of checks as the reference: firewall, request syntax and preconditions, then the ACLs.
 */
@Injectable()
export class HatracNamesService {
  constructor(
    private readonly resolver: HatracResolver,
    private readonly directory: HatracDirectory,
    private readonly tree: HatracTree,
    private readonly bytes: HatracBytes,
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly config: AppConfig,
  ) {}

  // ---------------------------------------------------------------- reads

  async get(caller: Caller, name: string, headers: IncomingHttpHeaders, method: string): Promise<HatracReply> {
    const resolved = await this.resolver.name(name);
    if (resolved.doc.kind === 'namespace') return this.listNamespace(caller, resolved, headers, method);
    const object = await this.resolver.objectOf(resolved);
    return this.content(caller, object, await this.resolver.current(object), headers, method);
  }

  async getVersion(caller: Caller, name: string, version: string, headers: IncomingHttpHeaders, method: string): Promise<HatracReply> {
    const object = await this.resolver.object(name);
    return this.content(caller, object, await this.resolver.version(object, version), headers, method);
  }

  async listVersions(caller: Caller, name: string, headers: IncomingHttpHeaders, method: string): Promise<HatracReply> {
    const object = await this.resolver.object(name);
    const urls = (await this.resolver.versions(object)).map((v) => urlOf(name, v.hatrac.version));
    const etag = digestTag(urls);
    checkPreconditions(headers, method, etag);
    this.resolver.require(caller, Rules.listVersions(object.acl), `list the versions of ${name}`);
    return listingReply(urls, headers.accept, `Versions of ${name}`, etag);
  }

  private async listNamespace(caller: Caller, ns: ResolvedName, headers: IncomingHttpHeaders, method: string): Promise<HatracReply> {
    if (headers.range) throw new HatracError(501, 'Ranges apply to object content only.');
    const urls = (await this.childNames(ns)).sort().map((n) => urlOf(n));
    const etag = digestTag(urls);
    checkPreconditions(headers, method, etag);
    this.resolver.require(caller, Rules.listNamespace(ns.acl), `list ${ns.doc._id}`);
    return listingReply(urls, headers.accept, `Index of ${ns.doc._id}`, etag);
  }

  /** Names of a namespace's live children, from the tree (indexed by parent). */
  private async childNames(ns: ResolvedName): Promise<string[]> {
    const names: string[] = [];
    const folderIds = [];
    if (ns.doc._id === ROOT) {
      for await (const f of this.folders.childrenOf('collection', ns.doc.nodeId!)) {
        if (f.hatrac?.kind === 'namespace') names.push(String(f.hatrac.name));
        if (f.hatrac?.kind === 'root-objects') folderIds.push(f._id);
      }
    } else {
      for await (const f of this.folders.childrenOf('folder', ns.doc.nodeId!)) if (f.hatrac?.kind === 'namespace') names.push(String(f.hatrac.name));
      folderIds.push(ns.doc.nodeId!);
    }
    for (const id of folderIds) for await (const item of this.items.inFolder(id)) if (item.hatrac?.kind === 'object') names.push(String(item.hatrac.name));
    return names;
  }

  /** An object's bytes with Hatrac's headers, following renames; preconditions before the ACLs. */
  private async content(caller: Caller, object: ResolvedObject, requested: VersionFile, headers: IncomingHttpHeaders, method: string): Promise<HatracReply> {
    const { object: holder, file } = await this.resolver.follow(object, requested);
    const etag = `"${file.hatrac.version}"`;
    checkPreconditions(headers, method, etag);
    const range = parseRange(headers.range, file.size);
    this.resolver.require(caller, Rules.readVersion(file.hatrac.acl, holder.acl), `read ${urlOf(holder.doc._id, file.hatrac.version)}`);
    const meta = file.hatrac.metadata;
    const reply: Record<string, string> = {
      'Content-Type': meta['content-type'] ?? 'application/octet-stream',
      'Content-Location': urlOf(holder.doc._id, file.hatrac.version),
      ETag: etag,
      Vary: 'Accept',
      'Accept-Ranges': 'bytes',
    };
    const defaultDisposition = `filename*=UTF-8''${lastSegment(holder.doc._id)}`;
    if (range && range !== 'full') {
      reply['Content-Disposition'] = defaultDisposition;
      reply['Content-Range'] = `bytes ${range.start}-${range.end}/${file.size}`;
      reply['Content-Length'] = String(range.end - range.start + 1);
      return { status: 206, headers: reply, body: method === 'HEAD' ? undefined : await this.bytes.open(file, range) };
    }
    reply['Content-Disposition'] = meta['content-disposition'] ?? defaultDisposition;
    if (meta['content-md5']) reply['Content-MD5'] = Buffer.from(meta['content-md5'], 'hex').toString('base64');
    if (meta['content-sha256']) reply['Content-SHA256'] = Buffer.from(meta['content-sha256'], 'hex').toString('base64');
    reply['Content-Length'] = String(file.size);
    const body = method === 'HEAD' || file.size === 0 ? undefined : await this.bytes.open(file);
    return { status: 200, headers: reply, body };
  }

  // ---------------------------------------------------------------- PUT

  async put(caller: Caller, name: string, req: BodyRequest): Promise<HatracReply> {
    this.resolver.firewall(caller, 'create');
    const { live, deleted } = await this.resolver.lookup(name);
    if (live?.doc.kind === 'namespace') {
      checkPreconditions(req.headers, 'PUT', await this.namespaceTag(live));
      this.resolver.require(caller, Rules.ownName(live.acl), `change ${name}`);
      throw conflict(`Namespace ${name} already exists.`);
    }
    if (live) return this.putVersion(caller, await this.resolver.objectOf(live), req);
    if (deleted) throw conflict(`Name ${name} is not available for use.`);
    checkPreconditions(req.headers, 'PUT', null);
    checkNewName(name);
    const isNamespace = cleanContentType(req.headers['content-type']) === NAMESPACE_TYPE;
    if (isNamespace) {
      req.body.resume();
      await this.createName(caller, name, 'namespace', req.parents);
      return uriListReply(201, [urlOf(name)], urlOf(name));
    }
    const upload = this.uploadHeaders(req.headers); // refuse a bad request before the name is taken
    const created = await this.createName(caller, name, 'object', req.parents);
    return this.putVersion(caller, await this.resolver.objectOf(created), req, upload);
  }

  private async putVersion(caller: Caller, object: ResolvedObject, req: BodyRequest, checked?: ReturnType<HatracNamesService['uploadHeaders']>): Promise<HatracReply> {
    const current = (await this.resolver.versions(object))[0];
    checkPreconditions(req.headers, 'PUT', current ? `"${current.hatrac.version}"` : null);
    this.resolver.require(caller, Rules.updateObject(object.acl), `update ${object.doc._id}`);
    const { size, declared, metadata } = checked ?? this.uploadHeaders(req.headers);
    const version = newVersionId();
    await this.bytes.store(req.body, size, this.config.hatrac.maxPayloadBytes, declared, (where) => this.recordVersion(caller, object, { version, metadata }, where));
    const url = urlOf(object.doc._id, version);
    return uriListReply(201, [url], url);
  }

  /** Adds a version to an object (PUT, finalized upload job); the newest version is the current one. */
  async recordVersion(caller: Caller, object: ResolvedObject, v: { version: string; metadata: Record<string, string> }, where: StoredVersion): Promise<VersionFile> {
    const info: HatracVersionInfo = { version: v.version, serial: await this.directory.takeSerial(object.doc._id), metadata: v.metadata, acl: { owner: ownerOf(caller), read: [] } };
    return (await this.tree.addVersion(object.item, { ...where, info }, caller.user)) as VersionFile;
  }

  /** Content-Length (411, 413), checksums, type and disposition of a PUT, checked before any byte is read. */
  private uploadHeaders(headers: IncomingHttpHeaders): { size: number | null; declared: Declared; metadata: Record<string, string> } {
    const max = this.config.hatrac.maxPayloadBytes;
    let size: number | null = null;
    if (headers['content-length'] !== undefined) {
      size = Number(headers['content-length']);
      if (!Number.isSafeInteger(size) || size < 0) throw badRequest('Invalid Content-Length.');
      if (size > max) throw new HatracError(413, `The body exceeds the ${max}-byte limit; use a chunked upload (;upload).`);
    } else if (!headers['transfer-encoding']) {
      throw new HatracError(411, 'Content-Length required.');
    }
    const md5 = parseChecksum(header(headers, 'content-md5'), 'md5');
    const sha256 = parseChecksum(header(headers, 'content-sha256'), 'sha256');
    const metadata: Record<string, string> = {};
    const type = cleanContentType(headers['content-type']);
    if (type) metadata['content-type'] = type;
    const disposition = checkDisposition(header(headers, 'content-disposition'));
    if (disposition) metadata['content-disposition'] = disposition;
    if (md5) metadata['content-md5'] = md5.toString('hex');
    if (sha256) metadata['content-sha256'] = sha256.toString('hex');
    return { size, declared: { md5, sha256 }, metadata };
  }

  /**
   * Claims a new name (its parent must be a live namespace on which the caller may create; with
   * `parents`, missing ancestors are created first) and makes its tree node, owned by the caller.
   */
  async createName(caller: Caller, name: string, kind: 'namespace' | 'object', parents: boolean): Promise<ResolvedName> {
    checkNewName(name);
    const parentName = parentOf(name)!;
    let parent = await this.resolver.lookup(parentName);
    if (!parent.live) {
      if (!parents || parentName === ROOT) throw notFound(`Parent namespace ${parentName}`);
      if (parent.deleted) throw conflict(`Name ${parentName} is not available for use.`);
      parent = { live: await this.createName(caller, parentName, 'namespace', true), deleted: false };
    }
    const ns = parent.live!;
    if (ns.doc.kind !== 'namespace') throw conflict(`${parentName} is an object, not a namespace.`);
    this.resolver.require(caller, Rules.createIn(ns.acl), `create in ${parentName}`);
    const acl = { owner: ownerOf(caller) };
    if (!(await this.directory.create({ _id: name, kind, nodeId: null, acl }))) throw conflict(`Name ${name} is not available for use.`);
    const node = kind === 'namespace' ? await this.tree.createNamespace(ns.doc, name, caller.user) : await this.tree.createObject(ns.doc, name, caller.user);
    await this.directory.setNode(name, node._id);
    if (kind === 'namespace') await this.tree.deriveAccess(name, { below: false });
    return this.resolver.name(name);
  }

  // ---------------------------------------------------------------- DELETE

  async delete(caller: Caller, name: string, headers: IncomingHttpHeaders): Promise<HatracReply> {
    this.resolver.firewall(caller, 'delete');
    const target = await this.resolver.name(name);
    if (target.doc.kind === 'object') {
      const object = await this.resolver.objectOf(target);
      const current = (await this.resolver.versions(object))[0];
      checkPreconditions(headers, 'DELETE', current ? `"${current.hatrac.version}"` : null);
      await this.requireDeletable(caller, [object]);
      await this.removeNames(object, [object]);
      return { status: 204 };
    }
    if (name === ROOT) throw new HatracError(403, 'The root namespace cannot be deleted.');
    checkPreconditions(headers, 'DELETE', await this.namespaceTag(target));
    this.resolver.require(caller, Rules.ownName(target.acl), `delete ${name}`);
    const below: ResolvedName[] = [];
    for (const doc of await this.directory.liveDescendants(name)) below.push(await this.resolver.name(doc._id));
    const objects: ResolvedObject[] = [];
    for (const n of below) {
      if (n.doc.kind === 'object') objects.push(await this.resolver.objectOf(n));
      else this.resolver.require(caller, Rules.ownName(n.acl), `delete ${n.doc._id}`);
    }
    await this.requireDeletable(caller, objects);
    await this.removeNames(target, [target, ...below]);
    return { status: 204 };
  }

  /** Deleting an object needs its ownership and, for each live version, version or subtree ownership. */
  private async requireDeletable(caller: Caller, objects: ResolvedObject[]): Promise<void> {
    for (const object of objects) {
      this.resolver.require(caller, Rules.ownName(object.acl), `delete ${object.doc._id}`);
      for (const v of await this.resolver.versions(object)) {
        this.resolver.require(caller, Rules.deleteVersionInBulk(v.hatrac.acl, object.acl), `delete ${urlOf(object.doc._id, v.hatrac.version)}`);
      }
    }
  }

  /** Cancels the jobs, removes the tree nodes (and so the versions' bytes) and tombstones the names. */
  private async removeNames(top: ResolvedName, all: ResolvedName[]): Promise<void> {
    for (const job of await this.directory.jobsAtOrBelow(top.doc._id)) {
      await this.bytes.cancelJob(job).catch(() => {});
      await this.directory.deleteJob(job._id);
    }
    // the nodes first: a failure half-way leaves live names a repeated DELETE finishes
    await this.tree.deleteNode(top.doc);
    await this.directory.markDeleted(all.map((n) => n.doc._id));
  }

  async deleteVersion(caller: Caller, name: string, version: string, headers: IncomingHttpHeaders): Promise<HatracReply> {
    this.resolver.firewall(caller, 'delete');
    const object = await this.resolver.object(name);
    const file = await this.resolver.version(object, version);
    checkPreconditions(headers, 'DELETE', `"${version}"`);
    this.resolver.require(caller, Rules.ownVersion(file.hatrac.acl, object.acl), `delete ${urlOf(name, version)}`);
    await this.tree.deleteVersion(file);
    return { status: 204 };
  }

  private async namespaceTag(ns: ResolvedName): Promise<string> {
    return digestTag((await this.childNames(ns)).sort().map((n) => urlOf(n)));
  }
}

/** A new resource's owner list: the caller's login (anonymous callers own nothing). */
export function ownerOf(caller: Caller): string[] {
  return caller.user ? [caller.user.login] : [];
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
