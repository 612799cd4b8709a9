//! A generator with a prior, built in layers: every object of a scene is one
//! layer — a sprite (its shape), a colour, a place and a size — painted over
//! a dark background. The sprites are learned: k-means over objects cut out
//! of drawn scenes finds the world's shapes without being told them. Every
//! latent drawn from N(0, 1) paints one or two whole objects, so the guide
//! can only choose among scenes, never among textures that fool it.
//!
//! pixray and CLIPDraw steer a renderer of strokes the same way; here the
//! strokes are learned objects. The latent's choices are discrete (which
//! sprite, which colour), so [`search`] moves it one attribute at a time
//! and keeps what the guide scores better.

use std::ops::ControlFlow;

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::engine::Guide;
use crate::models::vae::standard_normal;
use crate::world::scenes::{Colour, Position, Scene, Size, Split};

/// Side of a sprite, in pixels.
pub const SPRITE_SIDE: usize = 32;
/// Radius of the circle an object fits in, in sprite pixels.
const SPRITE_RADIUS: f32 = 15.0;
/// Grey level of the background (the middle of the world's dark greys).
const BACKGROUND: f32 = 20.0 / 255.0;
/// Layers per scene: the world's scenes hold one or two objects.
const LAYERS: usize = 2;
/// The latent values that put an object in the left/top, middle and
/// right/bottom cell, or make it small and large (see [`place`]).
const CELLS: [f32; 3] = [-1.0, 0.0, 1.0];
const SIZES: [f32; 2] = [-1.0, 1.0];
/// The second layer is painted when its latent is at least this: about 30%
/// of N(0, 1) draws, as 30% of the world's scenes hold two objects.
const SECOND_OBJECT: f32 = 0.5;
/// Where the place staircase steps from one cell to the next: a third of
/// N(0, 1) draws on each side.
const CELL_EDGE: f64 = 0.43;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub image_size: usize,
    /// How many sprites k-means learns (more than the world's six shapes,
    /// so that no two shapes have to share one).
    pub sprites: usize,
    /// Objects cut out of drawn scenes to learn them from.
    pub cut_outs: usize,
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            image_size: 64,
            sprites: 8,
            cut_outs: 2000,
            seed: 5,
        }
    }
}

// ANCHOR: cut_out
/// The object of a one-object `scene` cut out at its centre and scaled so its
/// radius is [`SPRITE_RADIUS`]: a `SPRITE_SIDE²` mask in [0, 1] (how far
/// each pixel is from the background towards the object's colour).
pub fn cut_out(scene: &Scene) -> Vec<f32> {
    const DRAWN: f32 = 128.0;
    let picture = scene.draw(DRAWN as u32);
    let object = &scene.objects[0];
    let background = f32::from(scene.background);
    let contrast = |rgb: [u8; 3]| -> f32 {
        rgb.iter().map(|&v| (f32::from(v) - background).abs()).sum()
    };
    let full = contrast(object.colour.rgb());
    let mask_at = |x: f32, y: f32| -> f32 {
        let inside = (0.0..DRAWN).contains(&x) && (0.0..DRAWN).contains(&y);
        if !inside {
            return 0.0;
        }
        (contrast(picture.get_pixel(x as u32, y as u32).0) / full).min(1.0)
    };
    let scale = object.radius * DRAWN / SPRITE_RADIUS;
    let half = SPRITE_SIDE as f32 / 2.0;
    let mut mask = Vec::with_capacity(SPRITE_SIDE * SPRITE_SIDE);
    for row in 0..SPRITE_SIDE {
        for column in 0..SPRITE_SIDE {
            // Bilinear: the four drawn pixels around the sprite pixel's centre.
            let x =
                object.centre.0 * DRAWN + (column as f32 + 0.5 - half) * scale - 0.5;
            let y =
                object.centre.1 * DRAWN + (row as f32 + 0.5 - half) * scale - 0.5;
            let (fx, fy) = (x - x.floor(), y - y.floor());
            let (x, y) = (x.floor(), y.floor());
            mask.push(
                mask_at(x, y) * (1.0 - fx) * (1.0 - fy)
                    + mask_at(x + 1.0, y) * fx * (1.0 - fy)
                    + mask_at(x, y + 1.0) * (1.0 - fx) * fy
                    + mask_at(x + 1.0, y + 1.0) * fx * fy,
            );
        }
    }
    mask
}
// ANCHOR_END: cut_out

