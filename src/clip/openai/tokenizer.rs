//! OpenAI CLIP's byte-level BPE tokenizer, a port of `clip/simple_tokenizer.py`.
//!
//! Text becomes token ids in four steps:
//! 1. clean it as OpenAI does: ftfy's `fix_text`, HTML unescaping, whitespace
//!    collapsed, lower case ([`clean_text`]);
//! 2. cut it into pieces with a regex: words, single digits, runs of
//!    punctuation, English contractions;
//! 3. spell each piece as UTF-8 bytes, one vocabulary symbol per byte, the
//!    last one marked as the end of a word (`</w>`);
//! 4. merge adjacent symbols, the pair learnt earliest first, until no learnt
//!    pair is left: byte-pair encoding (BPE).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use regex::{Captures, Regex};
use unicode_normalization::UnicodeNormalization;

use crate::basics::preview;

/// How many merges OpenAI's vocabulary uses: 49408 tokens = 2 × 256 byte
/// symbols + these merges + the start and end tokens.
const MERGES: usize = 49152 - 256 - 2;

/// The end-of-word form of byte symbol `id` is `id + END_OF_WORD`.
const END_OF_WORD: u32 = 256;

// OpenAI's `SimpleTokenizer.pat`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/simple_tokenizer.py#L78
/// OpenAI's pattern for cutting clean text into pieces. It ran
/// case-insensitively, which matters only where Unicode case folding crosses
/// its classes: `'ſ` counts as `'s`, and U+0345 (a combining mark that folds to
/// `ι`) is in no branch, so it is dropped; the `(?i:...)` groups keep both.
static PIECE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i:<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d)|\p{L}+|\p{N}|(?i:[^\s\p{L}\p{N}])+",
    )
    .expect("the piece pattern is valid")
});

/// What can go wrong when loading the vocabulary or tokenizing.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The vocabulary file cannot be read (missing, unreadable).
    #[error("cannot read the CLIP vocabulary file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The vocabulary was expected to be gzip-compressed and is not.
    #[error("the CLIP vocabulary {origin} is not valid gzip data: {reason}")]
    NotGzip { origin: String, reason: String },
    /// The vocabulary is not UTF-8 text.
    #[error("the CLIP vocabulary {origin} is not UTF-8 text")]
    NotUtf8 { origin: String },
    /// The vocabulary has fewer merges than CLIP's 48894.
    #[error(
        "the CLIP vocabulary {origin} has {found} merges lines after its first line; CLIP needs {needed}"
    )]
    TooFewMerges {
        origin: String,
        found: usize,
        needed: usize,
    },
    /// A merges line is not two symbols of the byte alphabet.
    #[error(
        "the CLIP vocabulary {origin}, line {line}: expected two byte-level BPE symbols, found {text:?}"
    )]
    BadMerge {
        origin: String,
        line: usize,
        text: String,
    },
    /// The text needs more tokens than CLIP's context holds.
    #[error(
        "the text {text} is {tokens} tokens long (start and end included), more than CLIP's context length {limit}; tokenize with truncation to cut it"
    )]
    TooLong {
        text: String,
        tokens: usize,
        limit: usize,
    },
}

/// A learnt merge: its rank (lower merges first) and the token it makes.
#[derive(Clone, Copy)]
struct Merge {
    rank: usize,
    merged: u32,
}

// OpenAI's `SimpleTokenizer`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/simple_tokenizer.py#L62-L132
/// OpenAI CLIP's tokenizer: text → token ids (and back).
pub struct Tokenizer {
    /// The id of each byte's one-symbol token.
    byte_ids: [u32; 256],
    /// The learnt merges, keyed by the pair of token ids they join.
    merges: HashMap<(u32, u32), Merge>,
    /// The bytes each token id stands for, `</w>` spelled out, for decoding.
    token_bytes: Vec<Vec<u8>>,
    /// Pieces already encoded: the same words come back again and again.
    cache: Mutex<HashMap<String, Vec<u32>>>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokenizer({} tokens)", self.token_bytes.len())
    }
}

