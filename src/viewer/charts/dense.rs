//! Lines too dense to draw as paths, drawn as what they are on screen.
//!
//! Where a run's reduced line has several points in one pixel column spread over more than a few
//! pixels (noise), a path zig-zags up and down through every column, and egui tessellates it on
//! the CPU into a feathered strip: with tens of noisy runs that was most of a frame (millions of
//! vertices). Such a stretch is drawn instead as what the screen shows of it: per pixel column
//! the span from its lowest to its highest point, adjacent columns joined into one feathered
//! strip (the steps between them inside it, as `egui_plot`'s band of a solid line), all of a
//! line's strips in one [`egui::Mesh`] ([`DenseLines`]). The rest of the line (smooth
//! or sparse parts) stays an `egui_plot` line drawn as before, so a smooth curve looks exactly
//! as it did. A dashed or dotted line is dashed along x, in stripes of its dash length anchored
//! to the data, both in its dense columns and on its paths ([`dash_by_x`]), so the metrics of a
//! card stay apart. A card of very many lines draws its dense columns wider than a pixel (at
//! most `MAX_CARD_COLUMNS` columns a card).
//!
//! The card of one metric against another draws a path in two dimensions: its dense paths are
//! rasterised into one grid of cells a point wide for the whole card ([`PairedRaster`]), each
//! cell owned by the last line drawn over it, and drawn as one mesh of a quad per row run of
//! cells, so that what a frame draws is bounded by the card's area, not by the points.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use super::paired::PairedLine;
use egui::{Color32, Mesh, Pos2, Rect, Shape, pos2};
use egui_plot::{
    Line, LineStyle, PlotBounds, PlotGeometry, PlotItem, PlotItemBase, PlotPoint, PlotPoints,
    PlotTransform,
};

/// Least vertical extent, in points, of a pixel column's points (the step in from the column
/// before included) for the column to be drawn as a span: below it the line reads as a line and
/// stays a path.
pub const DENSE_SPAN_PX: f32 = 3.0;

/// Most pixel columns of dense stretches a card of lines draws, all lines together (4 vertices
/// each): past it, columns are several pixels wide.
const MAX_CARD_COLUMNS: f32 = 100_000.0;

/// Dashes of a dense stretch are this fraction of the style's dash length apart (as
/// `egui_plot`'s dashed lines: the golden ratio).
const DASH_GAP: f32 = 0.618;

/// A pixel column of a dense stretch of a line, in screen points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnSpan {
    /// Left edge of the column (a whole number of columns from x = 0).
    pub left: f32,
    /// Right edge.
    pub right: f32,
    /// Top (smallest y) of its points.
    pub top: f32,
    /// Bottom (largest y).
    pub bottom: f32,
    /// Index of the column's first point.
    pub first: usize,
}

/// A line split for drawing: the pixel columns drawn as spans, and the pieces drawn as paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// Dense columns, left to right.
    pub columns: Vec<ColumnSpan>,
    /// Index ranges of the points drawn as paths (each piece shares its end points with the
    /// columns around it, so the line stays connected).
    pub pieces: Vec<Range<usize>>,
}

/// [`split_columns`] with columns a pixel wide (tests).
#[cfg(test)]
pub fn split(screen: &[Pos2]) -> Split {
    split_columns(screen, 1.0)
}

/// Splits a line's points (screen positions, x non-decreasing) into dense columns `width` points
/// wide (one pixel, or more when a card has very many lines) and path pieces. A column is dense
/// when it holds two points or more whose extent is at least [`DENSE_SPAN_PX`]; every segment
/// between two points lies in a dense column's span, in the strip between two adjacent dense
/// columns ([`add_columns`]), or in a path piece.
pub fn split_columns(screen: &[Pos2], width: f32) -> Split {
    let n = screen.len();
    let mut out = Split::default();
    // Where the path piece being collected starts, while segments are not in a column's span.
    let mut piece: Option<usize> = None;
    let mut segment = |k: usize, covered: bool, out: &mut Split| {
        if covered {
            if let Some(a) = piece.take() {
                out.pieces.push(a..k + 1);
            }
        } else if piece.is_none() {
            piece = Some(k);
        }
    };
    // The previous column and whether it is dense.
    let mut prev: Option<(f32, bool)> = None;
    let mut i = 0;
    while i < n {
        let column = (screen[i].x / width).floor() * width;
        let (mut top, mut bottom) = (screen[i].y, screen[i].y);
        let mut j = i + 1;
        // A non-finite position is a column of its own (never dense).
        while j < n && column.is_finite() && (screen[j].x / width).floor() * width == column {
            top = top.min(screen[j].y);
            bottom = bottom.max(screen[j].y);
            j += 1;
        }
        let dense = j - i >= 2 && bottom - top >= DENSE_SPAN_PX;
        if i > 0 {
            // The step in from a dense column just before is in the strip joining the two.
            let joined = prev.is_some_and(|(c, d)| d && c + width == column);
            segment(i - 1, dense && joined, &mut out);
        }
        for k in i..j - 1 {
            segment(k, dense, &mut out);
        }
        if dense {
            out.columns.push(ColumnSpan {
                left: column,
                right: column + width,
                top,
                bottom,
                first: i,
            });
        }
        prev = Some((column, dense));
        i = j;
    }
    if let Some(a) = piece {
        out.pieces.push(a..n);
    } else if n == 1 {
        out.pieces.push(0..1);
    }
    out
}

