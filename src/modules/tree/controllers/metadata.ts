import { ValidationError } from '../../../common/errors';
import { parseJsonParam } from '../../../common/params';

/** The JSON object body of `PUT …/metadata`. */
export function metadataBody(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError('The body must be a JSON object of metadata.', 'metadata');
  return body as Record<string, unknown>;
}

/** The JSON list body of `DELETE …/metadata`. */
export function metadataKeys(body: unknown): string[] {
  if (!Array.isArray(body) || !body.every((k) => typeof k === 'string')) throw new ValidationError('The body must be a JSON list of keys.', 'fields');
  return body;
}

/** The optional `metadata` parameter of creates and edits: a JSON object. */
export function metadataParam(value: string | undefined): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  const meta = parseJsonParam<unknown>(value, 'metadata');
  return metadataBody(meta);
}