// ANCHOR: k_means
/// Lloyd's k-means with k-means++ seeding: `k` centres, each the mean of the
/// points nearest to it.
pub fn k_means(points: &[Vec<f32>], k: usize, rng: &mut impl Rng) -> Vec<Vec<f32>> {
    let distance = |a: &[f32], b: &[f32]| -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    };
    let nearest = |point: &[f32], centres: &[Vec<f32>]| -> (usize, f32) {
        centres
            .iter()
            .map(|c| distance(point, c))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, f32::MAX))
    };
    // Seeding: each next centre is a point drawn with probability ∝ its
    // squared distance to the centres so far, so they start spread out.
    let mut centres = vec![points[rng.random_range(0..points.len())].clone()];
    while centres.len() < k {
        let far: Vec<f32> = points.iter().map(|p| nearest(p, &centres).1).collect();
        let mut left = rng.random_range(0.0..far.iter().sum::<f32>());
        let chosen = far.iter().position(|&d| {
            left -= d;
            left < 0.0
        });
        centres.push(points[chosen.unwrap_or(points.len() - 1)].clone());
    }
    for _ in 0..20 {
        let mut sums = vec![vec![0.0; points[0].len()]; k];
        let mut counts = vec![0usize; k];
        for point in points {
            let (c, _) = nearest(point, &centres);
            counts[c] += 1;
            sums[c].iter_mut().zip(point).for_each(|(s, v)| *s += v);
        }
        for ((centre, sum), count) in centres.iter_mut().zip(sums).zip(counts) {
            if count > 0 {
                *centre = sum.iter().map(|s| s / count as f32).collect();
            }
        }
    }
    centres
}
// ANCHOR_END: k_means

/// Where each part of a latent lives: per layer, one logit per sprite, one
/// per colour, then column, row and size; last, whether the second layer is
/// painted.
#[derive(Clone)]
struct Layout {
    sprites: usize,
}

impl Layout {
    fn per_layer(&self) -> usize {
        self.sprites + Colour::ALL.len() + 3
    }
    fn size(&self) -> usize {
        LAYERS * self.per_layer() + 1
    }
    fn sprite(&self, layer: usize) -> usize {
        layer * self.per_layer()
    }
    fn colour(&self, layer: usize) -> usize {
        self.sprite(layer) + self.sprites
    }
    fn place(&self, layer: usize) -> usize {
        self.colour(layer) + Colour::ALL.len()
    }
    fn second_object(&self) -> usize {
        LAYERS * self.per_layer()
    }
}

/// One object of [`LayeredGenerator::latent`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer {
    /// Which learned sprite (k-means numbers them in no particular order).
    pub sprite: usize,
    pub colour: Colour,
    pub position: Position,
    pub size: Size,
}

/// The layered scene generator: sprites `[k, SPRITE_SIDE²]` and the colours.
pub struct LayeredGenerator {
    pub config: Config,
    sprites: Tensor,
    colours: Tensor,
    layout: Layout,
}

