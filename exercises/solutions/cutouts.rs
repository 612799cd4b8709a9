//! Solution (chapter 6): the crop-and-resize matrix behind every cutout.

pub fn resample_matrix(
    full: usize,
    offset: usize,
    size: usize,
    out: usize,
    flip: bool,
) -> Vec<f32> {
    // How many input pixels one output pixel spans (below 1 when enlarging).
    let s = size as f64 / out as f64;
    let mut matrix = vec![0f32; out * full];
    for o in 0..out {
        let (start, end) = (o as f64 * s, (o + 1) as f64 * s);
        let row = if flip { out - 1 - o } else { o };
        for i in 0..size {
            // Overlap of [start, end) with [i, i + 1); zero when they do not meet.
            let overlap = end.min(i as f64 + 1.0) - start.max(i as f64);
            if overlap > 0.0 {
                matrix[row * full + offset + i] = (overlap / s) as f32;
            }
        }
    }
    matrix
}
