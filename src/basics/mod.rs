//! Lecture parts 1–2 from scratch: pictures as tensors, one-hot encodings,
//! softmax and cross-entropy.

pub mod one_hot;
pub mod pixels;
pub mod softmax;

/// A text as error messages show it: its first 40 characters, then `…` and
/// the full length, so a pasted essay is not echoed back whole.
pub fn preview(text: &str) -> String {
    const SHOWN: usize = 40;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => {
            format!("{:?}… ({} characters)", &text[..end], text.chars().count())
        }
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_text_is_cut_at_a_character_boundary() {
        let long = "日本語".repeat(100);
        let shown = super::preview(&long);
        assert_eq!(shown, format!("{:?}… (300 characters)", &long[..120]));
        assert_eq!(super::preview("a red circle"), "\"a red circle\"");
    }
}