impl LayeredGenerator {
    /// Learns the sprites from `config.cut_outs` one-object scenes (seeded).
    pub fn learn(config: &Config, device: &Device) -> candle_core::Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let cut_outs: Vec<Vec<f32>> = (0..config.cut_outs)
            .map(|_| cut_out(&Scene::random_mixed(Split::Train, 0.0, &mut rng)))
            .collect();
        let sprites = k_means(&cut_outs, config.sprites, &mut rng);
        let colours: Vec<f32> = Colour::ALL
            .iter()
            .flat_map(|c| c.rgb().map(|v| f32::from(v) / 255.0))
            .collect();
        Ok(LayeredGenerator {
            config: config.clone(),
            sprites: Tensor::from_vec(
                sprites.concat(),
                (config.sprites, SPRITE_SIDE * SPRITE_SIDE),
                device,
            )?,
            colours: Tensor::from_vec(colours, (Colour::ALL.len(), 3), device)?,
            layout: Layout {
                sprites: config.sprites,
            },
        })
    }

    /// The learned sprites `[k, 1, SPRITE_SIDE, SPRITE_SIDE]` in [0, 1].
    pub fn sprites(&self) -> candle_core::Result<Tensor> {
        self.sprites
            .reshape((self.config.sprites, 1, SPRITE_SIDE, SPRITE_SIDE))
    }

    /// The generator's parameters: the sprites `[k, SPRITE_SIDE²]` and the
    /// colours `[6, 3]`, both in [0, 1].
    pub fn parameters(&self) -> (&Tensor, &Tensor) {
        (&self.sprites, &self.colours)
    }

    /// The same generator with other parameters of the same shapes (a
    /// fine-tuned copy, chapter 6's StyleGAN-NADA).
    pub fn with_parameters(
        &self,
        sprites: Tensor,
        colours: Tensor,
    ) -> anyhow::Result<LayeredGenerator> {
        for (name, given, kept) in [
            ("sprites", &sprites, &self.sprites),
            ("colours", &colours, &self.colours),
        ] {
            anyhow::ensure!(
                given.dims() == kept.dims(),
                "the generator's {name} are {:?}, the new ones {:?}",
                kept.dims(),
                given.dims()
            );
        }
        Ok(LayeredGenerator {
            config: self.config.clone(),
            sprites,
            colours,
            layout: self.layout.clone(),
        })
    }

    /// The latent that paints `objects` (one or two, the first lowest):
    /// a learned sprite by its index, in a colour, cell and size.
    pub fn latent(&self, objects: &[Layer]) -> anyhow::Result<Vec<f32>> {
        if !(1..=LAYERS).contains(&objects.len()) {
            anyhow::bail!("a scene has 1 or 2 objects, not {}", objects.len());
        }
        let mut latent = vec![0.0; self.latent_size()];
        for (layer, object) in objects.iter().enumerate() {
            if object.sprite >= self.config.sprites {
                anyhow::bail!(
                    "sprite {} does not exist: the generator has {}",
                    object.sprite,
                    self.config.sprites
                );
            }
            if object.position.column > 2 || object.position.row > 2 {
                anyhow::bail!("cells are numbered 0–2, not {:?}", object.position);
            }
            let colour = Colour::ALL.iter().position(|&c| c == object.colour);
            latent[self.layout.sprite(layer) + object.sprite] = 1.0;
            latent[self.layout.colour(layer) + colour.unwrap_or(0)] = 1.0;
            let place = self.layout.place(layer);
            latent[place] = CELLS[usize::from(object.position.column)];
            latent[place + 1] = CELLS[usize::from(object.position.row)];
            latent[place + 2] = SIZES[usize::from(object.size == Size::Large)];
        }
        latent[self.layout.second_object()] =
            if objects.len() == 2 { 1.0 } else { 0.0 };
        Ok(latent)
    }

    /// [`Self::decode`] of latents given one per row.
    pub fn decode_rows(&self, rows: &[Vec<f32>]) -> candle_core::Result<Tensor> {
        let shape = (rows.len(), self.latent_size());
        self.decode(&Tensor::from_vec(
            rows.concat(),
            shape,
            self.sprites.device(),
        )?)
    }

    /// Numbers in one latent.
    pub fn latent_size(&self) -> usize {
        self.layout.size()
    }

    /// `count` latents drawn from N(0, 1), `[count, latent_size]`.
    pub fn noise(
        &self,
        count: usize,
        rng: &mut impl Rng,
    ) -> candle_core::Result<Tensor> {
        standard_normal(count, self.latent_size(), rng, self.sprites.device())
    }

    // ANCHOR: decode
    /// Latents `[n, latent_size]` → pictures `[n, 3, s, s]` in [0, 1]: each
    /// layer's likeliest sprite, placed and scaled, filled with its
    /// likeliest colour, painted over what is below it.
    pub fn decode(&self, latents: &Tensor) -> candle_core::Result<Tensor> {
        let (n, side) = (latents.dim(0)?, self.config.image_size);
        let choice =
            |start: usize, len: usize| latents.narrow(1, start, len)?.argmax(1);
        let mut picture =
            Tensor::full(BACKGROUND, (n, 3, side, side), latents.device())?;
        for layer in 0..LAYERS {
            let sprite = self
                .sprites
                .index_select(
                    &choice(self.layout.sprite(layer), self.config.sprites)?,
                    0,
                )?
                .reshape((n, SPRITE_SIDE, SPRITE_SIDE))?;
            let colour = self
                .colours
                .index_select(
                    &choice(self.layout.colour(layer), Colour::ALL.len())?,
                    0,
                )?
                .reshape((n, 3, 1, 1))?;
            let (rows, columns) =
                place(&latents.narrow(1, self.layout.place(layer), 3)?, side)?;
            let mut mask = rows
                .matmul(&sprite)?
                .matmul(&columns.t()?)?
                .clamp(0.0, 1.0)?;
            if layer > 0 {
                let painted = latents
                    .narrow(1, self.layout.second_object(), 1)?
                    .ge(SECOND_OBJECT)?
                    .to_dtype(DType::F32)?;
                mask = mask.broadcast_mul(&painted.reshape((n, 1, 1))?)?;
            }
            let mask = mask.unsqueeze(1)?;
            picture = (picture.broadcast_mul(&mask.affine(-1.0, 1.0)?)?
                + colour.broadcast_mul(&mask)?)?;
        }
        Ok(picture)
    }
    // ANCHOR_END: decode
}