impl Tokenizer {
    /// The id of `<|startoftext|>`.
    pub const START: u32 = 49406;
    /// The id of `<|endoftext|>`.
    pub const END: u32 = 49407;
    /// How many tokens the text encoder reads: start, text, end, zeros.
    pub const CONTEXT: usize = 77;
    /// How many tokens the vocabulary has.
    pub const VOCAB_SIZE: usize = 49408;

    /// Loads OpenAI's `bpe_simple_vocab_16e6.txt.gz`. A path that does not end
    /// in `.gz` is read as plain text, such as Hugging Face's `merges.txt`.
    pub fn from_file(path: &Path) -> Result<Self, TokenizerError> {
        let bytes = std::fs::read(path).map_err(|source| TokenizerError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = format!("file {}", path.display());
        let text = if path.extension().is_some_and(|ext| ext == "gz") {
            gunzip(&bytes, &origin)?
        } else {
            String::from_utf8(bytes).map_err(|_| TokenizerError::NotUtf8 {
                origin: origin.clone(),
            })?
        };
        Self::from_merges_text(&text, &origin)
    }

    /// Loads the vocabulary from the bytes of `bpe_simple_vocab_16e6.txt.gz`.
    pub fn from_gz_bytes(bytes: &[u8]) -> Result<Self, TokenizerError> {
        let origin = "given as gzip bytes";
        Self::from_merges_text(&gunzip(bytes, origin)?, origin)
    }

    /// Builds the vocabulary from the merges text: a first line that is
    /// skipped, then one merge `left right` a line, the first 48894 used.
    fn from_merges_text(text: &str, origin: &str) -> Result<Self, TokenizerError> {
        let byte_symbols = byte_symbols();
        let byte_of: HashMap<char, u8> =
            byte_symbols.iter().map(|&(b, c)| (c, b)).collect();
        let bad_merge = |index: usize, line: &str| TokenizerError::BadMerge {
            origin: origin.to_string(),
            line: index + 2,
            text: line.to_string(),
        };

        let lines: Vec<&str> = text.split('\n').skip(1).take(MERGES).collect();
        if lines.len() < MERGES {
            return Err(TokenizerError::TooFewMerges {
                origin: origin.to_string(),
                found: lines.len(),
                needed: MERGES,
            });
        }
        let in_alphabet =
            |symbol: &str| symbol.chars().all(|c| byte_of.contains_key(&c));
        let mut pairs = Vec::with_capacity(MERGES);
        for (index, line) in lines.iter().enumerate() {
            let symbols: Vec<&str> = line.split_whitespace().collect();
            match symbols[..] {
                [left, right] if in_alphabet(left) && in_alphabet(right) => {
                    pairs.push((left, right))
                }
                _ => return Err(bad_merge(index, line)),
            }
        }

        // OpenAI's order: byte symbols, their end-of-word forms, one token per
        // merge, then the start and end tokens.
        let mut vocab: Vec<String> =
            byte_symbols.iter().map(|(_, c)| c.to_string()).collect();
        vocab.extend(byte_symbols.iter().map(|(_, c)| format!("{c}</w>")));
        vocab.extend(pairs.iter().map(|(left, right)| format!("{left}{right}")));
        vocab.extend(["<|startoftext|>".to_string(), "<|endoftext|>".to_string()]);

        // Two merges may spell the same token; like Python's dict, the later wins.
        let ids: HashMap<&str, u32> = (0u32..)
            .zip(&vocab)
            .map(|(id, token)| (token.as_str(), id))
            .collect();
        let mut merges = HashMap::with_capacity(MERGES);
        for (rank, (left, right)) in pairs.iter().enumerate() {
            let merged = format!("{left}{right}");
            // A symbol that is no token can never be met, nor its merge.
            if let (Some(&l), Some(&r), Some(&merged)) =
                (ids.get(left), ids.get(right), ids.get(merged.as_str()))
            {
                merges.insert((l, r), Merge { rank, merged });
            }
        }

        let mut byte_ids = [0; 256];
        for (id, &(byte, _)) in (0u32..).zip(&byte_symbols) {
            byte_ids[byte as usize] = id;
        }
        // Every character of `vocab` is a byte symbol: `<`, `/`, `w`, `>` and
        // the ASCII of the start and end tokens stand for themselves.
        let token_bytes = vocab
            .iter()
            .map(|token| {
                token
                    .chars()
                    .filter_map(|c| byte_of.get(&c).copied())
                    .collect()
            })
            .collect();
        Ok(Self {
            byte_ids,
            merges,
            token_bytes,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The BPE token ids of `text`, without start and end tokens
    /// (OpenAI's `SimpleTokenizer.encode`).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let text = clean_text(text);
        PIECE
            .find_iter(&text)
            .flat_map(|piece| self.encode_piece(piece.as_str()))
            .collect()
    }

    /// The ids of one piece, from the cache when it has been seen before.
    fn encode_piece(&self, piece: &str) -> Vec<u32> {
        match piece {
            "<|startoftext|>" => return vec![Self::START],
            "<|endoftext|>" => return vec![Self::END],
            _ => {}
        }
        // A poisoned lock only costs the cache.
        if let Some(ids) = self
            .cache
            .lock()
            .ok()
            .and_then(|cache| cache.get(piece).cloned())
        {
            return ids;
        }
        let ids = self.bpe(piece);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(piece.to_string(), ids.clone());
        }
        ids
    }

    // OpenAI's `SimpleTokenizer.bpe`:
    // https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/simple_tokenizer.py#L80-L119
    /// Byte-pair encoding of one piece: start from its bytes, the last marked
    /// as the end of a word, and merge the lowest-ranked adjacent pair (every
    /// occurrence, left to right) until no pair has a merge.
    fn bpe(&self, piece: &str) -> Vec<u32> {
        let mut word: Vec<u32> =
            piece.bytes().map(|b| self.byte_ids[b as usize]).collect();
        if let Some(last) = word.last_mut() {
            *last += END_OF_WORD;
        }
        loop {
            let best = word
                .windows(2)
                .filter_map(|pair| {
                    let merge = self.merges.get(&(pair[0], pair[1]))?;
                    Some((merge.rank, pair[0], pair[1], merge.merged))
                })
                .min_by_key(|&(rank, ..)| rank);
            let Some((_, left, right, merged)) = best else {
                return word;
            };
            let mut merged_word = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == left && word[i + 1] == right {
                    merged_word.push(merged);
                    i += 2;
                } else {
                    merged_word.push(word[i]);
                    i += 1;
                }
            }
            word = merged_word;
        }
    }

    /// The text of token ids: a space after each end of word, unknown ids
    /// skipped, invalid UTF-8 replaced by `�` (OpenAI's `decode`).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .filter_map(|&id| self.token_bytes.get(id as usize))
            .flatten()
            .copied()
            .collect();
        String::from_utf8_lossy(&bytes).replace("</w>", " ")
    }

