//! Exercise (chapter 1): character one-hot encoding.
//!
//! Turn a word into a table with one row per character and one column per letter A–Z:
//! a 1 in the column of the row's letter, 0 everywhere else. "LUKAS" must give the
//! lecture's 5×26 table. Lower-case letters count as their capitals. Any other
//! character is an error whose message names the character and its position, e.g.
//! "character '2' at position 1 is not in the alphabet A-Z".
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/char_one_hot.rs).

use ndarray::Array2;

pub fn char_one_hot(word: &str) -> Result<Array2<f32>, String> {
    // TODO: one row per character of `word`, 26 columns, a single 1.0 per row.
    todo!("one-hot encode {word:?}")
}