// ANCHOR: place
/// Column, row and size latents `[n, 3]` → the two matrices `[n, side,
/// SPRITE_SIDE]` that put a sprite on the canvas: `rows · sprite · columnsᵀ`.
/// A steep smooth staircase sends N(0, 1) to the world's three columns and
/// rows (a third of the draws each) and to its two sizes: nearly every draw
/// lands on a cell, since the guide is easily fooled between cells.
fn place(latents: &Tensor, side: usize) -> candle_core::Result<(Tensor, Tensor)> {
    let n = latents.dim(0)?;
    let s = side as f64;
    let stairs = |z: Tensor| -> candle_core::Result<Tensor> {
        let (up, down) = (
            z.affine(12.0, -12.0 * CELL_EDGE)?.tanh()?,
            z.affine(12.0, 12.0 * CELL_EDGE)?.tanh()?,
        );
        (up + down)?.affine(0.14 * s, 0.5 * s)
    };
    let column = stairs(latents.narrow(1, 0, 1)?)?;
    let row = stairs(latents.narrow(1, 1, 1)?)?;
    let radius = latents
        .narrow(1, 2, 1)?
        .affine(8.0, 0.0)?
        .tanh()?
        .affine(0.045 * s, 0.15 * s)?;
    let scale = (radius / f64::from(SPRITE_RADIUS))?.reshape((n, 1, 1))?;
    let device = latents.device();
    let pixels = Tensor::arange(0u32, side as u32, device)?
        .to_dtype(DType::F32)?
        .affine(1.0, 0.5)?
        .reshape((1, side, 1))?;
    let half = SPRITE_SIDE as f64 / 2.0;
    let sprite_pixels = Tensor::arange(0u32, SPRITE_SIDE as u32, device)?
        .to_dtype(DType::F32)?
        .affine(1.0, 0.5 - half)?
        .reshape((1, 1, SPRITE_SIDE))?;
    // Sprite pixel j lands at centre + j·scale; a canvas pixel is the mean
    // of the sprite pixels landing within one pixel of it, nearer ones
    // weighing more (a tent). Without the mean, sums of tents spaced
    // `scale` apart ripple and draw a grid on every object.
    let splat = |centre: Tensor| -> candle_core::Result<Tensor> {
        let landing = centre
            .reshape((n, 1, 1))?
            .broadcast_add(&sprite_pixels.broadcast_mul(&scale)?)?;
        let tents = pixels
            .broadcast_sub(&landing)?
            .abs()?
            .affine(-1.0, 1.0)?
            .relu()?;
        let total = tents.sum_keepdim(2)?.maximum(1e-6)?;
        tents.broadcast_div(&total)
    };
    Ok((splat(row)?, splat(column)?))
}
// ANCHOR_END: place

