/**
 * The path (with query and fragment) that a user-supplied location points to when it stays on
 * `publicUrl`'s origin; undefined otherwise. It is parsed as a browser parses a `Location`
 * (backslashes read as slashes, tabs and newlines dropped, `.` segments resolved), and the
 * normalised path is returned rather than the input, so a browser can only follow it to a path
 * on this site: never `//host`, `/\host`, another scheme or a host of its own.
 */
export function sameOriginPath(location: unknown, publicUrl: string): string | undefined {
  if (typeof location !== 'string' || location === '') return undefined;
  let base: URL;
  let target: URL;
  try {
    base = new URL(publicUrl);
    target = new URL(location, base);
  } catch {
    return undefined;
  }
  if (target.origin !== base.origin) return undefined;
  // `/.//host` resolves to the path `//host`, which a browser reads as another host.
  if (target.pathname.startsWith('//')) return undefined;
  return `${target.pathname}${target.search}${target.hash}`;
}
