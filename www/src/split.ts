/** The share of the corpus used for training; the rest (the end of the text) is held out for validation. */
export const TRAIN_FRACTION = 0.9;

/** Train and validation parts of a text, split at a character boundary. */
export function splitText(text: string): { train: string; val: string } {
  const cut = Math.floor(text.length * TRAIN_FRACTION);
  return { train: text.slice(0, cut), val: text.slice(cut) };
}