/// How [`search`] looks for a picture.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSettings {
    /// N(0, 1) latents the guide ranks.
    pub samples: usize,
    /// How many of the best-ranked are improved; the guide keeps the best.
    pub starts: usize,
    /// At most this many rounds of one-attribute changes per start.
    pub rounds: usize,
    pub seed: u64,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            samples: 256,
            starts: 4,
            rounds: 10,
            seed: 0,
        }
    }
}

/// Every latent a climb went through, with the guide's loss for it.
pub type Trail = Vec<(Vec<f32>, f32)>;

/// What [`search`] found: the latent, its picture `[1, 3, s, s]`, the
/// guide's loss for it, and the way there: every latent the kept start
/// went through, with its loss (the start first, the result last).
pub struct Found {
    pub latent: Vec<f32>,
    pub picture: Tensor,
    pub loss: f32,
    pub path: Vec<(Vec<f32>, f32)>,
}

impl Found {
    /// Where `path` (not empty) ends, with its picture.
    fn at_end_of(
        path: Vec<(Vec<f32>, f32)>,
        generator: &LayeredGenerator,
    ) -> anyhow::Result<Found> {
        let Some((latent, loss)) = path.last().cloned() else {
            anyhow::bail!("a search with no latents found nothing");
        };
        let picture = generator.decode_rows(std::slice::from_ref(&latent))?;
        Ok(Found {
            latent,
            picture,
            loss,
            path,
        })
    }
}

// ANCHOR: search
/// Generation from noise: the guide ranks `samples` N(0, 1) latents; from each
/// of the `starts` best, every change of one attribute (a layer's sprite,
/// colour, cell or size, the two layers' cells together, the second object
/// off or added whole) is scored and the best taken, while the loss falls.
pub fn search(
    generator: &LayeredGenerator,
    guide: &Guide,
    settings: &SearchSettings,
) -> anyhow::Result<Found> {
    search_watched(generator, guide, settings, &mut |_, _| {
        ControlFlow::Continue(())
    })
}

/// The same, telling `watch` every latent a climb reaches and its loss, as
/// it happens (a live picture); `Break` ends the search with the best path so far.
pub fn search_watched(
    generator: &LayeredGenerator,
    guide: &Guide,
    settings: &SearchSettings,
    watch: &mut dyn FnMut(&[f32], f32) -> ControlFlow<()>,
) -> anyhow::Result<Found> {
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let noise = generator.noise(settings.samples, &mut rng)?;
    let losses = guide.scores(&generator.decode(&noise)?)?;
    let overlapping: Vec<bool> = noise
        .to_vec2::<f32>()?
        .iter()
        .map(|z| generator.overlaps(z))
        .collect();
    let mut ranked: Vec<usize> = (0..settings.samples).collect();
    ranked.sort_by(|&a, &b| losses[a].total_cmp(&losses[b]));
    let mut best: Option<Vec<(Vec<f32>, f32)>> = None;
    ranked.retain(|&i| !overlapping[i]);
    for &start in ranked.iter().take(settings.starts) {
        let from = (noise.get(start)?.to_vec1()?, losses[start]);
        let (path, flow) = climb(generator, guide, from, settings.rounds, watch)?;
        let end = |p: &[(Vec<f32>, f32)]| p.last().map_or(f32::MAX, |(_, l)| *l);
        if best.as_ref().is_none_or(|b| end(&path) < end(b)) {
            best = Some(path);
        }
        if flow.is_break() {
            break;
        }
    }
    let path = best.ok_or_else(|| anyhow::anyhow!("no starts to search from"))?;
    Found::at_end_of(path, generator)
}
// ANCHOR_END: search