/// The stripes a line style draws a dense stretch in: (period, drawn part), in points.
fn stripes(style: LineStyle, width: f32) -> Option<(f32, f32)> {
    match style {
        LineStyle::Solid => None,
        LineStyle::Dashed { length } => Some((length * (1.0 + DASH_GAP), length)),
        LineStyle::Dotted { spacing } => Some((spacing.max(2.0), (2.0 * width).min(spacing - 1.0))),
    }
}

/// Whether the pixel column at data x `x` is drawn in stripes of `(period, on)`: the stripes are
/// anchored to the data (they move with it when panning).
fn striped_on(x: f64, px_per_unit: f64, (period, on): (f32, f32)) -> bool {
    let column = (x * px_per_unit).floor();
    (column.rem_euclid(f64::from(period)) as f32) < on
}

/// Width of the transparent fringe along a band's top and bottom edges, in points (egui's
/// feathering: edges are anti-aliased as the line's are).
const FEATHER: f32 = 1.0;

/// Adds `columns` (of a line `width` points wide) to `mesh` as bands: each run of adjacent
/// columns one strip through their spans at the columns' centres, from the left edge of its
/// first column to the right edge of its last, with feathered top and bottom edges (four
/// vertices a column). Only columns inside `clip` and for which `drawn` says so are drawn.
pub fn add_columns(
    mesh: &mut Mesh,
    columns: &[ColumnSpan],
    color: Color32,
    width: f32,
    clip: Rect,
    mut drawn: impl FnMut(&ColumnSpan) -> bool,
) {
    let half = (width * 0.5).max(0.5);
    mesh.reserve_vertices(columns.len() * 4 + 8);
    mesh.reserve_triangles(columns.len() * 6 + 12);
    // A column of the strip's vertices at `x`, joined to the one before when `join`.
    let add = |mesh: &mut Mesh, x: f32, c: &ColumnSpan, join: bool| {
        let base = mesh.vertices.len() as u32;
        let (top, bottom) = (c.top - half, c.bottom + half);
        mesh.colored_vertex(pos2(x, top - FEATHER), Color32::TRANSPARENT);
        mesh.colored_vertex(pos2(x, top), color);
        mesh.colored_vertex(pos2(x, bottom), color);
        mesh.colored_vertex(pos2(x, bottom + FEATHER), Color32::TRANSPARENT);
        if join {
            let prev = base - 4;
            for k in 0..3 {
                mesh.add_triangle(prev + k, prev + k + 1, base + k);
                mesh.add_triangle(prev + k + 1, base + k, base + k + 1);
            }
        }
    };
    // The last column of the strip being drawn.
    let mut open: Option<ColumnSpan> = None;
    for c in columns {
        let shown = c.right >= clip.left() && c.left <= clip.right() && drawn(c);
        match open {
            Some(last) if shown && c.left == last.right => {}
            _ => {
                if let Some(last) = open.take() {
                    add(mesh, last.right, &last, true);
                }
                if !shown {
                    continue;
                }
                add(mesh, c.left, c, false);
            }
        }
        add(mesh, 0.5 * (c.left + c.right), c, true);
        open = Some(*c);
    }
    if let Some(last) = open {
        add(mesh, last.right, &last, true);
    }
}

