/**
 * Lower-cases and strips accents ("Contraseña" → "contrasena", "Actualización" → "actualizacion") so
 * rule keywords match whatever way customers type them, with or without diacritics.
 */
export function normalizeText(text: string): string {
  return text.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
}

/** The words of a normalised text (letters and digits only). */
export function wordsOf(normalized: string): string[] {
  return normalized.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}