// ANCHOR: climb
/// From a latent and its loss, at most `rounds` times: score every change of
/// one attribute and take the best, while the loss falls. Returns the path,
/// and whether `watch`, told of each latent on it, asked to stop.
fn climb(
    generator: &LayeredGenerator,
    guide: &Guide,
    from: (Vec<f32>, f32),
    rounds: usize,
    watch: &mut dyn FnMut(&[f32], f32) -> ControlFlow<()>,
) -> anyhow::Result<(Trail, ControlFlow<()>)> {
    let mut flow = watch(&from.0, from.1);
    let mut path = vec![from];
    for _ in 0..rounds {
        if flow.is_break() {
            break;
        }
        let (latent, loss) = &path[path.len() - 1];
        let changed = generator.neighbours(latent);
        let scores = guide.scores(&generator.decode_rows(&changed)?)?;
        let Some((i, &score)) =
            scores.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1))
        else {
            break;
        };
        if score >= *loss {
            break;
        }
        flow = watch(&changed[i], score);
        path.push((changed[i].clone(), score));
    }
    Ok((path, flow))
}
// ANCHOR_END: climb

/// How [`genetic_search`] evolves latents.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneticSettings {
    pub population: usize,
    pub generations: usize,
    /// The best of each generation, kept unchanged into the next.
    pub elite: usize,
    /// Each number of a child is drawn afresh from N(0, 1) with this chance.
    pub mutation: f64,
    pub seed: u64,
}

impl Default for GeneticSettings {
    fn default() -> Self {
        GeneticSettings {
            population: 64,
            generations: 16,
            elite: 8,
            mutation: 0.1,
            seed: 0,
        }
    }
}

// ANCHOR: genetic
/// CLIP-GLaSS's search, without gradients: a population of N(0, 1)
/// latents; each generation keeps its `elite` best (by the guide's loss) and
/// fills the rest with children of two parents, each the better of three
/// drawn at random, taking every number from either parent and sometimes
/// drawing it afresh. The path holds each generation's best.
pub fn genetic_search(
    generator: &LayeredGenerator,
    guide: &Guide,
    settings: &GeneticSettings,
) -> anyhow::Result<Found> {
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let noise = generator.noise(settings.population, &mut rng)?;
    let mut population: Vec<Vec<f32>> = noise.to_vec2()?;
    let mut path = Vec::new();
    for generation in 0..=settings.generations {
        let losses = guide.scores(&generator.decode_rows(&population)?)?;
        let mut ranked: Vec<(f32, Vec<f32>)> =
            losses.into_iter().zip(population).collect();
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
        path.push((ranked[0].1.clone(), ranked[0].0));
        if generation == settings.generations {
            break;
        }
        let mut parent = || {
            let drawn = (0..3).map(|_| rng.random_range(0..ranked.len()));
            drawn.min().unwrap_or(0)
        };
        let pairs: Vec<(usize, usize)> = (settings.elite..settings.population)
            .map(|_| (parent(), parent()))
            .collect();
        population = ranked
            .iter()
            .take(settings.elite)
            .map(|(_, z)| z.clone())
            .collect();
        for (a, b) in pairs {
            let child =
                crossover(&ranked[a].1, &ranked[b].1, settings.mutation, &mut rng);
            population.push(child);
        }
    }
    Found::at_end_of(path, generator)
}
// ANCHOR_END: genetic