/// Draws the polyline `screen` (x non-decreasing) in dashes along x: where `x + phase` is in the
/// drawn part of a `(period, on)` stripe, as solid paths cut at the stripes' edges.
pub fn dash_by_x(
    screen: &[Pos2],
    phase: f64,
    (period, on): (f32, f32),
    stroke: egui::Stroke,
    shapes: &mut Vec<Shape>,
) {
    let (period, on) = (f64::from(period), f64::from(on));
    let drawn = |u: f64| u.rem_euclid(period) < on;
    let mut dash: Vec<Pos2> = Vec::new();
    let flush = |dash: &mut Vec<Pos2>, shapes: &mut Vec<Shape>| {
        if dash.len() >= 2 {
            shapes.push(Shape::line(std::mem::take(dash), stroke));
        }
        dash.clear();
    };
    for pair in screen.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let (ua, ub) = (f64::from(a.x) + phase, f64::from(b.x) + phase);
        if !(ua.is_finite() && ub.is_finite()) {
            flush(&mut dash, shapes);
            continue;
        }
        if ub <= ua {
            // A vertical step: drawn whole or not at all, by its stripe.
            if drawn(ua) {
                if dash.last() != Some(&a) {
                    dash.push(a);
                }
                dash.push(b);
            } else {
                flush(&mut dash, shapes);
            }
            continue;
        }
        let at = |u: f64| a + (b - a) * ((u - ua) / (ub - ua)) as f32;
        // The segment cut at the stripes' edges.
        let mut from = ua;
        while from < ub {
            let start = (from / period).floor() * period;
            let (on_part, edge) = if from - start < on {
                (true, start + on)
            } else {
                (false, start + period)
            };
            let to = edge.min(ub);
            if to <= from {
                // Rounding at an edge: no progress to make.
                break;
            }
            if on_part {
                let p = at(from);
                if dash.last() != Some(&p) {
                    dash.push(p);
                }
                dash.push(at(to));
                if to < ub {
                    flush(&mut dash, shapes);
                }
            } else {
                flush(&mut dash, shapes);
            }
            from = to;
        }
    }
    flush(&mut dash, shapes);
}

/// One line of a [`DenseLines`] item.
#[derive(Debug, Clone, Copy)]
pub struct LineDraw<'a> {
    /// Its points, x non-decreasing.
    pub points: &'a [PlotPoint],
    /// Colour.
    pub color: Color32,
    /// Style (a dashed line's dense stretches are drawn in stripes).
    pub style: LineStyle,
    /// Width in points.
    pub width: f32,
}

/// The lines of a card as one plot item: each line's dense columns as one mesh, its other
/// parts as `egui_plot` lines, in the given order (the last one on top).
pub struct DenseLines<'a> {
    base: PlotItemBase,
    lines: Vec<LineDraw<'a>>,
    bounds: PlotBounds,
}

/// Where a card's lines lie, computed once per lines (not every frame).
#[derive(Debug, Clone, Copy)]
pub struct Extent {
    /// The bounds of the lines drawn (not hidden), raw and smoothed.
    pub drawn: PlotBounds,
    /// The lowest and highest x of every line's raw points, hidden ones included.
    pub x_all: (f64, f64),
}

impl Extent {
    /// The extent of `lines`.
    pub fn of(lines: &[super::RunLines]) -> Extent {
        let mut drawn = PlotBounds::NOTHING;
        let mut x_all = (f64::INFINITY, f64::NEG_INFINITY);
        for l in lines {
            for p in l.raw.iter().flatten() {
                x_all = (x_all.0.min(p.x), x_all.1.max(p.x));
            }
            if !l.hidden {
                for p in l.raw.iter().chain(&l.smooth).flatten() {
                    drawn.extend_with(p);
                }
            }
        }
        Extent { drawn, x_all }
    }
}

impl<'a> DenseLines<'a> {
    /// The item of `lines`, drawn in order, within `bounds` (for the plot's automatic bounds).
    pub fn new(name: &str, lines: Vec<LineDraw<'a>>, bounds: PlotBounds) -> DenseLines<'a> {
        DenseLines {
            base: PlotItemBase::new(name.to_string()),
            lines,
            bounds,
        }
    }
}

/// `transform`'s mapping of plot points to the screen as one multiplication and addition a
/// coordinate (what `position_from_point` computes, without its per-point range set-up).
fn affine(transform: &PlotTransform) -> impl Fn(&PlotPoint) -> Pos2 {
    let b = transform.bounds();
    let origin = PlotPoint::new(b.min()[0], b.min()[1]);
    let at = transform.position_from_point(&origin);
    let (sx, sy) = (transform.dpos_dvalue_x(), transform.dpos_dvalue_y());
    let (ox, oy) = (f64::from(at.x), f64::from(at.y));
    move |p: &PlotPoint| {
        pos2(
            (ox + (p.x - origin.x) * sx) as f32,
            (oy + (p.y - origin.y) * sy) as f32,
        )
    }
}

impl PlotItem for DenseLines<'_> {
    fn shapes(&self, ui: &egui::Ui, transform: &PlotTransform, shapes: &mut Vec<Shape>) {
        let px_per_unit = transform.dpos_dvalue_x();
        let clip = *transform.frame();
        let to_screen = affine(transform);
        // Columns wider than a pixel when the card has very many lines: what a frame draws
        // stays within a budget of columns (a band of hundreds of noisy lines is a blur anyway).
        let columns = self.lines.len() as f32 * clip.width().max(1.0);
        let width = (columns / MAX_CARD_COLUMNS).ceil().max(1.0);
        let mut screen = Vec::new();
        for l in &self.lines {
            screen.clear();
            screen.extend(l.points.iter().map(&to_screen));
            let split = split_columns(&screen, width);
            if !split.columns.is_empty() {
                let mut mesh = Mesh::default();
                let stripes = stripes(l.style, l.width);
                add_columns(&mut mesh, &split.columns, l.color, l.width, clip, |c| {
                    stripes.is_none_or(|s| striped_on(l.points[c.first].x, px_per_unit, s))
                });
                if !mesh.is_empty() {
                    shapes.push(Shape::mesh(mesh));
                }
            }
            let stripes = stripes(l.style, l.width);
            for piece in split.pieces {
                match stripes {
                    // Dashes along x, as the dense columns' stripes: a noisy stretch is not cut
                    // into a dash every few pixels of its zig-zag (thousands of little paths).
                    Some(s) if piece.len() > 1 => {
                        // The screen x of data x = 0, so that the stripes stay on the data.
                        let phase =
                            f64::from(clip.left()) - transform.bounds().min()[0] * px_per_unit;
                        dash_by_x(
                            &screen[piece],
                            -phase,
                            s,
                            egui::Stroke::new(l.width, l.color),
                            shapes,
                        );
                    }
                    _ => Line::new("", PlotPoints::Borrowed(&l.points[piece]))
                        .color(l.color)
                        .style(l.style)
                        .width(l.width)
                        .shapes(ui, transform, shapes),
                }
            }
        }
    }

