/**
 * Schema names end up inside SQL text (quoted) and inside NOTIFY channel names, so they are checked
 * before any SQL runs. 48 characters at most: `<schema>.orchestrator` must fit PostgreSQL's 63-byte
 * identifier limit for channel names.
 */
import { InvalidArgumentError } from '../providers/errors.js';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export function validateSchemaName(schema: unknown): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new InvalidArgumentError(`schema name must match ${SCHEMA_NAME.source}`, { schema: String(schema) }, 'INVALID_SCHEMA_NAME');
  }
  return schema;
}

/** The validated name, double-quoted for SQL text. */
export function quoteSchema(schema: string): string {
  return `"${validateSchemaName(schema)}"`;
}
