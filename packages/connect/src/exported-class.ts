import { MachineryError } from '@machinery/core';

/**
 * A class an adapter package exports, looked up by name: an installed version of the package that is
 * older than the class (a control plane added later, say) then gives `undefined`, and the caller says
 * which package to upgrade, instead of failing with `undefined is not a constructor`.
 */
export function exportedClass<C>(module: object, name: string): C | undefined {
  const value = (module as Record<string, unknown>)[name];
  return typeof value === 'function' ? (value as C) : undefined;
}

/** The error for a class the installed version of `pkg` does not export. */
export function missingExport(name: string, pkg: string, neededBy: string): MachineryError {
  return new MachineryError(
    'ERR_INVALID_ARGUMENT',
    `${neededBy} needs ${name} from ${pkg}, which the installed version does not export: npm install ${pkg}@latest`,
  );
}