    // OpenAI's `clip.tokenize`:
    // https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/clip.py#L205-L245
    /// The text encoder's input: `[START, ids…, END]` padded with zeros to
    /// [`Self::CONTEXT`] tokens (OpenAI's `clip.tokenize`). A text too long
    /// for it is an error, unless `truncate`: then it is cut and ends with END.
    pub fn tokenize(
        &self,
        text: &str,
        truncate: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let mut tokens = vec![Self::START];
        tokens.extend(self.encode(text));
        tokens.push(Self::END);
        if tokens.len() > Self::CONTEXT {
            if !truncate {
                return Err(TokenizerError::TooLong {
                    text: preview(text),
                    tokens: tokens.len(),
                    limit: Self::CONTEXT,
                });
            }
            tokens.truncate(Self::CONTEXT);
            if let Some(last) = tokens.last_mut() {
                *last = Self::END;
            }
        }
        tokens.resize(Self::CONTEXT, 0);
        Ok(tokens)
    }

    /// [`Self::tokenize`] for each text.
    pub fn tokenize_batch(
        &self,
        texts: &[&str],
        truncate: bool,
    ) -> Result<Vec<Vec<u32>>, TokenizerError> {
        texts
            .iter()
            .map(|text| self.tokenize(text, truncate))
            .collect()
    }
}

