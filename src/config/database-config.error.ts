/** A configuration value is missing or malformed. The message names the variable and what is wrong. */
export class DatabaseConfigError extends Error {
  override name = 'DatabaseConfigError';
}
