import { Comment } from './comments/comment.entity.js';
import { CreateComments1800000000000 } from './migrations/1800000000000-CreateComments.js';

/** The application's own tables, for DatabaseModule and for the migration CLI. */
export const entities = [Comment];
export const migrations = [CreateComments1800000000000];
