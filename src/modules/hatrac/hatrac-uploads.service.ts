import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Rules } from './hatrac-acl';
import { Declared, HatracBytes } from './hatrac-bytes';
import { HatracDirectory } from './hatrac-directory';
import { badRequest, conflict, HatracError, notFound } from './hatrac-errors';
import { checkDisposition, checkPreconditions, cleanContentType, digestTag, HatracReply, listingReply, parseChecksum, parseJsonObject, uriListReply } from './hatrac-http';
import { BodyRequest, header, HatracNamesService, ownerOf } from './hatrac-names.service';
import { Caller, HatracResolver, newVersionId, ResolvedObject, urlOf } from './hatrac-resolver';
import type { SmallBody } from './hatrac-subresources.service';
import type { HatracJobDoc } from './hatrac.schema';

const MAX_JOB_BODY = 64 * 1024;

/** Chunked upload jobs, `;upload` (reference §2.2, §4.6). */
@Injectable()
export class HatracUploadsService {
  constructor(
    private readonly resolver: HatracResolver,
    private readonly directory: HatracDirectory,
    private readonly names: HatracNamesService,
    private readonly bytes: HatracBytes,
    private readonly config: AppConfig,
  ) {}

  /** POST `;upload`: a new job; the object is created first when the name is new. */
  async create(caller: Caller, name: string, req: SmallBody & { parents: boolean }): Promise<HatracReply> {
    this.resolver.firewall(caller, 'create');
    if (cleanContentType(req.headers['content-type']) !== 'application/json') throw badRequest('Describe the upload job as application/json.');
    const spec = parseJobSpec(await req.read(MAX_JOB_BODY));
    if (req.headers['if-match'] !== undefined) checkPreconditions(req.headers, 'POST', null);
    const { live, deleted } = await this.resolver.lookup(name);
    if (deleted) throw conflict(`Name ${name} is not available for use.`);
    if (live?.doc.kind === 'namespace') throw conflict(`${name} is a namespace, not an object.`);
    const object = await this.resolver.objectOf(live ?? (await this.names.createName(caller, name, 'object', req.parents)));
    this.resolver.require(caller, Rules.updateObject(object.acl), `update ${name}`);
    const storage = await this.bytes.openJob(spec.nbytes);
    const job = await this.directory.createJob({
      _id: storage._id,
      job: newVersionId(),
      name,
      nbytes: spec.nbytes,
      chunkLength: spec.chunkLength,
      metadata: spec.metadata,
      owner: ownerOf(caller),
      assetstoreId: storage.assetstoreId,
      state: storage.state,
    });
    const url = jobUrl(job);
    return uriListReply(201, [url], url);
  }

  async list(caller: Caller, name: string, headers: SmallBody['headers'], method: string): Promise<HatracReply> {
    const object = await this.resolver.object(name);
    this.resolver.require(caller, [object.acl.own.owner], `list the uploads of ${name}`);
    const urls = (await this.directory.jobsOf(name)).map(jobUrl);
    const etag = digestTag(urls);
    checkPreconditions(headers, method, etag);
    return listingReply(urls, headers.accept, `Uploads of ${name}`, etag);
  }

