/**
 * The survivor rule, as a SQL fragment: the live profile that the `profiles` row aliased `alias`
 * stands for. A merge points every absorbed row straight at the survivor (`merged_into` is never
 * a chain), so one step resolves it; a live row (`merged_into IS NULL`) is its own survivor.
 * Inlined text, so plans stay as if written by hand. `alias` must be a SQL identifier.
 */
export function survivorOf(alias: string): string {
  return `coalesce(${alias}.merged_into, ${alias}.id)`;
}
