//! What a notebook cell needs, in one line: `use clip_art::prelude::*;`.