    fn initialize(&mut self, _x_range: std::ops::RangeInclusive<f64>) {}

    fn color(&self) -> Color32 {
        self.lines.first().map_or(Color32::TRANSPARENT, |l| l.color)
    }

    fn allow_hover(&self) -> bool {
        false
    }

    fn geometry(&self) -> PlotGeometry<'_> {
        PlotGeometry::None
    }

    fn bounds(&self) -> PlotBounds {
        self.bounds
    }

    fn base(&self) -> &PlotItemBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut PlotItemBase {
        &mut self.base
    }
}

/// A rasterised card: the lines it was made from and their bounds, and the view it was drawn
/// for and its mesh.
#[derive(Default)]
pub struct RasterMemo {
    lines: Option<(u64, PlotBounds)>,
    mesh: Option<(u64, Arc<Mesh>)>,
}

/// Paths rasterised into one grid of cells a point wide over the plot, as one mesh: a quad per
/// row run of cells owned by the same path (the last path over a cell owns it). Rebuilt when
/// the view or the paths change; the same mesh is drawn again otherwise.
pub struct PairedRaster {
    base: PlotItemBase,
    lines: Arc<Vec<PairedLine>>,
    /// What the paths were built from (the card's lines memo).
    fingerprint: u64,
    bounds: PlotBounds,
    memo: Arc<Mutex<RasterMemo>>,
}

impl PairedRaster {
    /// The item of the dense paths of `lines` (those with [`PairedLine::dense`]), built for
    /// `fingerprint`, remembering its mesh in `memo`.
    pub fn new(
        lines: Arc<Vec<PairedLine>>,
        fingerprint: u64,
        memo: Arc<Mutex<RasterMemo>>,
    ) -> PairedRaster {
        // The bounds of every point, once per lines (not every frame).
        let bounds = {
            let mut m = memo
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match m.lines {
                Some((f, bounds)) if f == fingerprint => bounds,
                _ => {
                    let mut bounds = PlotBounds::NOTHING;
                    for p in lines.iter().filter_map(|l| l.dense.as_ref()).flatten() {
                        bounds.extend_with(p);
                    }
                    m.lines = Some((fingerprint, bounds));
                    bounds
                }
            }
        };
        PairedRaster {
            base: PlotItemBase::new("dense paths".to_string()),
            lines,
            fingerprint,
            bounds,
            memo,
        }
    }
}