/// Decompresses gzip data into text.
fn gunzip(bytes: &[u8], origin: &str) -> Result<String, TokenizerError> {
    let not_gzip = |reason: String| TokenizerError::NotGzip {
        origin: origin.to_string(),
        reason,
    };
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(not_gzip(
            "it does not start with the gzip magic bytes".to_string(),
        ));
    }
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut text)
        .map_err(|e| not_gzip(e.to_string()))?;
    String::from_utf8(text).map_err(|_| TokenizerError::NotUtf8 {
        origin: origin.to_string(),
    })
}

// OpenAI's `bytes_to_unicode`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/simple_tokenizer.py#L16-L35
/// Byte-level BPE works on printable symbols, one per byte: the bytes that are
/// printable Latin-1 stand for themselves, the other 68 (space and controls
/// among them) for U+0100, U+0101, …. Listed in vocabulary order.
fn byte_symbols() -> Vec<(u8, char)> {
    let printable = |b: &u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut symbols: Vec<(u8, char)> = (0..=255u8)
        .filter(printable)
        .map(|b| (b, char::from(b)))
        .collect();
    symbols.extend((0..=255u8).filter(|b| !printable(b)).zip('\u{100}'..));
    symbols
}

// OpenAI's `basic_clean` and `whitespace_clean`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/simple_tokenizer.py#L50-L59
/// The text as OpenAI's tokenizer sees it: ftfy's `fix_text` (as far as it is
/// deterministic, see `fix_text` here), HTML entities decoded
/// twice, whitespace runs made one space, trimmed, lower case.
pub fn clean_text(text: &str) -> String {
    static WHITESPACE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\s+").expect("the whitespace pattern is valid")
    });
    let text = html_unescape(&html_unescape(&fix_text(text)));
    WHITESPACE
        .replace_all(text.trim(), " ")
        .trim()
        .to_lowercase()
}

/// ftfy's `fix_text` (ftfy 6, default settings) without its mojibake repair,
/// which guesses from heuristics (`fix_encoding`: "Ã©" → "é"). Line by line,
/// until nothing changes, it:
/// - decodes HTML entities such as `&amp;`, but from the first line with a `<`
///   on no longer, as that looks like real HTML;
/// - reads C1 controls as Windows-1252 (`\u{93}` → `“`);
/// - splits Latin ligatures (`ﬁ` → `fi`), makes full-width characters normal
///   width (`Ａ` → `A`, ideographic space → space);
/// - straightens curly quotes (`‘’` → `'`, `“”` → `"`);
/// - makes every line break `\n`, removes terminal escapes and control
///   characters (not tab, line feed, form feed);
/// - normalises to NFC.
///
/// ftfy's surrogate repair has nothing to do in Rust strings, and its cutting
/// of lines longer than a million characters is left out.
fn fix_text(text: &str) -> String {
    let mut unescape = true;
    text.split_inclusive('\n')
        .map(|line| {
            unescape &= !line.contains('<');
            fix_line(line, unescape)
        })
        .collect()
}

/// One line of [`fix_text`].
fn fix_line(line: &str, unescape: bool) -> String {
    static TERMINAL_ESCAPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\x1b\[(?:\d|;)*[a-zA-Z]")
            .expect("the terminal escape pattern is valid")
    });
    let mut text = line.to_string();
    loop {
        let mut fixed = if unescape {
            ftfy_unescape_html(&text)
        } else {
            text.clone()
        };
        fixed = map_chars(&fixed, |c, out| match c {
            '\u{80}'..='\u{9f}' => out.push(windows_1252(c as u32)),
            _ => out.push(c),
        });
        fixed = map_chars(&fixed, |c, out| match latin_ligature(c) {
            Some(letters) => out.push_str(letters),
            None => out.push(c),
        });
        fixed = map_chars(&fixed, |c, out| match c {
            '\u{3000}' => out.push(' '),
            '\u{ff01}'..='\u{ffef}' => out.extend(std::iter::once(c).nfkc()),
            _ => out.push(c),
        });
        fixed = map_chars(&fixed, |c, out| match c {
            '\u{2bc}' | '\u{2018}'..='\u{201b}' => out.push('\''),
            '\u{201c}'..='\u{201f}' => out.push('"'),
            _ => out.push(c),
        });
        fixed = fixed
            .replace("\r\n", "\n")
            .replace(['\r', '\u{2028}', '\u{2029}'], "\n"); // U+0085 is already `…`
        fixed = TERMINAL_ESCAPE.replace_all(&fixed, "").into_owned();
        fixed.retain(|c| {
            !matches!(c, '\0'..='\u{8}' | '\u{b}' | '\u{e}'..='\u{1f}' | '\u{7f}'
                | '\u{206a}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffc}')
        });
        fixed = fixed.nfc().collect();
        if fixed == text {
            return text;
        }
        text = fixed;
    }
}

