//! Chapter 1 — representing text as one-hot vectors.
//!
//! The lecture shows two encodings: one row per *character* over the alphabet A–Z
//! ("LUKAS" → a 5×26 table), and one row per *token* over a small vocabulary
//! (man, woman, … monarch → 9 dimensions). Both are written from scratch on
//! `ndarray`, then with candle tensor ops, and the candle version is checked
//! against `candle_nn::encoding::one_hot` in the tests.

use candle_core::{DType, Device, Tensor};
use ndarray::Array2;

/// The alphabet of the lecture's character table, in column order.
pub const ALPHABET: [char; 26] = [
    'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P',
    'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z',
];

/// The lecture's token vocabulary, in column order (1 … 9 on the slide).
pub const LECTURE_VOCABULARY: [&str; 9] = [
    "man", "woman", "boy", "girl", "prince", "princess", "queen", "king", "monarch",
];

/// Something that cannot be one-hot encoded, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OneHotError {
    #[error(
        "character {character:?} at position {position} is not in the alphabet A-Z"
    )]
    UnknownCharacter { character: char, position: usize },
    #[error(
        "token {token:?} at position {position} is not in the vocabulary {vocabulary:?}"
    )]
    UnknownToken {
        token: String,
        position: usize,
        vocabulary: Vec<String>,
    },
}

/// The column of each character of `word` in [`ALPHABET`].
///
/// Lower-case letters count as their capitals, as on the slide.
pub fn char_indices(word: &str) -> Result<Vec<usize>, OneHotError> {
    word.chars()
        .enumerate()
        .map(|(position, character)| {
            let upper = character.to_ascii_uppercase();
            ALPHABET.iter().position(|&letter| letter == upper).ok_or(
                OneHotError::UnknownCharacter {
                    character,
                    position,
                },
            )
        })
        .collect()
}

/// The column of each token in `vocabulary`.
pub fn token_indices(
    tokens: &[&str],
    vocabulary: &[&str],
) -> Result<Vec<usize>, OneHotError> {
    tokens
        .iter()
        .enumerate()
        .map(|(position, token)| {
            vocabulary
                .iter()
                .position(|word| word.eq_ignore_ascii_case(token))
                .ok_or_else(|| OneHotError::UnknownToken {
                    token: token.to_string(),
                    position,
                    vocabulary: vocabulary.iter().map(|w| w.to_string()).collect(),
                })
        })
        .collect()
}

// ANCHOR: one_hot_rows
/// One row per index, with a single 1 in column `index` and 0 everywhere else.
pub fn one_hot_rows(indices: &[usize], depth: usize) -> Array2<f32> {
    let mut table = Array2::zeros((indices.len(), depth));
    for (row, &index) in indices.iter().enumerate() {
        table[[row, index]] = 1.0;
    }
    table
}
// ANCHOR_END: one_hot_rows

// ANCHOR: char_one_hot
/// "LUKAS" → the lecture's 5×26 table: one row per character, one column per letter.
pub fn char_one_hot(word: &str) -> Result<Array2<f32>, OneHotError> {
    Ok(one_hot_rows(&char_indices(word)?, ALPHABET.len()))
}

/// ["king", "queen"] → a 2×9 table over the lecture's vocabulary (or any other).
pub fn token_one_hot(
    tokens: &[&str],
    vocabulary: &[&str],
) -> Result<Array2<f32>, OneHotError> {
    Ok(one_hot_rows(
        &token_indices(tokens, vocabulary)?,
        vocabulary.len(),
    ))
}
// ANCHOR_END: char_one_hot

// ANCHOR: one_hot_tensor
/// The same table with candle: compare a column of indices `[n, 1]` with a row
/// `0..depth` `[1, depth]`; broadcasting turns the comparison into the whole
/// table at once.
pub fn one_hot_tensor(
    indices: &[usize],
    depth: usize,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let indices: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
    let column = Tensor::new(indices.as_slice(), device)?.unsqueeze(1)?;
    let row = Tensor::arange(0u32, depth as u32, device)?.unsqueeze(0)?;
    column.broadcast_eq(&row)?.to_dtype(DType::F32) // [n, depth], 1.0 where equal
}
// ANCHOR_END: one_hot_tensor

/// [`char_one_hot`] as a candle tensor `[len, 26]`.
pub fn char_one_hot_tensor(word: &str, device: &Device) -> anyhow::Result<Tensor> {
    Ok(one_hot_tensor(
        &char_indices(word)?,
        ALPHABET.len(),
        device,
    )?)
}

/// [`token_one_hot`] as a candle tensor `[len, vocabulary.len()]`.
pub fn token_one_hot_tensor(
    tokens: &[&str],
    vocabulary: &[&str],
    device: &Device,
) -> anyhow::Result<Tensor> {
    Ok(one_hot_tensor(
        &token_indices(tokens, vocabulary)?,
        vocabulary.len(),
        device,
    )?)
}

