/** The database lacks the schema this module needs. The message names what is missing and how to migrate. */
export class SchemaNotMigratedError extends Error {
  override name = 'SchemaNotMigratedError';
}
