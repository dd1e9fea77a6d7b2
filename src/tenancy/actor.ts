import { CURRENT_ACTOR_SETTING } from './tenant-policy';
import { InvalidActorError } from './tenancy.errors';

/** As long as `audit_logs.actor` may be (its CHECK constraint). */
const MAX_ACTOR_LENGTH = 200;

/**
 * Returns `value` when it can be the actor of a transaction's audit entries, or throws
 * {@link InvalidActorError} naming `source`. Checked before any connection is taken: the database
 * records the actor from the transaction's setting, and a value it refuses would otherwise surface as
 * a constraint violation at the first audited write, after the work was done.
 */
export function parseActor(value: unknown, source = 'actor'): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ACTOR_LENGTH || value.includes('\0')) {
    throw new InvalidActorError(source, MAX_ACTOR_LENGTH);
  }
  return value;
}

/**
 * `SET LOCAL app.current_actor = E'…'`: on Citus the audit chain's trigger runs on a worker, which
 * sees the statement Citus propagates and not a `set_config()` made on the coordinator. SET takes no
 * bind parameters, so the actor is written as an escape string literal: backslashes and quotes are
 * escaped, and an `E''` literal reads the same whatever `standard_conforming_strings` says.
 */
export function actorSetStatement(actor: string): string {
  return `SET LOCAL ${CURRENT_ACTOR_SETTING} = E'${parseActor(actor)!.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
