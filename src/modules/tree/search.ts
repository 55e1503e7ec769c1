/** A case-insensitive "contains" pattern for a search text, with the text taken literally. */
export function escapeSearch(text: string): RegExp {
  return new RegExp(text.trim().toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}
