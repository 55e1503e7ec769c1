import { Injectable } from '@nestjs/common';
import { Rules } from './hatrac-acl';
import { HatracDirectory } from './hatrac-directory';
import { badRequest, conflict, HatracError } from './hatrac-errors';
import { checkPreconditions, cleanContentType, HatracReply, parseJsonObject, uriListReply } from './hatrac-http';
import { HatracNamesService, ownerOf } from './hatrac-names.service';
import { Caller, HatracResolver, ResolvedObject, urlOf, VersionFile } from './hatrac-resolver';
import type { SmallBody } from './hatrac-subresources.service';
import { HatracTree } from './hatrac-tree';
import { ROOT } from './hatrac-url';

const RENAME_KEYS = new Set(['command', 'source_name', 'source_versions', 'versions', 'copy_acls']);

interface RenameCommand {
  source: string;
  versions: string[] | null;
  copyAcls: boolean;
}

/**
 * `POST /OBJ` with `rename_from` (reference §4.7): the target gets versions with the source's ids,
 * sharing their bytes; each source version forwards reads to its target. Repeating a rename is a
 * no-op (204). Unlike the reference, source versions are copied oldest first, so the source's
 * current version stays current on the target.
 */
@Injectable()
export class HatracRenameService {
  constructor(
    private readonly resolver: HatracResolver,
    private readonly directory: HatracDirectory,
    private readonly names: HatracNamesService,
    private readonly tree: HatracTree,
  ) {}

  async rename(caller: Caller, target: string, req: SmallBody & { parents: boolean }): Promise<HatracReply> {
    if (cleanContentType(req.headers['content-type']) !== 'application/json') throw badRequest('Send the command as application/json.');
    const command = parseCommand(await req.read(64 * 1024));
    this.resolver.firewall(caller, 'create');
    if (command.source === target) throw conflict('The source and the target of a rename are the same object.');
    const source = await this.resolver.object(command.source).catch((err) => {
      if (err instanceof HatracError && err.status === 404) throw conflict(`${command.source} is not an existing object.`);
      throw err;
    });
    const { live, deleted } = await this.resolver.lookup(target);
    if (deleted) throw conflict(`Name ${target} is not available for use.`);
    if (live?.doc.kind === 'namespace') throw conflict(`${target} is a namespace.`);
    const existing = live ? await this.resolver.objectOf(live) : null;
    const current = existing ? (await this.resolver.versions(existing))[0] : undefined;
    checkPreconditions(req.headers, 'POST', current ? `"${current.hatrac.version}"` : null);
    this.resolver.require(caller, Rules.ownName(source.acl), `rename ${command.source}`);
    if (existing) this.resolver.require(caller, Rules.ownName(existing.acl), `rename onto ${target}`);

    const sourceVersions = await this.resolver.versions(source);
    const chosen = command.versions
      ? command.versions.map((v) => sourceVersions.find((s) => s.hatrac.version === v) ?? missingVersion(command.source, v))
      : sourceVersions;
    const targetVersions = existing ? await this.resolver.versions(existing) : [];
    const todo: VersionFile[] = [];
    for (const version of chosen) {
      const v = version.hatrac.version;
      const forwarded = version.hatrac.renameTo;
      const there = targetVersions.find((t) => t.hatrac.version === v);
      if (forwarded && !(forwarded[0] === target && forwarded[1] === v)) throw conflict(`Version ${v} of ${command.source} was already renamed to ${forwarded[0]}.`);
      if (there) {
        const from = there.hatrac.renamedFrom;
        if (!from || from[0] !== command.source || from[1] !== v) throw conflict(`${target} already has a different version ${v}.`);
        continue; // done by an earlier, identical rename
      }
      if (forwarded) throw conflict(`Version ${v} of ${command.source} was renamed to ${target} and deleted there.`);
      todo.push(version);
    }
    if (!todo.length) return { status: 204 };

    const object: ResolvedObject = existing ?? (await this.created(caller, target, req.parents));
    if (!existing) this.resolver.require(caller, Rules.ownName(object.acl), `rename onto ${target}`);
    if (command.copyAcls) await this.directory.setAcl(target, { ...source.acl.own });
    const urls: string[] = [];
    for (const version of todo.sort((a, b) => a.hatrac.serial - b.hatrac.serial)) {
      const v = version.hatrac.version;
      const info = {
        version: v,
        serial: await this.directory.takeSerial(target),
        metadata: { ...version.hatrac.metadata },
        acl: command.copyAcls ? structuredClone(version.hatrac.acl) : { owner: ownerOf(caller), read: [] },
        renamedFrom: [command.source, v] as [string, string],
      };
      await this.tree.copyVersion(version, object.item, info, caller.user);
      await this.tree.setVersionInfo(version, { ...version.hatrac, renameTo: [target, v] });
      urls.push(urlOf(target, v));
    }
    return uriListReply(201, urls);
  }

  private async created(caller: Caller, target: string, parents: boolean): Promise<ResolvedObject> {
    if (target === ROOT) throw conflict('The root is a namespace.');
    await this.names.createName(caller, target, 'object', parents);
    return this.resolver.object(target);
  }
}

function missingVersion(name: string, version: string): never {
  throw conflict(`${name} has no version ${version}.`);
}

/** `{"command": "rename_from", "source_name": …, "source_versions"?: […], "copy_acls"?: bool}`; deriva sends `versions`. */
function parseCommand(text: string): RenameCommand {
  const body = parseJsonObject(text, 'The command');
  const unknown = Object.keys(body).filter((k) => !RENAME_KEYS.has(k));
  if (unknown.length) throw badRequest(`Unknown keys in the command: ${unknown.join(', ')}.`);
  if (body.command !== 'rename_from') throw badRequest('The only command is "rename_from".');
  if (typeof body.source_name !== 'string' || !body.source_name.startsWith('/')) throw badRequest('source_name must be an object path such as /ns/obj.');
  const versions = body.source_versions ?? body.versions;
  if (versions !== undefined && versions !== null && (!Array.isArray(versions) || !versions.every((v) => typeof v === 'string'))) {
    throw badRequest('source_versions must be a list of version ids.');
  }
  if (body.copy_acls !== undefined && typeof body.copy_acls !== 'boolean') throw badRequest('copy_acls must be true or false.');
  const source = body.source_name.replace(/\/+$/, '').replace(/\/{2,}/g, '/');
  return { source, versions: (versions as string[] | null | undefined) ?? null, copyAcls: body.copy_acls === true };
}
