// Where tests find Microsoft's published examples and schemas: tests/reference/, inside the repository, so a
// fresh clone tests alone. Its README names each file's source, commit and licence.
import { join } from 'node:path';

/** Compiled to build/tests/helpers/, three levels below the repository root; the data stays beside the sources. */
export const referenceRoot = join(__dirname, '..', '..', '..', 'tests', 'reference');
