/**
 * Removes credentials from a connection URL for logs and error messages:
 * `redis://user:secret@host:6379/0` → `redis://user:***@host:6379/0`. Text that is not a URL is
 * scanned for `scheme://user:password@` patterns instead.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '' && u.username === '') return url;
    if (u.password !== '') u.password = '***';
    else u.username = '***';
    return u.toString();
  } catch {
    return redactText(url);
  }
}

/** Replaces every `scheme://user:password@` in free text (an error message, say) with a redacted form. */
export function redactText(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^:/@\s]*):([^@\s]*)@/gi, '$1$2:***@');
}
