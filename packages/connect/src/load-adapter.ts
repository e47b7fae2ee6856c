import { MachineryError } from '@machinery/core';

/**
 * Imports an adapter package that is an optional peer dependency. When it is not installed, the
 * error says which URL needs it and the command that installs it; any other failure (the package is
 * there but broken) is passed on unchanged.
 */
export async function loadAdapter<M>(pkg: string, neededBy: string, load: () => Promise<M>): Promise<M> {
  try {
    return await load();
  } catch (err) {
    if (isMissing(err, pkg)) {
      throw new MachineryError('ERR_INVALID_ARGUMENT', `${neededBy} needs ${pkg}: npm install ${pkg}`, {
        cause: err,
      });
    }
    throw err;
  }
}

// Only the package itself being absent counts: a dependency missing inside it is a broken install,
// and telling the user to install the adapter they already have would mislead them.
function isMissing(err: unknown, pkg: string): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  return typeof message === 'string' && (message.includes(`'${pkg}'`) || message.includes(`"${pkg}"`));
}
