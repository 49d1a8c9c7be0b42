// The one train/validation split of a text: the core's (crate/src/corpus: `train_val_split`), which the CLI
// uses too, so the same text gives the same validation tokens in the CLI, the package and the page.
import { guard } from './errors.js';
import { core } from './core.js';
import { needCore } from './sizes.js';

export interface TextSplit {
  train: string;
  validation: string;
}

/**
 * Cuts `text` into training and validation parts, the validation part being about the last `valFraction` of
 * its bytes: the cut falls at the line start nearest to that point (within 2% of the text's length), else at
 * a character boundary. `train + validation === text`. Needs the core loaded (await init() first).
 */
export function splitText(text: string, valFraction = 0.1): TextSplit {
  needCore('could not split the text');
  const [train, validation] = guard('could not split the text', () => core.trainValSplit(String(text), valFraction));
  return { train: train ?? '', validation: validation ?? '' };
}
