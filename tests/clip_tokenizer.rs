//! The CLIP tokenizer against OpenAI's own: the golden ids in
//! `tests/fixtures/clip/tokenizer_golden.json` are the reference
//! `SimpleTokenizer().encode(text)` on the same vocabulary file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use clip_art::clip::openai::tokenizer::Tokenizer;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

const VOCAB: &str = "weights/clip/bpe_simple_vocab_16e6.txt.gz";

static TOKENIZER: LazyLock<Tokenizer> = LazyLock::new(|| {
    Tokenizer::from_file(&repo_path(VOCAB)).unwrap_or_else(|e| panic!("{e}"))
});

/// The golden cases: (text, reference ids).
fn golden_cases() -> Vec<(String, Vec<u32>)> {
    let path = repo_path("tests/fixtures/clip/tokenizer_golden.json");
    let json = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let golden: serde_json::Value =
        serde_json::from_str(&json).expect("the fixture is JSON");
    assert_eq!(golden["start"], Tokenizer::START);
    assert_eq!(golden["end"], Tokenizer::END);
    assert_eq!(golden["context_length"], Tokenizer::CONTEXT);
    let cases = golden["cases"].as_array().expect("cases is a list");
    cases
        .iter()
        .map(|case| {
            let text = case["text"].as_str().expect("text is a string").to_string();
            let ids = case["ids"].as_array().expect("ids is a list");
            let ids = ids
                .iter()
                .map(|id| id.as_u64().expect("ids are numbers") as u32);
            (text, ids.collect())
        })
        .collect()
}

#[test]
fn every_golden_case_matches_openai() {
    let cases = golden_cases();
    assert!(cases.len() >= 1000, "only {} golden cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(text, expected)| {
            let got = TOKENIZER.encode(text);
            (&got != expected).then(|| {
                format!("{text:?}\n  expected {expected:?}\n  got      {got:?}")
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ; the first ones:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(5)].join("\n")
    );
}

#[test]
fn tokenize_adds_start_and_end_and_pads_to_77() {
    let ids = TOKENIZER.encode("a photo of a cat");
    let tokens = TOKENIZER
        .tokenize("a photo of a cat", false)
        .expect("short text fits");
    assert_eq!(tokens.len(), Tokenizer::CONTEXT);
    assert_eq!(tokens[0], Tokenizer::START);
    assert_eq!(tokens[1..=ids.len()], ids[..]);
    assert_eq!(tokens[ids.len() + 1], Tokenizer::END);
    assert!(tokens[ids.len() + 2..].iter().all(|&t| t == 0));

    let empty = TOKENIZER.tokenize("", false).expect("empty text fits");
    assert_eq!(empty[..3], [Tokenizer::START, Tokenizer::END, 0]);
}

#[test]
fn over_long_text_is_an_error_unless_truncated() {
    let long = "a photo of a cat ".repeat(30);
    let ids = TOKENIZER.encode(&long);
    assert!(ids.len() + 2 > Tokenizer::CONTEXT);

    let error = TOKENIZER
        .tokenize(&long, false)
        .expect_err("too long")
        .to_string();
    assert!(error.contains("77"), "{error}");
    assert!(
        error.contains(&format!("{} tokens", ids.len() + 2)),
        "{error}"
    );
    assert!(error.contains("a photo of a cat"), "{error}");

    let batch = TOKENIZER
        .tokenize_batch(&["a cat", &long], true)
        .expect("truncation fits");
    let cut = &batch[1];
    assert_eq!(cut.len(), Tokenizer::CONTEXT);
    assert_eq!(cut[0], Tokenizer::START);
    assert_eq!(cut[1..76], ids[..75]);
    assert_eq!(cut[76], Tokenizer::END);
    assert!(TOKENIZER.tokenize_batch(&["a cat", &long], false).is_err());
}

#[test]
fn decode_inverts_encode_for_lower_case_ascii() {
    // Each word comes back followed by a space, its end-of-word mark.
    let text = "a photo of a cat trending on artstation";
    assert_eq!(
        TOKENIZER.decode(&TOKENIZER.encode(text)),
        format!("{text} ")
    );

    // With punctuation, pieces are split apart: compare without spaces.
    let plain = |b: u8| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b" ,.-!?'()".contains(&b)
    };
    let ascii_cases: Vec<String> = golden_cases()
        .into_iter()
        .map(|(text, _)| text)
        .filter(|text| text.bytes().all(plain))
        .collect();
    assert!(
        ascii_cases.len() >= 100,
        "only {} lower-case ASCII cases",
        ascii_cases.len()
    );
    for text in ascii_cases {
        let decoded = TOKENIZER.decode(&TOKENIZER.encode(&text));
        assert_eq!(decoded.replace(' ', ""), text.replace(' ', ""), "{text:?}");
    }
}

#[test]
fn hugging_face_merges_txt_gives_the_same_tokens() {
    let gz = std::fs::read(repo_path(VOCAB)).expect("vocabulary file");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("gzip text");
    // Hugging Face's merges.txt: a `#version` line, then the merges.
    let merges: Vec<&str> = text.lines().skip(1).take(48894).collect();
    let dir = tempfile::tempdir().expect("temporary folder");
    let merges_txt = dir.path().join("merges.txt");
    std::fs::write(
        &merges_txt,
        format!("#version: 0.2\n{}\n", merges.join("\n")),
    )
    .expect("write");

    let from_txt =
        Tokenizer::from_file(&merges_txt).unwrap_or_else(|e| panic!("{e}"));
    let from_bytes = Tokenizer::from_gz_bytes(&gz).unwrap_or_else(|e| panic!("{e}"));
    let text = "A photo of an astronaut riding a horse, 4k!";
    assert_eq!(from_txt.encode(text), TOKENIZER.encode(text));
    assert_eq!(from_bytes.encode(text), TOKENIZER.encode(text));
}

#[test]
fn missing_or_garbage_vocabulary_files_are_named_errors() {
    let message = |path: &Path| match Tokenizer::from_file(path) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(error) => error.to_string(),
    };
    let dir = tempfile::tempdir().expect("temporary folder");

    let missing = dir.path().join("missing.txt.gz");
    let error = message(&missing);
    assert!(
        error.contains("missing.txt.gz") && error.contains("cannot read"),
        "{error}"
    );

    let garbage_gz = dir.path().join("garbage.txt.gz");
    std::fs::write(&garbage_gz, "not gzip at all").expect("write");
    let error = message(&garbage_gz);
    assert!(
        error.contains("garbage.txt.gz") && error.contains("not valid gzip"),
        "{error}"
    );

    let garbage_txt = dir.path().join("garbage.txt");
    std::fs::write(&garbage_txt, "#version\na b\n").expect("write");
    let error = message(&garbage_txt);
    assert!(
        error.contains("garbage.txt") && error.contains("48894"),
        "{error}"
    );

    let binary_txt = dir.path().join("binary.txt");
    std::fs::write(&binary_txt, [0xff, 0xfe, 0x00]).expect("write");
    let error = message(&binary_txt);
    assert!(
        error.contains("binary.txt") && error.contains("not UTF-8"),
        "{error}"
    );
}