  async status(caller: Caller, name: string, jobId: string): Promise<HatracReply> {
    const { job } = await this.job(caller, name, jobId);
    const shown: Record<string, unknown> = { url: jobUrl(job), target: urlOf(name), owner: job.owner, 'chunk-length': job.chunkLength, 'content-length': job.nbytes };
    for (const [k, v] of Object.entries(job.metadata)) shown[k] = k === 'content-md5' || k === 'content-sha256' ? Buffer.from(v, 'hex').toString('base64') : v;
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body: `${JSON.stringify(shown)}\n` };
  }

  /** PUT a chunk: exactly chunk-length bytes (the last one: the rest), in any order, re-sendable. */
  async putChunk(caller: Caller, name: string, jobId: string, chunk: string, req: BodyRequest): Promise<HatracReply> {
    if (!/^\d+$/.test(chunk)) throw badRequest(`Invalid chunk number "${chunk}".`);
    const { job } = await this.job(caller, name, jobId);
    const index = Number(chunk);
    const count = Math.ceil(job.nbytes / job.chunkLength);
    if (index >= count) throw conflict(`Chunk ${index} is beyond the ${count} chunks of this job.`);
    const length = Math.min(job.chunkLength, job.nbytes - index * job.chunkLength);
    if (req.headers['content-length'] === undefined) throw new HatracError(411, 'Content-Length required.');
    const sent = Number(req.headers['content-length']);
    if (sent > this.config.hatrac.maxPayloadBytes) throw new HatracError(413, `A chunk may hold at most ${this.config.hatrac.maxPayloadBytes} bytes.`);
    if (sent !== length) throw conflict(`Chunk ${index} must be ${length} bytes, not ${sent}.`);
    const declared: Declared = { md5: parseChecksum(header(req.headers, 'content-md5'), 'md5'), sha256: parseChecksum(header(req.headers, 'content-sha256'), 'sha256') };
    await this.bytes.writeChunk(job, index * job.chunkLength, length, req.body, declared);
    await this.directory.addChunk(job._id, index);
    return { status: 204 };
  }

  /** POST the job: its bytes become a new version whose id is the job id. */
  async finalize(caller: Caller, name: string, jobId: string): Promise<HatracReply> {
    this.resolver.firewall(caller, 'create');
    const { job, object } = await this.job(caller, name, jobId);
    const count = Math.ceil(job.nbytes / job.chunkLength);
    const missing = count - new Set(job.chunks).size;
    if (missing > 0) throw conflict(`${missing} of the ${count} chunks have not been uploaded.`);
    const declared: Declared = {};
    if (job.metadata['content-md5']) declared.md5 = Buffer.from(job.metadata['content-md5'], 'hex');
    if (job.metadata['content-sha256']) declared.sha256 = Buffer.from(job.metadata['content-sha256'], 'hex');
    await this.bytes.finishJob(job, declared, (where) => this.names.recordVersion(caller, object, { version: job.job, metadata: job.metadata }, where));
    await this.directory.deleteJob(job._id);
    const url = urlOf(name, job.job);
    return uriListReply(201, [url], url);
  }

  async cancel(caller: Caller, name: string, jobId: string): Promise<HatracReply> {
    const object = await this.resolver.object(name);
    const job = await this.directory.findJob(name, jobId);
    if (!job) throw notFound(`Upload job ${jobId}`);
    this.resolver.require(caller, Rules.cancelJob(job.owner, object.acl), `cancel upload ${jobId}`);
    if (await this.directory.deleteJob(job._id)) await this.bytes.cancelJob(job);
    return { status: 204 };
  }

  /** A job its owner is working on (status, chunks, finalize: the job's owner only). */
  private async job(caller: Caller, name: string, jobId: string): Promise<{ job: HatracJobDoc; object: ResolvedObject }> {
    const object = await this.resolver.object(name);
    const job = await this.directory.findJob(name, jobId);
    if (!job) throw notFound(`Upload job ${jobId}`);
    this.resolver.require(caller, Rules.ownJob(job.owner), `use upload ${jobId}`);
    return { job, object };
  }
}

function jobUrl(job: HatracJobDoc): string {
  return `${urlOf(job.name)};upload/${job.job}`;
}

/** The job description: sizes required (with Hatrac's aliases), metadata validated as PUT headers are. */
function parseJobSpec(text: string): { nbytes: number; chunkLength: number; metadata: Record<string, string> } {
  const spec = parseJsonObject(text, 'The upload job');
  const pick = (...keys: string[]) => keys.map((k) => spec[k]).find((v) => v !== undefined);
  const chunkLength = pick('chunk-length', 'chunk_bytes');
  const nbytes = pick('content-length', 'total_bytes');
  if (!Number.isSafeInteger(chunkLength) || (chunkLength as number) <= 0) throw badRequest('chunk-length must be a positive integer.');
  if (!Number.isSafeInteger(nbytes) || (nbytes as number) < 0) throw badRequest('content-length must be a non-negative integer.');
  const text_ = (v: unknown, key: string) => {
    if (v !== undefined && typeof v !== 'string') throw badRequest(`${key} must be a string.`);
    return v as string | undefined;
  };
  const metadata: Record<string, string> = {};
  const type = cleanContentType(text_(pick('content-type', 'content_type'), 'content-type'));
  if (type) metadata['content-type'] = type;
  const md5 = parseChecksum(text_(pick('content-md5', 'content_md5'), 'content-md5'), 'md5');
  if (md5) metadata['content-md5'] = md5.toString('hex');
  const sha256 = parseChecksum(text_(pick('content-sha256', 'content_sha256'), 'content-sha256'), 'sha256');
  if (sha256) metadata['content-sha256'] = sha256.toString('hex');
  const disposition = checkDisposition(text_(pick('content-disposition', 'content_disposition'), 'content-disposition'));
  if (disposition) metadata['content-disposition'] = disposition;
  return { nbytes: nbytes as number, chunkLength: chunkLength as number, metadata };
}
