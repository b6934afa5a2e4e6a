/* qrt_tokenizer_format.h - QTOK, the tokenizer section qopt writes for a
 * Hugging Face tokenizer.json (lib/Support/HfTokenizerJson.cpp) and the
 * runtime reads (runtime/tokenizer/qtok_vocab.c). A llama2.c tokenizer.bin
 * is carried as it is; the first four bytes tell the two apart.
 *
 * All integers little-endian u32 unless said; a "string" is u32 length +
 * bytes (no NUL).
 *   "QTOK", version (QTOK_VERSION), flags (QTOK_FLAG_*)
 *   i32 unk, i32 bos (-1: none), add_bos (0/1), n_eos (<= QTOK_MAX_EOS), i32 eos[n_eos]
 *   vocab; string piece[vocab]          (ids 0..vocab-1, as tokenizer.json's model.vocab)
 *   n_merges; { i32 left, i32 right }   (rank = index; merged = the joined piece's id)
 *   n_added;  { i32 id, flags (QTOK_ADDED_*), string content }
 *   n_norm;   { op (QTOK_NORM_*), arg, string a, string b }
 *   n_pre;    { op (QTOK_PRE_*), arg, string a, string b }
 *   string chat_template                (tokenizer_config.json's; may be empty)
 */
#ifndef QRT_TOKENIZER_FORMAT_H
#define QRT_TOKENIZER_FORMAT_H

#define QTOK_MAGIC "QTOK"
#define QTOK_VERSION 1u
#define QTOK_MAX_EOS 16u

/* model flags */
#define QTOK_FLAG_BYTE_FALLBACK 1u  /* unknown characters become <0xXX> tokens */
#define QTOK_FLAG_IGNORE_MERGES 2u  /* a word that is a token is taken whole */
#define QTOK_FLAG_FUSE_UNK 4u       /* consecutive unknowns are one <unk> */
#define QTOK_FLAG_BYTE_LEVEL 8u     /* decoder: GPT-2's byte<->unicode map */
#define QTOK_FLAG_METASPACE 16u     /* decoder: U+2581 is a space, <0xXX> a byte */
#define QTOK_FLAG_STRIP_FIRST 32u   /* decoder: drop the space that starts the text */
#define QTOK_FLAG_SPM_MERGE 64u     /* SentencePiece's merge: unknown characters join
                                       neighbours, byte fallback after (hf_encode.c) */

/* added tokens */
#define QTOK_ADDED_SPECIAL 1u
#define QTOK_ADDED_LSTRIP 2u
#define QTOK_ADDED_RSTRIP 4u
#define QTOK_ADDED_NORMALIZED 8u
#define QTOK_ADDED_SINGLE_WORD 16u

/* normalizer steps, applied in order to each run of text between added tokens */
#define QTOK_NORM_PREPEND 1u /* a before a non-empty text */
#define QTOK_NORM_REPLACE 2u /* every a by b (a literal string) */
#define QTOK_NORM_UNICODE 3u /* arg: QTOK_UNICODE_* (utf8proc; invalid UTF-8 is kept) */

#define QTOK_UNICODE_NFC 0u
#define QTOK_UNICODE_NFD 1u
#define QTOK_UNICODE_NFKC 2u
#define QTOK_UNICODE_NFKD 3u

/* pre-tokenizer steps: each splits every piece further */
#define QTOK_PRE_SPLIT 1u      /* a: PCRE2 pattern; arg: QTOK_SPLIT_* */
#define QTOK_PRE_BYTE_LEVEL 2u /* arg: bit0 add_prefix_space, bit1 use GPT-2's regex */
#define QTOK_PRE_METASPACE 3u  /* a: replacement; arg: QTOK_PREPEND_* | split << 8 */

#define QTOK_SPLIT_ISOLATED 0u /* each match is a piece, and so is the text between */
#define QTOK_SPLIT_REMOVED 1u  /* matches are dropped */

#define QTOK_PREPEND_ALWAYS 0u
#define QTOK_PREPEND_FIRST 1u /* only the text's first piece */
#define QTOK_PREPEND_NEVER 2u

/* GPT-2's pre-tokenizer regex (Hugging Face's ByteLevel with use_regex) */
#define QTOK_GPT2_PATTERN \
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

#endif
