/**
 * Loading tokenizers: Hugging Face `tokenizer.json` (WordPiece or byte-level BPE) and BERT's plain
 * `vocab.txt` (+ optional `tokenizer_config.json` / `special_tokens_map.json`).
 *
 * Loading is synchronous: it happens once per checkpoint and the files are at most a few MB.
 * `truncation` and `padding` in tokenizer.json are ignored on purpose: an inspector encodes the
 * whole text and leaves windowing to the model code.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { InputError } from '../util/errors';
import { previewJson } from '../util/jsonLimits';
import {
  type JsonObject,
  checkComponentDepth,
  describe,
  isObject,
  isTokenId,
  optionalBool,
  readJsonFile,
  readTextFile,
  requireObject,
  requireType,
} from './json';
import { type Model, WordPieceModel, parseBpe, parseWordPiece } from './models';
import { type Normalizer, bertNormalizer, parseNormalizer } from './normalizers';
import {
  type AddedToken,
  type Decoder,
  type PostProcessor,
  type SpecialTokenRef,
  PipelineTokenizer,
  byteLevelDecoder,
  wordPieceDecoder,
} from './pipeline';
import { bertPreTokenizer, parsePreTokenizer } from './preTokenizers';
import type { Tokenizer } from './types';

export const TOKENIZER_JSON = 'tokenizer.json';
export const VOCAB_TXT = 'vocab.txt';

/** Files that describe a tokenizer folder but are not loadable on their own: pointing at one loads its folder. */
const FOLDER_CONFIG_FILES = new Set(['tokenizer_config.json', 'special_tokens_map.json', 'config.json']);

/**
 * Loads a tokenizer from a tokenizer.json, a vocab.txt, or a folder holding one of them
 * (tokenizer.json preferred: it is the complete description).
 */
export function loadTokenizer(path: string): Tokenizer {
  const abs = resolve(path);
  let isDir: boolean;
  try {
    isDir = statSync(abs).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(abs, code === 'ENOENT' ? 'no such file or folder' : `cannot read (${code ?? String(e)})`);
  }
  if (isDir) {
    const file = tokenizerFileIn(abs);
    if (!file) throw new InputError(abs, `no ${TOKENIZER_JSON} or ${VOCAB_TXT} in this folder`);
    return loadTokenizerFile(file);
  }
  if (FOLDER_CONFIG_FILES.has(basename(abs))) return loadTokenizer(dirname(abs));
  return loadTokenizerFile(abs);
}