/// A child of `a` and `b`: each number from either, or, with chance
/// `mutation`, drawn afresh from N(0, 1).
fn crossover(a: &[f32], b: &[f32], mutation: f64, rng: &mut impl Rng) -> Vec<f32> {
    let pick = |(&x, &y): (&f32, &f32)| {
        if rng.random_bool(mutation) {
            StandardNormal.sample(rng)
        } else if rng.random_bool(0.5) {
            x
        } else {
            y
        }
    };
    a.iter().zip(b).map(pick).collect()
}

impl LayeredGenerator {
    /// Every latent that differs from `latent` in one attribute (both layers'
    /// cells count as one, so two objects can trade places in one move, and
    /// so do trading their shapes or their colours).
    fn neighbours(&self, latent: &[f32]) -> Vec<Vec<f32>> {
        let with = |changes: &[(usize, f32)]| {
            let mut changed = latent.to_vec();
            changes.iter().for_each(|&(i, v)| changed[i] = v);
            changed
        };
        let (layout, mut out) = (&self.layout, Vec::new());
        for layer in 0..LAYERS {
            let choices = [
                (layout.sprite(layer), self.config.sprites),
                (layout.colour(layer), Colour::ALL.len()),
            ];
            for (start, len) in choices {
                out.extend((0..len).map(|choice| {
                    let mut changed = latent.to_vec();
                    choose(&mut changed[start..start + len], choice);
                    changed
                }));
            }
            let place = layout.place(layer);
            for (row, column) in cells() {
                out.push(with(&[(place, column), (place + 1, row)]));
            }
            out.extend(SIZES.map(|size| with(&[(place + 2, size)])));
        }
        let second = layout.second_object();
        let painted = latent[second] >= SECOND_OBJECT;
        if painted {
            out.push(with(&[(second, 0.0)]));
        } else {
            out.extend(self.second_objects(latent));
        }
        if painted {
            // The two objects trade shapes or colours: which colour goes with
            // which shape is one move, not two through a worse picture.
            for (start, len) in [
                (layout.sprite(0), self.config.sprites),
                (layout.colour(0), Colour::ALL.len()),
            ] {
                let mut swapped = latent.to_vec();
                let other = start + layout.per_layer();
                for i in start..start + len {
                    swapped.swap(i, other + i - start);
                }
                out.push(swapped);
            }
            // Two small objects in two different cells, as the world draws them.
            let (first, other) = (layout.place(0), layout.place(1));
            for (a, b) in cells().flat_map(|a| cells().map(move |b| (a, b))) {
                if a != b {
                    out.push(with(&[
                        (first, a.1),
                        (first + 1, a.0),
                        (first + 2, SIZES[0]),
                        (other, b.1),
                        (other + 1, b.0),
                        (other + 2, SIZES[0]),
                    ]));
                }
            }
        }
        out.retain(|z| !self.overlaps(z));
        out
    }

    /// A second object added whole, as the world draws two: any sprite and
    /// colour, in a cell of the first object's row or column, both small.
    /// Added in whatever sprite and colour its latent held, it would make a
    /// worse picture that the climb never takes, and a prompt for two objects
    /// would keep one.
    fn second_objects(&self, latent: &[f32]) -> Vec<Vec<f32>> {
        let layout = &self.layout;
        let (first, other) = (layout.place(0), layout.place(1));
        let home = (cell_of(latent[first + 1]), cell_of(latent[first]));
        let mut out = Vec::new();
        for (row, column) in cells() {
            let cell = (cell_of(row), cell_of(column));
            if (cell.0 == home.0) == (cell.1 == home.1) {
                continue; // the first object's own cell, or off its lines
            }
            for sprite in 0..self.config.sprites {
                for colour in 0..Colour::ALL.len() {
                    let mut added = latent.to_vec();
                    added[layout.second_object()] = 1.0;
                    added[first + 2] = SIZES[0];
                    added[other..other + 3]
                        .copy_from_slice(&[column, row, SIZES[0]]);
                    for (start, len, choice) in [
                        (layout.sprite(1), self.config.sprites, sprite),
                        (layout.colour(1), Colour::ALL.len(), colour),
                    ] {
                        choose(&mut added[start..start + len], choice);
                    }
                    out.push(added);
                }
            }
        }
        out
    }

