//! Checks for the `char_one_hot` exercise, against candle-nn's one-hot and the lecture's table.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/char_one_hot.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/char_one_hot.rs")]
mod exercise;

use candle_core::{Device, Tensor};
use exercise::char_one_hot;

fn candle_one_hot(columns: &[u32]) -> Vec<Vec<f32>> {
    let indices = Tensor::new(columns, &Device::Cpu).unwrap();
    candle_nn::encoding::one_hot(indices, 26, 1f32, 0f32)
        .unwrap()
        .to_vec2()
        .unwrap()
}

fn rows(table: &ndarray::Array2<f32>) -> Vec<Vec<f32>> {
    table.rows().into_iter().map(|r| r.to_vec()).collect()
}

#[test]
fn lukas_is_the_lecture_table() {
    let table = char_one_hot("LUKAS").expect("LUKAS is all letters");
    assert_eq!(
        table.dim(),
        (5, 26),
        "one row per character, one column per letter"
    );
    // L U K A S are letters 12, 21, 11, 1, 19: columns 11, 20, 10, 0, 18
    assert_eq!(rows(&table), candle_one_hot(&[11, 20, 10, 0, 18]));
}

#[test]
fn lower_case_counts_as_capitals() {
    let lower = char_one_hot("zebra").expect("zebra is all letters");
    assert_eq!(rows(&lower), candle_one_hot(&[25, 4, 1, 17, 0]));
}

#[test]
fn other_characters_are_errors_that_say_where() {
    let error = char_one_hot("R2D2").expect_err("'2' is not a letter");
    assert!(
        error.contains("'2'"),
        "the error should name the character: {error}"
    );
    assert!(
        error.contains("position 1"),
        "the error should give its position: {error}"
    );
    assert!(char_one_hot("AÉ").is_err(), "É is not in A-Z");
}
