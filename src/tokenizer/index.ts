/**
 * Tokenizers for GrassmannGPT checkpoints: Hugging Face tokenizer.json (WordPiece, byte-level BPE)
 * and BERT vocab.txt, with every token's span in the original text. No `vscode` import: the CLI and
 * the extension share it.
 */
export type { BoundedEncoding, DecodeOptions, EncodeBounds, EncodeOptions, Token, Tokenizer, TokenizerKind } from './types';
export { loadTokenizer, loadVocabTxt, tokenizerFromJson } from './load';
export {
  type FindTokenizerOptions,
  type FoundTokenizer,
  type TokenizerOrigin,
  DEFAULT_MAX_PARENT_LEVELS,
  cachedTokenizers,
  findTokenizer,
  hubCacheDir,
  repoFolderName,
} from './find';
