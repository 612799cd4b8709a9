//! Chapter 1's command: one-hot tables.

use clip_art::basics::one_hot::{self, ALPHABET, LECTURE_VOCABULARY};

#[derive(clap::Args)]
pub struct OneHotArgs {
    /// Words (a table each, one row per character) or, with --tokens, words
    /// of the vocabulary (one table, a row each).
    #[arg(required = true)]
    pub words: Vec<String>,
    /// One row per word over the lecture's vocabulary (man, woman, …, monarch).
    #[arg(long)]
    pub tokens: bool,
}

pub fn one_hot(args: &OneHotArgs) -> anyhow::Result<()> {
    let words = &args.words;
    if args.tokens {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let table = one_hot::token_one_hot(&words, &LECTURE_VOCABULARY)?;
        let columns: Vec<String> = (1..=LECTURE_VOCABULARY.len())
            .map(|i| i.to_string())
            .collect();
        let rows: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        println!("{}", one_hot::format_table(&rows, &columns, &table));
    } else {
        // One table per word: a word is one argument, as "A B" (with its
        // space) is one word the alphabet cannot spell.
        let tables = words
            .iter()
            .map(|word| char_table(word))
            .collect::<anyhow::Result<Vec<_>>>()?;
        println!("{}", tables.join("\n"));
    }
    Ok(())
}

/// The one-hot table of a word, one row per character.
pub fn char_table(word: &str) -> anyhow::Result<String> {
    let table = one_hot::char_one_hot(word)?;
    let columns: Vec<String> = ALPHABET.iter().map(|c| c.to_string()).collect();
    let rows: Vec<String> = word.chars().map(|c| c.to_string()).collect();
    Ok(one_hot::format_table(&rows, &columns, &table))
}
