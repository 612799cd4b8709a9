//! Plots (plotters) rendered into a [`Picture`], with a bundled font so no system
//! font library is needed.

use std::sync::Once;

use anyhow::{Context, anyhow};
use image::RgbImage;
use plotters::prelude::*;

use crate::viz::picture::Picture;

const FONT: &str = "sans-serif";

/// plotters' `ab_glyph` backend knows only the fonts we register: DejaVu Sans, bundled.
fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // DejaVu ships with the `dejavu` crate; it is a valid TrueType file.
        let _ = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// One named line of a chart.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    pub name: &'a str,
    pub values: &'a [f32],
}

/// Averages of `window` consecutive values: a noisy loss curve made readable.
pub fn moving_average(values: &[f32], window: usize) -> Vec<f32> {
    let window = window.max(1);
    values
        .windows(window.min(values.len()).max(1))
        .map(|w| w.iter().sum::<f32>() / w.len() as f32)
        .collect()
}

/// A line chart of several series against their index (e.g. loss per training step).
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> anyhow::Result<Picture> {
    register_fonts();
    let (width, height) = (800u32, 480u32);
    let longest = series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let finite = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite());
    let (low, high) = finite
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (low, high) = if low.is_finite() {
        (low.min(0.0), high.max(low + 1e-3))
    } else {
        (0.0, 1.0)
    };
    let mut buffer = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height))
            .into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 24))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0f32..(longest - 1) as f32, low..high * 1.05)
            .map_err(|e| anyhow!("plot: {e}"))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc(y_label)
            .label_style((FONT, 16))
            .draw()
            .map_err(|e| anyhow!("plot: {e}"))?;
        for (i, s) in series.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            // Later series thinner, so a curve that lies exactly on an earlier one shows both.
            let width = if i == 0 { 5 } else { 2 };
            let points = s.values.iter().enumerate().map(|(x, &y)| (x as f32, y));
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(width)))
                .map_err(|e| anyhow!("plot: {e}"))?
                .label(s.name)
                .legend(move |(x, y)| {
                    PathElement::new(
                        vec![(x, y), (x + 20, y)],
                        colour.stroke_width(width),
                    )
                });
        }
        draw_legend(&mut chart, 16)?;
        root.present().map_err(|e| anyhow!("plot: {e}"))?;
    }
    picture_of(buffer, width, height)
}

/// The series' names on a white box in the chart's corner.
fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    font_size: u32,
) -> anyhow::Result<()>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .label_font((FONT, font_size))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("plot: {e}"))
}

/// The RGB buffer a bitmap backend drew into, as a picture.
fn picture_of(buffer: Vec<u8>, width: u32, height: u32) -> anyhow::Result<Picture> {
    RgbImage::from_raw(width, height, buffer)
        .map(Picture)
        .context("plot buffer has the wrong size")
}

/// One coloured group of points in a scatter plot.
#[derive(Debug, Clone)]
pub struct PointGroup<'a> {
    pub name: &'a str,
    pub points: &'a [(f32, f32)],
}

/// Scatter plots side by side, one panel per title, each with its own coloured
/// groups (e.g. the same PCA projection coloured by different attributes).
pub fn scatter_panels(
    panels: &[(&str, Vec<PointGroup>)],
    x_label: &str,
    y_label: &str,
) -> anyhow::Result<Picture> {
    register_fonts();
    let (panel_width, height) = (420u32, 420u32);
    let width = panel_width * panels.len().max(1) as u32;
    let all = panels
        .iter()
        .flat_map(|(_, groups)| groups.iter().flat_map(|g| g.points.iter()));
    let (mut x0, mut x1, mut y0, mut y1) = (
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::INFINITY,
        f32::NEG_INFINITY,
    );
    for &(x, y) in all.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
    }
    let pad = |lo: f32, hi: f32| {
        (lo - 0.05 * (hi - lo + 1e-3), hi + 0.05 * (hi - lo + 1e-3))
    };
    let ((x0, x1), (y0, y1)) = (pad(x0, x1), pad(y0, y1));
    let mut buffer = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height))
            .into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for ((title, groups), area) in panels.iter().zip(areas) {
            let mut chart = ChartBuilder::on(&area)
                .caption(*title, (FONT, 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(48)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| anyhow!("plot: {e}"))?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .label_style((FONT, 14))
                .draw()
                .map_err(|e| anyhow!("plot: {e}"))?;
            for (i, group) in groups.iter().enumerate() {
                let colour = Palette99::pick(i).to_rgba();
                chart
                    .draw_series(
                        group
                            .points
                            .iter()
                            .map(|&p| Circle::new(p, 3, colour.filled())),
                    )
                    .map_err(|e| anyhow!("plot: {e}"))?
                    .label(group.name)
                    .legend(move |(x, y)| {
                        Circle::new((x + 8, y), 4, colour.filled())
                    });
            }
            draw_legend(&mut chart, 14)?;
        }
        root.present().map_err(|e| anyhow!("plot: {e}"))?;
    }
    picture_of(buffer, width, height)
}