    /// Whether both objects are painted in one cell, which the world never
    /// draws (the judge sees one blot, or nothing).
    fn overlaps(&self, latent: &[f32]) -> bool {
        let cell = |layer: usize| {
            let place = self.layout.place(layer);
            (cell_of(latent[place]), cell_of(latent[place + 1]))
        };
        latent[self.layout.second_object()] >= SECOND_OBJECT && cell(0) == cell(1)
    }
}

/// Makes `choice` the largest of a layer's sprite or colour latents, so
/// decoding picks it: one above the largest, the others as they were.
fn choose(latents: &mut [f32], choice: usize) {
    let top = latents.iter().copied().fold(f32::MIN, f32::max);
    latents[choice] = top + 1.0;
}

/// Which of the three columns (or rows) a place latent paints in: the
/// staircase steps at ±`CELL_EDGE`.
fn cell_of(z: f32) -> usize {
    usize::from(f64::from(z) > -CELL_EDGE) + usize::from(f64::from(z) > CELL_EDGE)
}

/// The nine cells' (row, column) latents.
fn cells() -> impl Iterator<Item = (f32, f32)> {
    CELLS
        .into_iter()
        .flat_map(|row| CELLS.map(|column| (row, column)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(sprite: usize, colour: Colour, column: u8) -> Layer {
        Layer {
            sprite,
            colour,
            position: Position { column, row: 1 },
            size: Size::Small,
        }
    }

    #[test]
    fn two_objects_trade_shapes_and_a_second_comes_whole_in_one_move()
    -> anyhow::Result<()> {
        let config = Config {
            cut_outs: 50,
            ..Config::default()
        };
        let generator = LayeredGenerator::learn(&config, &Device::Cpu)?;
        let red_0_blue_1 = generator
            .latent(&[object(0, Colour::Red, 0), object(1, Colour::Blue, 2)])?;
        let red_1_blue_0 = generator
            .latent(&[object(1, Colour::Red, 0), object(0, Colour::Blue, 2)])?;
        let neighbours = generator.neighbours(&red_0_blue_1);
        assert!(
            one_paints(&generator, &neighbours, red_1_blue_0)?,
            "no move trades shapes"
        );
        // From one object in the middle, a second comes whole in one move: in
        // each cell of its row or column, in every sprite and colour.
        let alone = generator.latent(&[object(0, Colour::Red, 1)])?;
        let second = generator.layout.second_object();
        let with_second: Vec<Vec<f32>> = generator
            .neighbours(&alone)
            .into_iter()
            .filter(|z| z[second] >= SECOND_OBJECT)
            .collect();
        assert_eq!(with_second.len(), 4 * config.sprites * Colour::ALL.len());
        let pair = generator
            .latent(&[object(0, Colour::Red, 1), object(5, Colour::Yellow, 2)])?;
        assert!(
            one_paints(&generator, &with_second, pair)?,
            "no move adds a yellow sprite 5 on the right"
        );
        Ok(())
    }

    /// Whether one of `latents` paints exactly the picture `target` paints.
    fn one_paints(
        generator: &LayeredGenerator,
        latents: &[Vec<f32>],
        target: Vec<f32>,
    ) -> candle_core::Result<bool> {
        let target = generator.decode_rows(&[target])?;
        let differences =
            (generator.decode_rows(latents)?.broadcast_sub(&target)?)
                .abs()?
                .flatten_from(1)?
                .max(1)?
                .to_vec1::<f32>()?;
        Ok(differences.iter().any(|&d| d < 1e-6))
    }
}