/** The tokenizer file a folder holds (tokenizer.json before vocab.txt), or null. */
export function tokenizerFileIn(folder: string): string | null {
  for (const name of [TOKENIZER_JSON, VOCAB_TXT]) {
    const file = join(folder, name);
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  return null;
}

function loadTokenizerFile(file: string): Tokenizer {
  const ext = extname(file).toLowerCase();
  if (ext === '.txt') return loadVocabTxt(file);
  if (ext === '.json') return tokenizerFromJson(readJsonFile(file), file);
  throw new InputError(file, `not a tokenizer file: expected ${TOKENIZER_JSON}, ${VOCAB_TXT} or a folder holding one`);
}

/** Builds a tokenizer from parsed tokenizer.json content; `source` names the file in errors and in `Tokenizer.source`. */
export function tokenizerFromJson(json: unknown, source: string): Tokenizer {
  if (!isObject(json)) throw new InputError(source, `not a Hugging Face tokenizer.json: the top level is ${describe(json)}, expected an object`);
  if (!isObject(json.model)) throw new InputError(source, 'not a Hugging Face tokenizer.json: it has no "model" object');
  const modelJson = json.model;
  const modelType = modelTypeOf(modelJson, source);

  const preTokenizer = parsePreTokenizer(json.pre_tokenizer, source);
  let model: Model;
  if (modelType === 'WordPiece') {
    model = parseWordPiece(modelJson, source);
  } else if (modelType === 'BPE') {
    if (!preTokenizer.byteLevel) {
      throw new InputError(source, 'BPE without a ByteLevel pre-tokenizer (SentencePiece/Metaspace style) is not supported, only GPT-2 style byte-level BPE');
    }
    model = parseBpe(modelJson, source);
  } else {
    throw new InputError(source, `unsupported model type ${previewJson(modelType)} (supported: WordPiece, BPE)`);
  }

  const addedTokens = parseAddedTokens(json.added_tokens, source);

  return new PipelineTokenizer({
    kind: model.kind,
    source,
    model,
    normalizer: parseNormalizer(json.normalizer, source),
    preTokenizer: preTokenizer.run,
    addedTokens,
    postProcessor: parsePostProcessor(json.post_processor, source),
    decoder: parseDecoder(json.decoder, source, model.kind),
  });
}

/** The model type; very old tokenizer.json files omit it, so it is then inferred from the fields. */
function modelTypeOf(model: JsonObject, file: string): string {
  if (typeof model.type === 'string') return model.type;
  if (model.type !== undefined) throw new InputError(file, `model.type must be a string, found ${describe(model.type)}`);
  if ('merges' in model) return 'BPE';
  if ('continuing_subword_prefix' in model || 'max_input_chars_per_word' in model) return 'WordPiece';
  throw new InputError(file, 'model.type is missing and the model is neither WordPiece nor BPE');
}

function parseAddedTokens(config: unknown, file: string): AddedToken[] {
  if (config === undefined || config === null) return [];
  if (!Array.isArray(config)) throw new InputError(file, `added_tokens must be a list, found ${describe(config)}`);
  return config.map((entry: unknown, i: number): AddedToken => {
    const where = `added_tokens[${i}]`;
    const obj = requireObject(entry, file, where);
    if (!isTokenId(obj.id)) throw new InputError(file, `${where}.id must be a non-negative integer, found ${describe(obj.id)}`);
    if (typeof obj.content !== 'string') throw new InputError(file, `${where}.content must be a string, found ${describe(obj.content)}`);
    return {
      id: obj.id,
      content: obj.content,
      special: optionalBool(obj, 'special', false, file, where),
      singleWord: optionalBool(obj, 'single_word', false, file, where),
      lstrip: optionalBool(obj, 'lstrip', false, file, where),
      rstrip: optionalBool(obj, 'rstrip', false, file, where),
    };
  });
}

const NO_POST_PROCESSING: PostProcessor = { before: [], after: [], trimOffsets: false };

function parsePostProcessor(config: unknown, file: string, where = 'post_processor', depth = 1): PostProcessor {
  if (config === undefined || config === null) return NO_POST_PROCESSING;
  checkComponentDepth(depth, file, where);
  const obj = requireType(config, file, where);
  switch (obj.type) {
    case 'TemplateProcessing':
      return parseTemplate(obj, file, where);
    case 'BertProcessing':
    case 'RobertaProcessing':
      return {
        before: [parseTokenPair(obj.cls, file, `${where}.cls`)],
        after: [parseTokenPair(obj.sep, file, `${where}.sep`)],
        trimOffsets: obj.type === 'RobertaProcessing' && optionalBool(obj, 'trim_offsets', true, file, where),
      };
    case 'ByteLevel':
      return { before: [], after: [], trimOffsets: optionalBool(obj, 'trim_offsets', true, file, where) };
    case 'Sequence': {
      const list = obj.processors;
      if (!Array.isArray(list)) throw new InputError(file, `${where}.processors must be a list`);
      const steps = list.map((p, i) => parsePostProcessor(p, file, `${where}.processors[${i}]`, depth + 1));
      return {
        before: steps.flatMap((s) => s.before),
        after: steps.flatMap((s) => s.after),
        trimOffsets: steps.some((s) => s.trimOffsets),
      };
    }
    default:
      throw new InputError(
        file,
        `unsupported ${where} type ${previewJson(obj.type)} (supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)`,
      );
  }
}

/** BertProcessing's ["[SEP]", 3] pairs. */
function parseTokenPair(v: unknown, file: string, where: string): SpecialTokenRef {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && isTokenId(v[1])) return { text: v[0], id: v[1] };
  throw new InputError(file, `${where} must be a [token, id] pair, found ${describe(v)}`);
}

/**
 * TemplateProcessing's `single` template, e.g. [CLS] $A [SEP]: the special tokens before the
 * sequence go in front of the text, those after it behind.
 */
function parseTemplate(obj: JsonObject, file: string, where: string): PostProcessor {
  if (!Array.isArray(obj.single)) throw new InputError(file, `${where}.single must be a list, found ${describe(obj.single)}`);
  const specials = obj.special_tokens === undefined ? {} : requireObject(obj.special_tokens, file, `${where}.special_tokens`);
  const before: SpecialTokenRef[] = [];
  const after: SpecialTokenRef[] = [];
  let seenSequence = false;
  obj.single.forEach((item: unknown, i: number) => {
    const at = `${where}.single[${i}]`;
    const piece = requireObject(item, file, at);
    if (isObject(piece.Sequence)) {
      if (seenSequence) throw new InputError(file, `${at}: the single-sequence template has more than one sequence`);
      seenSequence = true;
      return;
    }
    if (!isObject(piece.SpecialToken)) throw new InputError(file, `${at} must be {"SpecialToken": …} or {"Sequence": …}`);
    const name = piece.SpecialToken.id;
    if (typeof name !== 'string') throw new InputError(file, `${at}.SpecialToken.id must be a string, found ${describe(name)}`);
    const entry = specials[name];
    if (!isObject(entry) || !Array.isArray(entry.ids) || !Array.isArray(entry.tokens) || entry.ids.length !== entry.tokens.length) {
      throw new InputError(file, `${where}.special_tokens has no valid entry for ${previewJson(name)} used in the template`);
    }
    const ids = entry.ids as unknown[];
    const texts = entry.tokens as unknown[];
    ids.forEach((id, k) => {
      const text = texts[k];
      if (!isTokenId(id) || typeof text !== 'string') {
        throw new InputError(file, `${where}.special_tokens[${previewJson(name)}] must pair string tokens with integer ids`);
      }
      (seenSequence ? after : before).push({ id, text });
    });
  });
  if (!seenSequence) throw new InputError(file, `${where}.single has no {"Sequence": …} item for the text`);
  return { before, after, trimOffsets: false };
}

