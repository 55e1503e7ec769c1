import { Model, Schema, SchemaType, Types } from 'mongoose';
import { driverCollection } from './driver-collection';

/**
 * Inserts what `model.create(doc)` would, through the driver when it can (`toStored`: no save
 * machinery, hooks or per-save Error, which the tree's hot schemas do not use); returns the
 * stored document.
 */
export async function insertStored<T extends { _id?: unknown }>(model: Model<T>, doc: T): Promise<T> {
  const direct = driverCollection(model);
  if (!direct) return (await model.create(doc)).toObject() as T;
  const stored = toStored(model, doc);
  await direct.insertOne(stored as Record<string, unknown>);
  return stored;
}

/**
 * The document `model.create(doc)` would store (defaults, casts, validation: the schema's
 * document), without its save machinery: `doc` itself when it already is that document
 * (`storedAsIs`), else built and validated by mongoose (a validation error is thrown as `create`
 * would). For inserts through the driver on hot paths.
 */
export function toStored<T extends { _id?: unknown }>(model: Model<T>, doc: T): T {
  const asIs = storedAsIs(model.schema, doc);
  if (asIs) return asIs;
  const hydrated = new model(doc);
  const invalid = hydrated.validateSync();
  if (invalid) throw invalid;
  return hydrated.toObject() as T;
}

/**
 * The document `Model.create(doc)` would store, when `doc` already is that document: every path of
 * the schema present with its schema type (so nothing would be cast or defaulted), `required` and
 * `enum` satisfied, no other validator and no other field (which strict mode would drop). Then it
 * can go to the driver as it is, without mongoose's save machinery (a hydrated document, change
 * tracking, hooks this project does not use), which costs about as much CPU as the insert itself.
 * Undefined when anything differs: the caller then lets mongoose build and validate it.
 * Fields are in the schema's order with `_id` last, as mongoose stores them.
 */
export function storedAsIs<T extends { _id?: unknown }>(schema: Schema, doc: T): T | undefined {
  const source = doc as Record<string, unknown>;
  if (!(source._id instanceof Types.ObjectId)) return undefined;
  const out: Record<string, unknown> = {};
  let fields = 1;
  for (const [path, type] of Object.entries(schema.paths)) {
    if (path === '_id') continue;
    if (path.includes('.') || !hasType(type, source[path])) return undefined;
    out[path] = source[path];
    fields++;
  }
  if (Object.keys(source).length !== fields) return undefined;
  out._id = source._id;
  return out as T;
}

function hasType(type: SchemaType, value: unknown): boolean {
  if (value === undefined) return false; // a default would apply
  if (type.validators.some((v: { type?: string }) => v.type !== 'required' && v.type !== 'enum')) return false;
  if (value === null) return !type.isRequired;
  switch (type.instance) {
    case 'String': {
      const allowed = (type as SchemaType & { enumValues?: string[] }).enumValues;
      return typeof value === 'string' && !(type.isRequired && value === '') && (!allowed?.length || allowed.includes(value));
    }
    case 'Number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'Boolean':
      return typeof value === 'boolean';
    case 'Date':
      return value instanceof Date && !Number.isNaN(value.getTime());
    case 'ObjectId':
      return value instanceof Types.ObjectId;
    case 'Mixed':
      return true;
    case 'Array': {
      const element = (type as SchemaType & { embeddedSchemaType?: SchemaType; caster?: SchemaType }).embeddedSchemaType ?? (type as SchemaType & { caster?: SchemaType }).caster;
      return element?.instance === 'String' && Array.isArray(value) && value.every((v) => typeof v === 'string');
    }
    default:
      return false;
  }
}