/// Rewrites `text` one character at a time.
fn map_chars(text: &str, rewrite: impl Fn(char, &mut String)) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        rewrite(c, &mut out);
    }
    out
}

/// The Windows-1252 character of byte 0x80..=0x9F; its five unused bytes stay
/// the Latin-1 control they are.
fn windows_1252(byte: u32) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ',
        '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜',
        '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
    ];
    HIGH[(byte - 0x80) as usize]
}

/// ftfy's Latin ligatures and legacy digraphs, split into letters.
fn latin_ligature(c: char) -> Option<&'static str> {
    Some(match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return None,
    })
}

/// ftfy's entity decoding: only complete references `&name;` and `&#number;`,
/// plus entities upper-cased by mistake (`&EACUTE;` → `É`) when the capitals
/// mean nothing else.
fn ftfy_unescape_html(text: &str) -> String {
    static ENTITY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"&#?[0-9A-Za-z]{1,24};").expect("the entity pattern is valid")
    });
    ENTITY
        .replace_all(text, |caps: &Captures| {
            let entity = &caps[0];
            let name = &entity[1..entity.len() - 1];
            if let Some(value) = named_entity(name) {
                return value;
            }
            let by_python = html_unescape(entity);
            if entity.starts_with("&#") {
                return if by_python.contains(';') {
                    entity.to_string()
                } else {
                    by_python
                };
            }
            let lower = name.to_ascii_lowercase();
            let capitals_only = !name.bytes().any(|b| b.is_ascii_lowercase());
            match named_entity(&lower) {
                Some(value) if capitals_only && by_python == entity => {
                    value.to_uppercase()
                }
                _ => entity.to_string(),
            }
        })
        .into_owned()
}

/// Python's `html.unescape`: HTML5 character references, decoded as browsers
/// do, even without their `;`.
fn html_unescape(text: &str) -> String {
    static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0c <&#;]{1,32};?)")
            .expect("the character reference pattern is valid")
    });
    REFERENCE
        .replace_all(text, |caps: &Captures| {
            let reference = &caps[1];
            match reference.strip_prefix('#') {
                Some(number) => numeric_reference(number.trim_end_matches(';')),
                None => named_reference(reference),
            }
        })
        .into_owned()
}

/// A numeric reference (`65`, `x41`) as Python decodes it.
fn numeric_reference(number: &str) -> String {
    let parsed = match number.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => number.parse(),
    };
    // Too many digits for u32 is too large for Unicode too.
    let code = parsed.unwrap_or(u32::MAX);
    match code {
        0 => "\u{fffd}".to_string(),
        0x0d => "\r".to_string(),
        0x80..=0x9f => windows_1252(code).to_string(),
        0xd800..=0xdfff | 0x110000.. => "\u{fffd}".to_string(),
        // Controls and noncharacters are dropped.
        0x1..=0x8 | 0xb | 0xe..=0x1f | 0x7f | 0xfdd0..=0xfdef => String::new(),
        _ if code & 0xfffe == 0xfffe => String::new(),
        _ => char::from_u32(code).unwrap_or('\u{fffd}').to_string(),
    }
}

