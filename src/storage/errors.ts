import { InputError } from '../errors.ts';

/**
 * The object or file does not exist (ENOENT, S3 NoSuchKey/NoSuchBucket/404): exit 3, like any unusable input.
 * One class for every backend, so callers that tolerate a missing file (an optional mask) catch one thing.
 */
export class NotFoundError extends InputError {
  constructor(location: string, detail = 'not found') {
    super(detail, location);
  }
}
