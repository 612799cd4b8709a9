//! Prompts as VQGAN+CLIP writes them (Katherine Crowson's notebook, and
//! nerdyrodent's VQGAN-CLIP after it): `text:weight:stop`, several separated
//! by `|`. A negative weight pushes the picture away from
//! the text; `stop` switches a prompt's pull off once its loss falls below it.

use std::fmt;

use crate::basics::preview;

/// One prompt: what to say, how strongly, and when to stop pulling.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub text: String,
    /// Positive: pull towards; negative: push away. |weight| scales the pull.
    pub weight: f32,
    /// Below this (signed) loss the prompt passes no gradient. −∞: never stops.
    pub stop: f32,
}

/// The largest weight a prompt may have. The pull is scaled by the weight;
/// far larger ones only drown the other prompts and overflow the loss.
pub const MAX_WEIGHT: f64 = 100.0;

/// A prompt that cannot be read, with the reason. Texts are shown cut short
/// ([`preview`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptError {
    #[error("prompt {index} is empty (prompts are separated by '|')")]
    Empty { index: usize },
    #[error("prompt {} has weight 0: it would do nothing", preview(text))]
    ZeroWeight { text: String },
    #[error("prompt {}: {field} must be a number, got {value:?}", preview(text))]
    NotANumber {
        text: String,
        field: &'static str,
        value: String,
    },
    #[error(
        "prompt {}: the weight must be from -{MAX_WEIGHT} to {MAX_WEIGHT}, got {value}",
        preview(text)
    )]
    WeightOutOfRange { text: String, value: String },
}

impl Prompt {
    /// Reads `text`, `text:weight` or `text:weight:stop`. A colon followed by
    /// something that is not a number belongs to the text ("a sign: STOP").
    pub fn parse(source: &str, index: usize) -> Result<Prompt, PromptError> {
        let mut parts: Vec<&str> = source.rsplitn(3, ':').collect();
        parts.reverse();
        // Peel numeric fields off the right while they parse.
        let mut numbers = Vec::new();
        while parts.len() > 1 {
            let last = parts[parts.len() - 1].trim();
            match last.parse::<f64>() {
                Ok(value) => {
                    numbers.insert(0, (value, last.to_string()));
                    parts.pop();
                }
                Err(_) => break,
            }
        }
        let text = parts.join(":").trim().to_string();
        if text.is_empty() {
            return Err(PromptError::Empty { index });
        }
        let (weight, stop) = match numbers.as_slice() {
            [] => (
                (1.0, "1".to_string()),
                (f64::NEG_INFINITY, "-inf".to_string()),
            ),
            [w] => (w.clone(), (f64::NEG_INFINITY, "-inf".to_string())),
            [w, s, ..] => (w.clone(), s.clone()),
        };
        for (field, (value, written)) in [("weight", &weight), ("stop", &stop)] {
            if value.is_nan() {
                let value = written.clone();
                return Err(PromptError::NotANumber { text, field, value });
            }
        }
        if weight.0 == 0.0 {
            return Err(PromptError::ZeroWeight { text });
        }
        if weight.0.abs() > MAX_WEIGHT {
            let value = weight.1;
            return Err(PromptError::WeightOutOfRange { text, value });
        }
        Ok(Prompt {
            text,
            weight: weight.0 as f32,
            stop: stop.0 as f32,
        })
    }

    /// Reads prompts separated by `|`.
    pub fn parse_all(source: &str) -> Result<Vec<Prompt>, PromptError> {
        source
            .split('|')
            .enumerate()
            .map(|(i, part)| Prompt::parse(part, i + 1))
            .collect()
    }
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}", self.text, self.weight)?;
        if self.stop > f32::NEG_INFINITY {
            write!(f, ":{}", self.stop)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_and_stops_are_read_from_the_right() {
        let prompts =
            Prompt::parse_all("a red circle | a blue square:-0.5 |sky:2:0.3")
                .unwrap();
        assert_eq!(prompts[0].text, "a red circle");
        assert_eq!(
            (prompts[0].weight, prompts[0].stop),
            (1.0, f32::NEG_INFINITY)
        );
        assert_eq!(
            (prompts[1].text.as_str(), prompts[1].weight),
            ("a blue square", -0.5)
        );
        assert_eq!((prompts[2].weight, prompts[2].stop), (2.0, 0.3));
        assert_eq!(prompts[2].to_string(), "sky:2:0.3");
    }

    #[test]
    fn a_colon_that_is_not_followed_by_a_number_is_text() {
        let prompt = Prompt::parse("a sign that says: STOP", 1).unwrap();
        assert_eq!(
            (prompt.text.as_str(), prompt.weight),
            ("a sign that says: STOP", 1.0)
        );
        let prompt = Prompt::parse("time: 12:30:2", 1).unwrap();
        assert_eq!(
            (prompt.text.as_str(), prompt.weight, prompt.stop),
            ("time: 12", 30.0, 2.0)
        );
    }

    #[test]
    fn bad_prompts_are_named() {
        assert_eq!(
            Prompt::parse_all("a cat||a dog").unwrap_err(),
            PromptError::Empty { index: 2 }
        );
        let zero = Prompt::parse("a cat:0", 1).unwrap_err().to_string();
        assert!(
            zero.contains("\"a cat\"") && zero.contains("weight 0"),
            "{zero}"
        );
        let nan = Prompt::parse("a cat:NaN", 1).unwrap_err().to_string();
        assert!(nan.contains("weight") && nan.contains("NaN"), "{nan}");
    }
}