/// The CLIP paper's picture of a batch: pictures along the top, texts down the
/// left, and each cell shaded by (and labelled with) their cosine similarity.
/// `similarity[t][p]` is text `t` against picture `p`.
pub fn similarity_matrix(
    pictures: &[RgbImage],
    texts: &[&str],
    similarity: &[Vec<f32>],
) -> anyhow::Result<Picture> {
    register_fonts();
    let cell = 72u32;
    let (left, top) = (340u32, cell + 16);
    let width = left + cell * pictures.len() as u32 + 8;
    let height = top + cell * texts.len() as u32 + 8;
    let (low, high) = similarity
        .iter()
        .flatten()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let mut buffer = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height))
            .into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
        for (t, text) in texts.iter().enumerate() {
            let y = (top + cell * t as u32 + cell / 2) as i32;
            root.draw(&Text::new(
                text.to_string(),
                (8, y - 8),
                (FONT, 16).into_font().color(&BLACK),
            ))
            .map_err(|e| anyhow!("plot: {e}"))?;
            for (p, &value) in similarity[t].iter().enumerate().take(pictures.len())
            {
                let shade = (value - low) / (high - low).max(1e-6);
                // From pale to deep blue; the best match of each row is framed.
                let colour = RGBColor(
                    (235.0 - 200.0 * shade) as u8,
                    (240.0 - 170.0 * shade) as u8,
                    (250.0 - 80.0 * shade) as u8,
                );
                let (x0, y0) = (
                    (left + cell * p as u32) as i32,
                    (top + cell * t as u32) as i32,
                );
                let corners =
                    [(x0, y0), (x0 + cell as i32 - 2, y0 + cell as i32 - 2)];
                root.draw(&Rectangle::new(corners, colour.filled()))
                    .map_err(|e| anyhow!("plot: {e}"))?;
                let ink = if shade > 0.55 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    format!("{value:.2}"),
                    (x0 + 16, y0 + cell as i32 / 2 - 8),
                    (FONT, 16).into_font().color(&ink),
                ))
                .map_err(|e| anyhow!("plot: {e}"))?;
            }
        }
        root.present().map_err(|e| anyhow!("plot: {e}"))?;
    }
    let mut figure = RgbImage::from_raw(width, height, buffer)
        .context("plot buffer has the wrong size")?;
    for (p, picture) in pictures.iter().enumerate() {
        let side = cell - 8;
        let scaled = image::imageops::resize(
            picture,
            side,
            side,
            image::imageops::FilterType::Nearest,
        );
        image::imageops::replace(
            &mut figure,
            &scaled,
            i64::from(left + cell * p as u32 + 3),
            8,
        );
    }
    Ok(Picture(figure))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_smooths() {
        assert_eq!(
            moving_average(&[1.0, 3.0, 5.0, 7.0], 2),
            vec![2.0, 4.0, 6.0]
        );
        assert_eq!(moving_average(&[4.0], 10), vec![4.0]);
    }

    #[test]
    fn chart_draws_lines_and_text() {
        let falling: Vec<f32> = (0..50).map(|i| 2.0 / (1.0 + i as f32)).collect();
        let picture = line_chart(
            "loss",
            "step",
            "cross-entropy",
            &[Series {
                name: "scratch",
                values: &falling,
            }],
        )
        .unwrap();
        assert_eq!(picture.0.dimensions(), (800, 480));
        // The first series is drawn in Palette99's first colour; text is dark grey/black.
        let (r, g, b) = Palette99::pick(0).to_rgba().rgb();
        let line_pixels = picture.0.pixels().filter(|p| p.0 == [r, g, b]).count();
        assert!(line_pixels > 200, "{line_pixels} line pixels");
        let dark = picture
            .0
            .pixels()
            .filter(|p| p.0.iter().all(|&v| v < 60))
            .count();
        assert!(
            dark > 500,
            "axes and labels should be drawn: {dark} dark pixels"
        );
    }

    #[test]
    fn the_similarity_matrix_shows_the_pictures_and_the_strongest_cell_darkest() {
        let red = RgbImage::from_pixel(8, 8, image::Rgb([255, 0, 0]));
        let similarity = vec![vec![0.9, 0.1], vec![0.2, 0.3]];
        let picture =
            similarity_matrix(&[red.clone(), red], &["a", "b"], &similarity)
                .unwrap();
        let reds = picture.0.pixels().filter(|p| p.0 == [255, 0, 0]).count();
        assert_eq!(reds, 2 * 64 * 64, "both pictures pasted at 64×64");
        // The cell of 0.9 (text 0, picture 0) is the darkest blue: (35, 70, 170).
        let darkest = picture.0.pixels().filter(|p| p.0 == [35, 70, 170]).count();
        assert!(darkest > 3000, "{darkest}");
    }

    #[test]
    fn scatter_draws_each_group_in_its_colour() {
        let low: Vec<(f32, f32)> = (0..20).map(|i| (i as f32, 0.0)).collect();
        let high: Vec<(f32, f32)> = (0..20).map(|i| (i as f32, 10.0)).collect();
        let groups = vec![
            PointGroup {
                name: "low",
                points: &low,
            },
            PointGroup {
                name: "high",
                points: &high,
            },
        ];
        let picture =
            scatter_panels(&[("a", groups.clone()), ("b", groups)], "x", "y")
                .unwrap();
        assert_eq!(picture.0.dimensions(), (840, 420));
        for i in 0..2 {
            let (r, g, b) = Palette99::pick(i).to_rgba().rgb();
            let n = picture.0.pixels().filter(|p| p.0 == [r, g, b]).count();
            assert!(n > 200, "group {i}: {n} pixels");
        }
    }
}