/// A one-hot table printed like the slide: a header of column names, one line per row.
pub fn format_table(
    row_names: &[String],
    column_names: &[String],
    table: &Array2<f32>,
) -> String {
    let width = column_names
        .iter()
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(1)
        .max(1);
    let label_width = row_names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("{:label_width$}   ", "");
    for name in column_names {
        out.push_str(&format!(" {name:>width$}"));
    }
    for (name, row) in row_names.iter().zip(table.rows()) {
        out.push_str(&format!("\n{name:label_width$} → "));
        for value in row {
            out.push_str(&format!(" {value:>width$}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::encoding::one_hot;

    /// The lecture's slide, row by row: the column of the single 1.
    const LUKAS_SLIDE: [(char, usize); 5] =
        [('L', 11), ('U', 20), ('K', 10), ('A', 0), ('S', 18)];

    #[test]
    fn lukas_is_the_lecture_table() {
        let table = char_one_hot("LUKAS").unwrap();
        assert_eq!(table.dim(), (5, 26));
        for (row, (letter, column)) in LUKAS_SLIDE.iter().enumerate() {
            assert_eq!(ALPHABET[*column], *letter);
            for c in 0..26 {
                let expected = if c == *column { 1.0 } else { 0.0 };
                assert_eq!(table[[row, c]], expected, "row {row} column {c}");
            }
        }
    }

    #[test]
    fn vocabulary_is_the_identity_in_slide_order() {
        let table = token_one_hot(&LECTURE_VOCABULARY, &LECTURE_VOCABULARY).unwrap();
        assert_eq!(table, Array2::<f32>::eye(9));
        let king = token_one_hot(&["king"], &LECTURE_VOCABULARY).unwrap();
        assert_eq!(king.row(0).iter().position(|&v| v == 1.0), Some(7));
    }

    #[test]
    fn candle_versions_equal_candle_nn_one_hot() {
        let device = Device::Cpu;
        for word in ["LUKAS", "clip", "ZEBRA"] {
            let ours = char_one_hot_tensor(word, &device).unwrap();
            let indices: Vec<u32> = char_indices(word)
                .unwrap()
                .into_iter()
                .map(|i| i as u32)
                .collect();
            let reference =
                one_hot(Tensor::new(indices, &device).unwrap(), 26, 1f32, 0f32)
                    .unwrap();
            assert_eq!(
                ours.to_vec2::<f32>().unwrap(),
                reference.to_vec2::<f32>().unwrap()
            );
            // and the ndarray version agrees with both
            let scratch = char_one_hot(word).unwrap();
            let scratch: Vec<Vec<f32>> =
                scratch.rows().into_iter().map(|r| r.to_vec()).collect();
            assert_eq!(scratch, reference.to_vec2::<f32>().unwrap());
        }
        let tokens = ["queen", "man", "monarch"];
        let ours =
            token_one_hot_tensor(&tokens, &LECTURE_VOCABULARY, &device).unwrap();
        let reference =
            one_hot(Tensor::new(&[6u32, 0, 8], &device).unwrap(), 9, 1f32, 0f32)
                .unwrap();
        assert_eq!(
            ours.to_vec2::<f32>().unwrap(),
            reference.to_vec2::<f32>().unwrap()
        );
    }

    #[test]
    fn unknown_character_names_it_and_its_position() {
        let error = char_one_hot("LUK4S").unwrap_err();
        assert_eq!(
            error,
            OneHotError::UnknownCharacter {
                character: '4',
                position: 3
            }
        );
        assert_eq!(
            error.to_string(),
            "character '4' at position 3 is not in the alphabet A-Z"
        );
        assert!(char_one_hot_tensor("É", &Device::Cpu).is_err());
    }

    #[test]
    fn unknown_token_names_it_and_its_position() {
        let error =
            token_one_hot(&["king", "jester"], &LECTURE_VOCABULARY).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("\"jester\""), "{message}");
        assert!(message.contains("position 1"), "{message}");
    }

    #[test]
    fn lower_case_letters_are_their_capitals() {
        assert_eq!(
            char_one_hot("lukas").unwrap(),
            char_one_hot("LUKAS").unwrap()
        );
    }

    #[test]
    fn table_prints_like_the_slide() {
        let table = char_one_hot("AB").unwrap();
        let rows = vec!["A".to_string(), "B".to_string()];
        let columns: Vec<String> =
            ALPHABET[..26].iter().map(|c| c.to_string()).collect();
        let text = format_table(&rows, &columns, &table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("A →  1 0 0"), "{text}");
        assert!(lines[2].starts_with("B →  0 1 0"), "{text}");
    }
}