/** The decoder; a tokenizer.json without one gets its model's natural decoder rather than space-joined pieces. */
function parseDecoder(config: unknown, file: string, kind: Model['kind']): Decoder {
  if (config === undefined || config === null) return kind === 'bpe' ? byteLevelDecoder : wordPieceDecoder('##', true);
  const obj = requireType(config, file, 'decoder');
  switch (obj.type) {
    case 'WordPiece': {
      const prefix = obj.prefix ?? '##';
      if (typeof prefix !== 'string') throw new InputError(file, `decoder.prefix must be a string, found ${describe(prefix)}`);
      return wordPieceDecoder(prefix, optionalBool(obj, 'cleanup', true, file, 'decoder'));
    }
    case 'ByteLevel':
      return byteLevelDecoder;
    default:
      throw new InputError(file, `unsupported decoder type ${previewJson(obj.type)} (supported: WordPiece, ByteLevel)`);
  }
}

/** BERT special-token roles, in the order of BertTokenizer's arguments. */
const BERT_SPECIAL_ROLES = ['unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
const BERT_DEFAULTS: Record<(typeof BERT_SPECIAL_ROLES)[number], string> = {
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
};

/**
 * A BERT WordPiece tokenizer from vocab.txt (one token per line, id = line number) and, when present
 * beside it, tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars, special
 * tokens) and special_tokens_map.json. Defaults are BertTokenizer's: uncased, Chinese characters
 * split, [UNK]/[CLS]/[SEP]/[PAD]/[MASK]. The result is the same pipeline tokenizer.json describes
 * for such a model, so both give the same ids.
 */
export function loadVocabTxt(vocabPath: string): Tokenizer {
  const file = resolve(vocabPath);
  const lines = readTextFile(file).split('\n');
  // A final newline ends the last line rather than starting an empty token.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((line, id) => vocab.set(line.endsWith('\r') ? line.slice(0, -1) : line, id));
  if (vocab.size === 0) throw new InputError(file, 'the vocabulary is empty');

  const folder = dirname(file);
  const config = readOptionalJsonObject(join(folder, 'tokenizer_config.json'));
  const specialMap = readOptionalJsonObject(join(folder, 'special_tokens_map.json'));
  const configFile = join(folder, 'tokenizer_config.json');

  const special = (role: (typeof BERT_SPECIAL_ROLES)[number]): string =>
    tokenContent(config?.[role], configFile, role) ?? tokenContent(specialMap?.[role], join(folder, 'special_tokens_map.json'), role) ?? BERT_DEFAULTS[role];
  const requireInVocab = (role: (typeof BERT_SPECIAL_ROLES)[number]): SpecialTokenRef => {
    const text = special(role);
    const id = vocab.get(text);
    if (id === undefined) throw new InputError(file, `${role} ${previewJson(text)} is not in the vocabulary`);
    return { id, text };
  };

  const addedTokens: AddedToken[] = [];
  const addSpecial = (text: string): void => {
    const id = vocab.get(text);
    if (id !== undefined && !addedTokens.some((t) => t.content === text)) {
      addedTokens.push({ id, content: text, special: true, singleWord: false, lstrip: false, rstrip: false });
    }
  };
  for (const role of BERT_SPECIAL_ROLES) addSpecial(special(role));
  const extra = config?.additional_special_tokens ?? specialMap?.additional_special_tokens;
  if (Array.isArray(extra)) extra.forEach((t, i) => addSpecial(tokenContent(t, configFile, `additional_special_tokens[${i}]`) ?? ''));

  const lowercase = config ? optionalBool(config, 'do_lower_case', true, configFile, 'tokenizer_config') : true;
  const strip = config?.strip_accents;
  if (strip !== undefined && strip !== null && typeof strip !== 'boolean') {
    throw new InputError(configFile, `strip_accents must be true, false or null, found ${describe(strip)}`);
  }
  const normalizer: Normalizer = bertNormalizer({
    cleanText: true,
    handleChineseChars: config ? optionalBool(config, 'tokenize_chinese_chars', true, configFile, 'tokenizer_config') : true,
    stripAccents: strip ?? null,
    lowercase,
  });

  const unk = requireInVocab('unk_token');
  return new PipelineTokenizer({
    kind: 'wordpiece',
    source: file,
    model: new WordPieceModel(vocab, { unkToken: unk.text, continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 }, file),
    normalizer,
    preTokenizer: bertPreTokenizer,
    addedTokens,
    postProcessor: { before: [requireInVocab('cls_token')], after: [requireInVocab('sep_token')], trimOffsets: false },
    decoder: wordPieceDecoder('##', true),
  });
}

function readOptionalJsonObject(path: string): JsonObject | null {
  if (!existsSync(path)) return null;
  return requireObject(readJsonFile(path), path, 'the top level');
}

/** A special token in a config: a plain string, or an AddedToken object {"content": "[CLS]", …}. */
function tokenContent(v: unknown, file: string, where: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  throw new InputError(file, `${where} must be a string or {"content": …}, found ${describe(v)}`);
}