/// The cells of `paths` (points joined by straight segments, and their style: dashes and dots
/// follow the path's length) on a `size` grid of cells a point wide over `transform`'s frame:
/// per cell the index + 1 of the last path over it (0: none).
pub fn rasterise(
    paths: &[(&[PlotPoint], LineStyle)],
    transform: &PlotTransform,
    size: [usize; 2],
) -> Vec<u32> {
    let [w, h] = size;
    let mut cells = vec![0u32; w * h];
    let origin = transform.frame().min;
    let to_screen = affine(transform);
    for (index, &(points, style)) in paths.iter().enumerate() {
        let owner = index as u32 + 1;
        let stripes = stripes(style, 1.0);
        // Length of the path so far (dashes follow it).
        let mut travelled = 0.0f32;
        let mut last: Option<Pos2> = None;
        for p in points {
            let s = to_screen(p) - origin.to_vec2();
            let s = pos2(s.x, s.y);
            let Some(a) = last.replace(s) else {
                mark(&mut cells, size, s, owner);
                continue;
            };
            let d = s - a;
            // The length only matters to dashes (a square root a segment otherwise).
            let length = if stripes.is_some() { d.length() } else { 0.0 };
            if !(d.x.is_finite() && d.y.is_finite() && length.is_finite()) {
                continue;
            }
            // A step at most a cell long; segments wholly off the grid are skipped.
            let off = (a.x < 0.0 && s.x < 0.0)
                || (a.y < 0.0 && s.y < 0.0)
                || (a.x >= w as f32 && s.x >= w as f32)
                || (a.y >= h as f32 && s.y >= h as f32);
            if !off {
                let steps = d.x.abs().max(d.y.abs()).ceil().max(1.0) as usize;
                let step = d / steps as f32;
                let mut at = a;
                match stripes {
                    None => {
                        for _ in 0..steps {
                            at += step;
                            mark(&mut cells, size, at, owner);
                        }
                    }
                    Some((period, on)) => {
                        let step_length = length / steps as f32;
                        let mut along = travelled;
                        for _ in 0..steps {
                            at += step;
                            along += step_length;
                            if along.rem_euclid(period) < on {
                                mark(&mut cells, size, at, owner);
                            }
                        }
                    }
                }
            }
            travelled += length;
        }
    }
    cells
}

fn mark(cells: &mut [u32], [w, h]: [usize; 2], p: Pos2, owner: u32) {
    if p.x >= 0.0 && p.y >= 0.0 {
        let (x, y) = (p.x as usize, p.y as usize);
        if x < w && y < h {
            cells[y * w + x] = owner;
        }
    }
}

/// The mesh of rasterised cells (see [`rasterise`]) at `origin`: a quad per row run of cells
/// with one owner, in its path's colour.
pub fn cells_mesh(cells: &[u32], w: usize, origin: Pos2, colors: &[Color32]) -> Mesh {
    let mut mesh = Mesh::default();
    if w == 0 {
        return mesh;
    }
    for (y, row) in cells.chunks(w).enumerate() {
        let mut x = 0;
        while x < w {
            let owner = row[x];
            let start = x;
            while x < w && row[x] == owner {
                x += 1;
            }
            if owner == 0 {
                continue;
            }
            let Some(&color) = colors.get(owner as usize - 1) else {
                continue;
            };
            mesh.add_colored_rect(
                Rect::from_min_max(
                    origin + egui::vec2(start as f32, y as f32),
                    origin + egui::vec2(x as f32, y as f32 + 1.0),
                ),
                color,
            );
        }
    }
    mesh
}

impl PlotItem for PairedRaster {
    fn shapes(&self, _ui: &egui::Ui, transform: &PlotTransform, shapes: &mut Vec<Shape>) {
        use std::hash::{Hash, Hasher};
        let frame = *transform.frame();
        let b = transform.bounds();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.fingerprint.hash(&mut h);
        for v in [b.min()[0], b.min()[1], b.max()[0], b.max()[1]] {
            v.to_bits().hash(&mut h);
        }
        for v in [frame.min.x, frame.min.y, frame.max.x, frame.max.y] {
            v.to_bits().hash(&mut h);
        }
        let key = h.finish();
        // A poisoned lock only means a panic elsewhere: the memo is rebuilt.
        let mut memo = self
            .memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mesh = match memo.mesh.as_ref() {
            Some((k, mesh)) if *k == key => Arc::clone(mesh),
            _ => {
                let size = [
                    frame.width().ceil().max(0.0) as usize,
                    frame.height().ceil().max(0.0) as usize,
                ];
                let dense: Vec<&PairedLine> =
                    self.lines.iter().filter(|l| l.dense.is_some()).collect();
                let paths: Vec<(&[PlotPoint], LineStyle)> = dense
                    .iter()
                    .filter_map(|l| {
                        Some((l.dense.as_deref()?, super::menu::metric_style(l.metric)))
                    })
                    .collect();
                let cells = rasterise(&paths, transform, size);
                let colors: Vec<Color32> = dense.iter().map(|l| l.color).collect();
                let mesh = Arc::new(cells_mesh(&cells, size[0], frame.min, &colors));
                memo.mesh = Some((key, Arc::clone(&mesh)));
                mesh
            }
        };
        if !mesh.is_empty() {
            shapes.push(Shape::Mesh(mesh));
        }
    }

    fn initialize(&mut self, _x_range: std::ops::RangeInclusive<f64>) {}

    fn color(&self) -> Color32 {
        self.lines.first().map_or(Color32::TRANSPARENT, |l| l.color)
    }

    fn allow_hover(&self) -> bool {
        false
    }