/// A named reference: the whole name (`amp;`), or else the longest legacy
/// name it starts with (`&notit` → `¬it`).
fn named_reference(reference: &str) -> String {
    if let Some(value) = reference.strip_suffix(';').and_then(named_entity) {
        return value;
    }
    let ends = (2..=reference.len())
        .rev()
        .filter(|&end| reference.is_char_boundary(end));
    for end in ends {
        let name = &reference[..end];
        if LEGACY_ENTITIES.contains(&name) {
            if let Some(value) = named_entity(name) {
                return value + &reference[end..];
            }
        }
    }
    format!("&{reference}")
}

/// The value of HTML5 entity `name` (without `&` and `;`).
fn named_entity(name: &str) -> Option<String> {
    let table = &html_escape::NAMED_ENTITIES;
    let index = table
        .binary_search_by(|(key, _)| (*key).cmp(name.as_bytes()))
        .ok()?;
    let mut value = table[index].1.to_string();
    // html-escape keeps only the first code point of the 93 entities that
    // have two; this adds the second.
    for (second, names) in TWO_CODE_POINT_ENTITIES {
        if names.split(' ').any(|n| n == name) {
            value.push(second);
        }
    }
    Some(value)
}

/// The entities whose value is two code points, grouped by the second one.
const TWO_CODE_POINT_ENTITIES: [(char, &str); 8] = [
    (
        '\u{338}',
        "napE napid nbump nbumpe ncongdot nedot nesim ngE ngeqq ngeqslant nges nGg nGtv nlE nleqq nleqslant nles nLl nLtv NotEqualTilde NotGreaterFullEqual NotGreaterGreater NotGreaterSlantEqual NotHumpDownHump NotHumpEqual notindot notinE NotLeftTriangleBar NotLessLess NotLessSlantEqual NotNestedGreaterGreater NotNestedLessLess NotPrecedesEqual NotRightTriangleBar NotSquareSubset NotSquareSuperset NotSucceedsEqual NotSucceedsTilde npart npre npreceq nrarrc nrarrw nsce nsubE nsubseteqq nsucceq nsupE nsupseteqq",
    ),
    (
        '\u{20d2}',
        "nang nGt nLt NotSubset NotSuperset nsubset nsupset nvap nvge nvgt nvle nvlt nvltrie nvrtrie nvsim vnsub vnsup",
    ),
    (
        '\u{fe00}',
        "caps cups gesl gvertneqq gvnE lates lesg lvertneqq lvnE smtes sqcaps sqcups varsubsetneq varsubsetneqq varsupsetneq varsupsetneqq vsubnE vsubne vsupnE vsupne",
    ),
    ('\u{20e5}', "bne bnequiv nparsl"),
    ('\u{333}', "acE"),
    ('\u{331}', "race"),
    ('\u{200a}', "ThickSpace"),
    ('j', "fjlig"),
];

