//! Solution (chapter 1): character one-hot encoding.

use ndarray::Array2;

pub fn char_one_hot(word: &str) -> Result<Array2<f32>, String> {
    let mut table = Array2::zeros((word.chars().count(), 26));
    for (position, character) in word.chars().enumerate() {
        let upper = character.to_ascii_uppercase();
        if !upper.is_ascii_uppercase() {
            return Err(format!(
                "character {character:?} at position {position} is not in the alphabet A-Z"
            ));
        }
        table[[position, (upper as u8 - b'A') as usize]] = 1.0;
    }
    Ok(table)
}