    fn geometry(&self) -> PlotGeometry<'_> {
        PlotGeometry::None
    }

    fn bounds(&self) -> PlotBounds {
        self.bounds
    }

    fn base(&self) -> &PlotItemBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut PlotItemBase {
        &mut self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random number in `0..1` (a fixed sequence).
    fn noise(state: &mut u64) -> f32 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*state >> 40) as f32 / (1u64 << 24) as f32
    }

    /// `n` noisy points over `width` points of screen, about `amplitude` tall around y = 100.
    fn noisy(n: usize, width: f32, amplitude: f32) -> Vec<Pos2> {
        let mut state = 7;
        (0..n)
            .map(|i| {
                pos2(
                    10.0 + width * i as f32 / n as f32,
                    100.0 + amplitude * noise(&mut state),
                )
            })
            .collect()
    }

    /// Whether the segment from point `k` to `k + 1` is drawn: in a path piece, or each end
    /// within the span of its dense column, the two columns the same or adjacent (joined by the
    /// strip).
    fn drawn(screen: &[Pos2], split: &Split, k: usize) -> bool {
        let in_piece = split.pieces.iter().any(|r| r.start <= k && k + 1 < r.end);
        let column_of = |p: Pos2| {
            split
                .columns
                .iter()
                .find(|c| c.left == p.x.floor() && (c.top..=c.bottom).contains(&p.y))
        };
        let in_strip = match (column_of(screen[k]), column_of(screen[k + 1])) {
            (Some(a), Some(b)) => b.left - a.left <= 1.0,
            _ => false,
        };
        in_piece || in_strip
    }

    #[test]
    fn a_dense_columns_span_covers_the_lowest_and_highest_of_its_points() {
        let screen = noisy(20_000, 400.0, 40.0);
        let split = split(&screen);
        assert!(
            split.columns.len() >= 395,
            "{} columns",
            split.columns.len()
        );
        for c in &split.columns {
            let ys: Vec<f32> = screen
                .iter()
                .filter(|p| p.x.floor() == c.left)
                .map(|p| p.y)
                .collect();
            let lo = ys.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = ys.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert!(c.top <= lo && hi <= c.bottom, "{c:?}: {lo}..{hi}");
        }
        for k in 0..screen.len() - 1 {
            assert!(
                drawn(&screen, &split, k),
                "segment {k} not drawn: {:.6?} {:.6?} {:?} {:?}",
                screen[k],
                screen[k + 1],
                split
                    .columns
                    .iter()
                    .filter(|c| (c.left - screen[k].x).abs() < 2.0)
                    .collect::<Vec<_>>(),
                split
                    .pieces
                    .iter()
                    .filter(|r| r.start <= k + 1 && k <= r.end)
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_dense_lines_vertices_are_bounded_by_its_width_in_pixels() {
        for n in [2_000, 20_000, 200_000] {
            let screen = noisy(n, 400.0, 40.0);
            let split = split(&screen);
            let mut mesh = Mesh::default();
            let clip = Rect::from_min_max(pos2(0.0, 0.0), pos2(1000.0, 1000.0));
            add_columns(&mut mesh, &split.columns, Color32::RED, 1.2, clip, |_| true);
            // Four vertices a column, and four at each end of a strip.
            assert!(
                mesh.vertices.len() <= 4 * 403,
                "{n} points: {}",
                mesh.vertices.len()
            );
            // Nothing is left to paths but the edges.
            let in_pieces: usize = split.pieces.iter().map(ExactSizeIterator::len).sum();
            assert!(in_pieces <= 4, "{n} points: {in_pieces} in paths");
        }
    }

    #[test]
    fn adjacent_columns_are_one_feathered_strip_from_edge_to_edge() {
        let column = |left: f32, top: f32| ColumnSpan {
            left,
            right: left + 1.0,
            top,
            bottom: top + 10.0,
            first: 0,
        };
        let columns = [
            column(10.0, 0.0),
            column(11.0, 5.0),
            column(12.0, 2.0),
            column(20.0, 0.0),
        ];
        let clip = Rect::from_min_max(pos2(0.0, -50.0), pos2(100.0, 50.0));
        let mut mesh = Mesh::default();
        add_columns(&mut mesh, &columns, Color32::RED, 2.0, clip, |_| true);
        // Three columns and two ends, then one column and two ends; four vertices each.
        assert_eq!(mesh.vertices.len(), 4 * (5 + 3));
        assert_eq!(mesh.indices.len(), 3 * 6 * (4 + 2));
        let xs: Vec<f32> = mesh.vertices.iter().step_by(4).map(|v| v.pos.x).collect();
        assert_eq!(xs, [10.0, 10.5, 11.5, 12.5, 13.0, 20.0, 20.5, 21.0]);
        // The core covers the span and half the width; the fringe fades out beyond it.
        let first: Vec<(f32, Color32)> = mesh.vertices[4..8]
            .iter()
            .map(|v| (v.pos.y, v.color))
            .collect();
        assert_eq!(
            first,
            [
                (-2.0, Color32::TRANSPARENT),
                (-1.0, Color32::RED),
                (11.0, Color32::RED),
                (12.0, Color32::TRANSPARENT)
            ]
        );
        // Columns not drawn (a dash's gap, outside the clip) break the strip.
        let mut mesh = Mesh::default();
        add_columns(&mut mesh, &columns, Color32::RED, 2.0, clip, |c| {
            c.left != 11.0
        });
        assert_eq!(mesh.vertices.len(), 4 * (3 + 3 + 3));
    }

    #[test]
    fn wider_columns_keep_every_points_span_in_fewer_columns() {
        let screen = noisy(20_000, 400.0, 40.0);
        let split = split_columns(&screen, 4.0);
        assert!(
            (99..=101).contains(&split.columns.len()),
            "{}",
            split.columns.len()
        );
        for c in &split.columns {
            assert_eq!(c.right - c.left, 4.0);
            for p in screen.iter().filter(|p| (c.left..c.right).contains(&p.x)) {
                assert!((c.top..=c.bottom).contains(&p.y), "{p:?} outside {c:?}");
            }
        }
        let mut mesh = Mesh::default();
        let clip = Rect::from_min_max(pos2(0.0, 0.0), pos2(1000.0, 1000.0));
        add_columns(&mut mesh, &split.columns, Color32::RED, 1.2, clip, |_| true);
        assert!(mesh.vertices.len() <= 4 * 103);
    }

    #[test]
    fn a_smooth_line_is_left_whole_to_the_line_drawing() {
        // Four points per pixel column of a gentle curve: less than a pixel tall per column.
        let screen: Vec<Pos2> = (0..1600)
            .map(|i| {
                let t = i as f32 / 4.0;
                pos2(10.0 + t, 200.0 - 100.0 / (1.0 + t / 40.0))
            })
            .collect();
        let whole = split(&screen);
        assert!(whole.columns.is_empty());
        assert_eq!(whole.pieces, std::slice::from_ref(&(0..1600)));
        // One point, and one point per column: paths too.
        assert_eq!(split(&screen[..1]).pieces, std::slice::from_ref(&(0..1)));
        let sparse = noisy(100, 400.0, 40.0);
        assert_eq!(split(&sparse).pieces, std::slice::from_ref(&(0..100)));
        assert!(split(&[]).pieces.is_empty());
    }

    #[test]
    fn a_line_smooth_then_noisy_is_a_path_then_columns_joined() {
        let mut screen: Vec<Pos2> = (0..400)
            .map(|i| pos2(10.0 + i as f32 / 4.0, 100.0))
            .collect();
        screen.extend(
            noisy(4000, 100.0, 30.0)
                .into_iter()
                .map(|p| pos2(p.x + 100.0, p.y)),
        );
        let split = split(&screen);
        assert_eq!(split.pieces.len(), 1);
        assert_eq!(split.pieces[0].start, 0);
        assert!(
            (400..420).contains(&split.pieces[0].end),
            "{:?}",
            split.pieces
        );
        assert!(split.columns.len() >= 99);
        for k in 0..screen.len() - 1 {
            assert!(drawn(&screen, &split, k), "segment {k} not drawn");
        }
    }

    #[test]
    fn dashed_dense_stretches_are_drawn_in_stripes() {
        let on = |x: f64| striped_on(x, 1.0, (13.0, 8.0));
        let drawn = (0..130).filter(|&x| on(f64::from(x))).count();
        assert_eq!(drawn, 80);
        assert!(on(0.0) && on(7.9) && !on(8.0) && !on(12.9) && on(13.0));
        // Anchored to the data: the same x is on at any pan.
        assert_eq!(on(-5.0), on(8.0));
        assert_eq!(stripes(LineStyle::Solid, 1.0), None);
    }

    #[test]
    fn dashes_along_x_cut_a_zig_zag_at_the_stripes_only() {
        // One point a pixel, jumping 40 px each time: dashes along its length would be
        // thousands of little paths.
        let screen: Vec<Pos2> = (0..1000)
            .map(|i| pos2(i as f32, if i % 2 == 0 { 0.0 } else { 40.0 }))
            .collect();
        let mut shapes = Vec::new();
        let stroke = egui::Stroke::new(1.2, Color32::RED);
        dash_by_x(&screen, 0.0, (13.0, 8.0), stroke, &mut shapes);
        // A dash per stripe (1000 / 13), each the zig-zag within its 8 px.
        assert!((76..=78).contains(&shapes.len()), "{} dashes", shapes.len());
        let mut points = 0;
        for shape in &shapes {
            let Shape::Path(path) = shape else {
                panic!("not a path: {shape:?}");
            };
            points += path.points.len();
            for p in &path.points {
                let u = f64::from(p.x).rem_euclid(13.0);
                assert!(u <= 8.0 + 1e-3 || u >= 13.0 - 1e-3, "{p:?} in a gap");
            }
        }
        // About the points of the drawn part, and the stripes' edges.
        assert!(
            points <= 1000 * 8 / 13 + 2 * shapes.len() + 2,
            "{points} points"
        );
        // A smooth line keeps its shape within the dashes.
        let line = [pos2(0.0, 0.0), pos2(26.0, 26.0)];
        let mut shapes = Vec::new();
        dash_by_x(&line, 0.0, (13.0, 8.0), stroke, &mut shapes);
        let ends: Vec<Vec<Pos2>> = shapes
            .iter()
            .map(|s| match s {
                Shape::Path(p) => p.points.clone(),
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(
            ends,
            [
                vec![pos2(0.0, 0.0), pos2(8.0, 8.0)],
                vec![pos2(13.0, 13.0), pos2(21.0, 21.0)]
            ]
        );
    }

    fn transform(size: f32, range: f64) -> PlotTransform {
        PlotTransform::new(
            Rect::from_min_size(pos2(50.0, 20.0), egui::vec2(size, size)),
            PlotBounds::from_min_max([0.0, 0.0], [range, range]),
            egui::Vec2b::new(false, false),
        )
    }

    #[test]
    fn the_affine_mapping_places_points_where_the_plot_does() {
        let t = PlotTransform::new(
            Rect::from_min_size(pos2(50.0, 20.0), egui::vec2(400.0, 300.0)),
            PlotBounds::from_min_max([1.7e9, -3.0], [1.7e9 + 3600.0, 5.0]),
            egui::Vec2b::new(false, false),
        );
        let to_screen = affine(&t);
        for (x, y) in [(1.7e9, -3.0), (1.7e9 + 1234.5, 0.25), (1.7e9 + 3600.0, 5.0)] {
            let p = PlotPoint::new(x, y);
            let (a, b) = (to_screen(&p), t.position_from_point(&p));
            assert!((a - b).length() < 1e-3, "{p:?}: {a:?} against {b:?}");
        }
    }

    #[test]
    fn a_rasterised_scribble_is_bounded_by_the_cards_area() {
        let t = transform(200.0, 1.0);
        let mut state = 3;
        let mut points = Vec::new();
        for i in 0..100_000 {
            let c = i as f64 / 100_000.0;
            points.push(PlotPoint::new(
                c + 0.05 * f64::from(noise(&mut state)),
                c + 0.05 * f64::from(noise(&mut state)),
            ));
        }
        let cells = rasterise(&[(&points, LineStyle::Solid)], &t, [200, 200]);
        let marked = cells.iter().filter(|&&c| c == 1).count();
        // A band along the diagonal about 10 cells wide, every cell of it crossed.
        assert!(marked > 1_500 && marked < 4_000, "{marked} cells");
        let mesh = cells_mesh(&cells, 200, t.frame().min, &[Color32::RED]);
        assert!(mesh.vertices.len() <= 4 * marked);
        assert!(
            mesh.vertices.len() <= 4 * 200 * 20,
            "{}",
            mesh.vertices.len()
        );
        // Every point's cell is marked.
        for p in points.iter().step_by(997) {
            let s = t.position_from_point(p) - t.frame().min;
            let (x, y) = (s.x as usize, s.y as usize);
            assert_eq!(cells[y.min(199) * 200 + x.min(199)], 1, "{p:?}");
        }
    }

    #[test]
    fn rasterised_paths_are_continuous_and_later_paths_own_their_cells() {
        let t = transform(100.0, 100.0);
        let across = [PlotPoint::new(0.5, 50.5), PlotPoint::new(99.5, 50.5)];
        let down = [PlotPoint::new(30.5, 0.5), PlotPoint::new(30.5, 99.5)];
        let cells = rasterise(
            &[(&across, LineStyle::Solid), (&down, LineStyle::Solid)],
            &t,
            [100, 100],
        );
        // y up on screen: plot y 50.5 is row 49.
        let row: Vec<u32> = cells[49 * 100..50 * 100].to_vec();
        assert!(
            row.iter()
                .enumerate()
                .all(|(x, &c)| c == if x == 30 { 2 } else { 1 })
        );
        assert_eq!((0..100).filter(|y| cells[y * 100 + 30] == 2).count(), 100);
        // Two runs of one path around the cell of the other: three quads in that row.
        let mesh = cells_mesh(&cells, 100, t.frame().min, &[Color32::RED, Color32::BLUE]);
        assert_eq!(mesh.vertices.len(), 4 * (3 + 99));
        // A dashed path marks part of its length.
        let dashed = rasterise(
            &[(&across, LineStyle::Dashed { length: 8.0 })],
            &t,
            [100, 100],
        );
        let marked = dashed.iter().filter(|&&c| c == 1).count();
        assert!((55..70).contains(&marked), "{marked}");
    }
}