/// The entities HTML5 also reads without their `;`.
const LEGACY_ENTITIES: [&str; 106] = [
    "AElig", "AMP", "Aacute", "Acirc", "Agrave", "Aring", "Atilde", "Auml", "COPY",
    "Ccedil", "ETH", "Eacute", "Ecirc", "Egrave", "Euml", "GT", "Iacute", "Icirc",
    "Igrave", "Iuml", "LT", "Ntilde", "Oacute", "Ocirc", "Ograve", "Oslash",
    "Otilde", "Ouml", "QUOT", "REG", "THORN", "Uacute", "Ucirc", "Ugrave", "Uuml",
    "Yacute", "aacute", "acirc", "acute", "aelig", "agrave", "amp", "aring",
    "atilde", "auml", "brvbar", "ccedil", "cedil", "cent", "copy", "curren", "deg",
    "divide", "eacute", "ecirc", "egrave", "eth", "euml", "frac12", "frac14",
    "frac34", "gt", "iacute", "icirc", "iexcl", "igrave", "iquest", "iuml", "laquo",
    "lt", "macr", "micro", "middot", "nbsp", "not", "ntilde", "oacute", "ocirc",
    "ograve", "ordf", "ordm", "oslash", "otilde", "ouml", "para", "plusmn", "pound",
    "quot", "raquo", "reg", "sect", "shy", "sup1", "sup2", "sup3", "szlig", "thorn",
    "times", "uacute", "ucirc", "ugrave", "uml", "uuml", "yacute", "yen", "yuml",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A full-size merges text: `toy` first, then merges of NUL bytes, which
    /// no cleaned text has.
    fn merges_text(toy: &[&str]) -> String {
        let filler = std::iter::repeat_n("Ā Ā", MERGES - toy.len());
        std::iter::once("#version: toy")
            .chain(toy.iter().copied())
            .chain(filler)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn toy_tokenizer(toy: &[&str]) -> Tokenizer {
        Tokenizer::from_merges_text(&merges_text(toy), "toy")
            .expect("toy merges load")
    }

    #[test]
    fn byte_symbols_are_a_bijection_of_256() {
        let symbols = byte_symbols();
        assert_eq!(symbols.len(), 256);
        let bytes: std::collections::HashSet<u8> =
            symbols.iter().map(|&(b, _)| b).collect();
        let chars: std::collections::HashSet<char> =
            symbols.iter().map(|&(_, c)| c).collect();
        assert_eq!((bytes.len(), chars.len()), (256, 256));
        // Printable bytes first and as themselves; then NUL → Ā, space → Ġ.
        assert_eq!(symbols[0], (b'!', '!'));
        assert!(symbols.contains(&(b'a', 'a')) && symbols.contains(&(0xE9, 'é')));
        assert_eq!(symbols[188], (0, 'Ā'));
        assert!(symbols.contains(&(b' ', 'Ġ')));
        assert_eq!(symbols[255], (0xAD, 'Ń'));
    }

    #[test]
    fn bpe_merges_the_lowest_rank_first() {
        // lower: l o w e r</w> → l o w er</w> → lo w er</w> → low er</w>.
        let tokenizer = toy_tokenizer(&["e r</w>", "l o", "lo w", "a a"]);
        let merge_id = |rank: u32| 512 + rank;
        assert_eq!(tokenizer.encode("lower"), [merge_id(2), merge_id(0)]);
        // Every occurrence, left to right: a a a a b</w> → aa aa b</w>.
        let b_end = tokenizer.byte_ids[b'b' as usize] + END_OF_WORD;
        assert_eq!(tokenizer.encode("aaaab"), [merge_id(3), merge_id(3), b_end]);
        // One byte is its end-of-word symbol; é is two bytes.
        assert_eq!(
            tokenizer.encode("x"),
            [tokenizer.byte_ids[b'x' as usize] + END_OF_WORD]
        );
        assert_eq!(tokenizer.encode("é").len(), 2);
        assert_eq!(tokenizer.decode(&tokenizer.encode("lower é")), "lower é ");
    }

    #[test]
    fn special_tokens_and_empty_text() {
        let tokenizer = toy_tokenizer(&[]);
        assert_eq!(format!("{tokenizer:?}"), "Tokenizer(49408 tokens)");
        assert_eq!(tokenizer.token_bytes.len(), Tokenizer::VOCAB_SIZE);
        assert_eq!(
            tokenizer.encode("<|startoftext|><|endoftext|>"),
            [Tokenizer::START, Tokenizer::END]
        );
        assert_eq!(tokenizer.encode(""), Vec::<u32>::new());
        let tokens = tokenizer.tokenize("  ", false).expect("empty text fits");
        assert_eq!(tokens.len(), Tokenizer::CONTEXT);
        assert_eq!(tokens[..3], [Tokenizer::START, Tokenizer::END, 0]);
        assert_eq!(
            tokenizer.decode(&[Tokenizer::START, 99_999]),
            "<|startoftext|>"
        );
    }

    #[test]
    fn pieces_follow_openai_pattern() {
        let pieces: Vec<&str> = PIECE
            .find_iter("don't stop 123 <|endoftext|>!! 'ſ a\u{345}b")
            .map(|m| m.as_str())
            .collect();
        assert_eq!(
            pieces,
            [
                "don",
                "'t",
                "stop",
                "1",
                "2",
                "3",
                "<|endoftext|>",
                "!!",
                "'ſ",
                "a",
                "b"
            ]
        );
    }

    #[test]
    fn fix_text_matches_ftfy() {
        let cases = [
            ("ﬁsh ﬂoat", "fish float"),
            ("ＬＯＵＤ\u{3000}ＮＯＩＳＥＳ", "LOUD NOISES"),
            ("‘single’ “double” ʼ", "'single' \"double\" '"),
            ("\u{93}quoted\u{94} \u{85}", "\"quoted\" …"),
            ("cafe\u{301}", "café"),
            ("\u{1b}[31mred\u{1b}[0m\u{7}", "red"),
            ("&amp;amp;lt;", "<"),
            ("<b>&lsquo;hi&rsquo;</b>", "<b>&lsquo;hi&rsquo;</b>"),
            (
                "line &lsquo;\n<i>&lsquo;</i>\n&lsquo;",
                "line '\n<i>&lsquo;</i>\n&lsquo;",
            ),
            ("&EACUTE;t&NTILDE;", "ÉtÑ"),
            ("a\r\nb\rc\u{2028}d", "a\nb\nc\nd"),
            (
                "zero\u{200b}width \u{feff}bom \u{fffc}",
                "zero\u{200b}width bom ",
            ),
            ("ﬅ ŉ", "ſt 'n"),
            ("&#x2019;s &#8217;", "'s '"),
        ];
        for (text, fixed) in cases {
            assert_eq!(fix_text(text), fixed, "fix_text({text:?})");
        }
    }

    #[test]
    fn clean_text_matches_openai() {
        let cases = [
            (
                "&notit; &amp &#65&#x42; &#0; &#128; &#99999999999; &#xD800; &#1; &fjlig; &bogus; &Amp;",
                "¬it; & ab \u{fffd} € \u{fffd} \u{fffd} fj &bogus; &amp;",
            ),
            ("  A&amp;amp;B \n\t C  ", "a&b c"),
            ("<b>&lsquo;hi&rsquo;</b>", "<b>‘hi’</b>"),
            ("ΣΑΣ ΑΣ.", "σας ας."),
            ("&FRAC12; &LTIMES; &ltimes;", "½ <imes; ⋉"),
        ];
        for (text, clean) in cases {
            assert_eq!(clean_text(text), clean, "clean_text({text:?})");
        }
    }

    #[test]
    fn bad_vocabularies_are_named_errors() {
        let message = |result: Result<Tokenizer, TokenizerError>| match result {
            Ok(_) => panic!("a bad vocabulary loaded"),
            Err(error) => error.to_string(),
        };
        assert!(
            message(Tokenizer::from_gz_bytes(b"plain text"))
                .contains("not valid gzip")
        );
        let short = Tokenizer::from_merges_text("#version\na b\nc d", "short.txt");
        assert!(message(short).contains(
            "short.txt has 2 merges lines after its first line; CLIP needs 48894"
        ));
        let bad = message(Tokenizer::from_merges_text(
            &merges_text(&["a b c"]),
            "bad.txt",
        ));
        assert!(bad.contains("bad.txt, line 2"), "{bad}");
        // € is three bytes, so no byte symbol.
        let outside = message(Tokenizer::from_merges_text(
            &merges_text(&["b €"]),
            "outside.txt",
        ));
        assert!(outside.contains("outside.txt, line 2"), "{outside}");
        let missing =
            message(Tokenizer::from_file(Path::new("no/such/vocab.txt.gz")));
        assert!(missing.contains("no/such/vocab.txt.gz"), "{missing}");
    }

    #[test]
    fn over_long_text_is_an_error_unless_truncated() {
        let tokenizer = toy_tokenizer(&[]);
        let long = "a ".repeat(100);
        let message = tokenizer
            .tokenize(&long, false)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("102 tokens") && message.contains("77"),
            "{message}"
        );
        let cut = tokenizer
            .tokenize_batch(&[&long, "b"], true)
            .expect("truncation never fails");
        assert_eq!(cut[0].len(), Tokenizer::CONTEXT);
        assert_eq!(cut[0].last(), Some(&Tokenizer::END));
        assert_eq!(
            cut[1][..3],
            [
                Tokenizer::START,
                tokenizer.byte_ids[b'b' as usize] + END_OF_WORD,
                Tokenizer::END
            ]
        );
    }
}
