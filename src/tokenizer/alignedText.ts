/**
 * Text that remembers where every character came from, so that spans of tokens computed on
 * normalised (lowercased, accent-stripped, byte-mapped) text can be reported in the ORIGINAL string.
 */

/**
 * A sequence of code points, each with the UTF-16 span [start, end) of the original input that it
 * stands for. A character inserted by normalisation (the space around a CJK character, the prefix
 * space of byte-level BPE) gets the span of its neighbour or an empty span.
 */
export class AlignedText {
  private constructor(
    readonly chars: readonly string[],
    readonly starts: readonly number[],
    readonly ends: readonly number[],
  ) {}

  /** The slice original[from, to) as aligned text: every code point maps to itself. */
  static fromOriginal(original: string, from = 0, to = original.length): AlignedText {
    const chars: string[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    let i = from;
    while (i < to) {
      const cp = original.codePointAt(i)!;
      // A lone surrogate is one UTF-16 unit; a pair is two. codePointAt handles both.
      const width = cp > 0xffff ? 2 : 1;
      chars.push(String.fromCodePoint(cp));
      starts.push(i);
      ends.push(i + width);
      i += width;
    }
    return new AlignedText(chars, starts, ends);
  }

  static fromParts(chars: string[], starts: number[], ends: number[]): AlignedText {
    return new AlignedText(chars, starts, ends);
  }

  get length(): number {
    return this.chars.length;
  }

  toString(): string {
    return this.chars.join('');
  }

  /**
   * Replaces every code point by `replace(ch)` (zero, one or several code points); the
   * replacements inherit the span of the character they replace.
   */
  mapChars(replace: (ch: string, index: number) => string): AlignedText {
    const chars: string[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    for (let i = 0; i < this.chars.length; i++) {
      const out = replace(this.chars[i]!, i);
      if (out === this.chars[i]) {
        chars.push(out);
        starts.push(this.starts[i]!);
        ends.push(this.ends[i]!);
        continue;
      }
      for (const c of out) {
        chars.push(c);
        starts.push(this.starts[i]!);
        ends.push(this.ends[i]!);
      }
    }
    return new AlignedText(chars, starts, ends);
  }

  /**
   * Removes the characters `drop` selects; a removed character's span joins the kept character
   * before it, so a decomposed accent ("e" + U+0301) still belongs to the token of its letter.
   */
  dropChars(drop: (ch: string) => boolean): AlignedText {
    const chars: string[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    for (let i = 0; i < this.chars.length; i++) {
      const c = this.chars[i]!;
      if (!drop(c)) {
        chars.push(c);
        starts.push(this.starts[i]!);
        ends.push(this.ends[i]!);
      } else if (ends.length > 0 && this.starts[i]! >= ends[ends.length - 1]!) {
        ends[ends.length - 1] = Math.max(ends[ends.length - 1]!, this.ends[i]!);
      }
    }
    return new AlignedText(chars, starts, ends);
  }

  /**
   * Applies a string transform (Unicode normalisation forms) to clusters of a base character and
   * the combining characters after it, so that composition works across code points while every
   * output character still maps to the span of the cluster it came from.
   */
  mapClusters(transform: (cluster: string) => string): AlignedText {
    const chars: string[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    let i = 0;
    while (i < this.chars.length) {
      let j = i + 1;
      while (j < this.chars.length && JOINS_PREVIOUS.test(this.chars[j]!)) j++;
      const cluster = this.chars.slice(i, j).join('');
      // A loop, not Math.min(...): a cluster of many combining marks would overflow the arguments.
      const [start, end] = this.spanOf(i, j, 0);
      for (const c of transform(cluster)) {
        chars.push(c);
        starts.push(start);
        ends.push(end);
      }
      i = j;
    }
    return new AlignedText(chars, starts, ends);
  }

  /** Characters [from, to) as their own aligned text. */
  slice(from: number, to: number): AlignedText {
    return new AlignedText(this.chars.slice(from, to), this.starts.slice(from, to), this.ends.slice(from, to));
  }

  /** Prepends one character with an empty span at the start of the first character (or at `at`). */
  prepend(ch: string, at: number): AlignedText {
    const pos = this.starts.length > 0 ? this.starts[0]! : at;
    return new AlignedText([ch, ...this.chars], [pos, ...this.starts], [pos, ...this.ends]);
  }

  /**
   * The original span covered by characters [from, to): from the smallest start to the largest end
   * (normalisation may reorder combining marks, so the first/last character need not be extreme).
   * An empty range gives an empty span at `fallback`.
   */
  spanOf(from: number, to: number, fallback: number): [number, number] {
    if (to <= from) return [fallback, fallback];
    let start = Infinity;
    let end = -Infinity;
    for (let k = from; k < to; k++) {
      if (this.starts[k]! < start) start = this.starts[k]!;
      if (this.ends[k]! > end) end = this.ends[k]!;
    }
    return [start, end];
  }
}

/**
 * Characters that belong to the cluster of the character before them for NFC/NFKC composition:
 * combining marks, and Hangul medial vowels / final consonants (conjoining jamo compose with the
 * leading consonant before them).
 */
const JOINS_PREVIOUS = /^[\p{M}\u1160-\u11FF\uD7B0-\uD7FF]$/u;
