//! Figures for `log_figure`: the Rust counterpart of MLflow's matplotlib/plotly figures.
//!
//! A matplotlib `Figure` is a drawing that can be saved in any format, chosen by the file
//! name. In Rust the idiomatic equivalent is a [`plotters`] drawing that is generic over the
//! drawing backend: implement [`PlotFigure`] (as plotters' own multi-backend examples write
//! `fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>)`), and `log_plot` renders it
//! to PNG/JPEG/WebP/GIF/BMP through plotters' bitmap backend or to SVG through its SVG
//! backend, by the artifact's extension, like `savefig`. Already finished figures (PNG or SVG
//! bytes from any library, or an `image` crate image) are logged with `log_figure` and a
//! [`Figure`].
//!
//! Text is drawn with fonts bundled in the binary (no system font libraries are needed):
//! Ubuntu Light for `sans-serif`/`serif` and Hack for `monospace`, registered by
//! [`register_default_fonts`]. Register other fonts with `plotters::style::register_font`
//! after calling it.
//!
//! ```
//! use mlscope::artifacts::figure::{Figure, PlotFigure};
//! use plotters::coord::Shift;
//! use plotters::prelude::*;
//!
//! struct Scatter(Vec<(f64, f64)>);
//!
//! impl PlotFigure for Scatter {
//!     fn draw<DB: DrawingBackend>(
//!         &self,
//!         root: &DrawingArea<DB, Shift>,
//!     ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
//!         root.fill(&WHITE)?;
//!         let mut chart = ChartBuilder::on(root)
//!             .caption("scatter", ("sans-serif", 20))
//!             .margin(10)
//!             .x_label_area_size(30)
//!             .y_label_area_size(30)
//!             .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
//!         chart.configure_mesh().draw()?;
//!         chart.draw_series(self.0.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))?;
//!         Ok(())
//!     }
//! }
//!
//! let png = Figure::render(&Scatter(vec![(0.2, 0.4), (0.6, 0.8)]), "plot.png").unwrap();
//! assert!(matches!(png, Figure::Image(_)));
//! ```

use std::sync::Once;

use image::{DynamicImage, ImageFormat, RgbImage};
use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingAreaErrorKind, DrawingBackend, IntoDrawingArea};
use plotters::style::FontStyle;

use super::images::{decode_bytes, encode, format_for_file};
use crate::error::{Error, Result};

/// Largest figure side, in pixels, that is rendered.
pub const MAX_FIGURE_SIDE: u32 = 16_384;

/// A drawing that can be rendered on any plotters backend: the equivalent of a matplotlib
/// figure, saved in the format the artifact's extension names.
pub trait PlotFigure {
    /// Size in pixels (width, height). Default 640×480, matplotlib's default figure size at
    /// 100 dpi.
    fn size(&self) -> (u32, u32) {
        (640, 480)
    }

    /// Draws the figure on `root`.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>>;
}

/// A finished figure.
#[derive(Debug, Clone)]
pub enum Figure {
    /// PNG file bytes.
    Png(Vec<u8>),
    /// SVG document text.
    Svg(String),
    /// A raster image, encoded by the artifact's extension when logged.
    Image(DynamicImage),
}

static FONTS: Once = Once::new();

/// Registers the bundled fonts with plotters (`sans-serif`, `serif`, `monospace`); called
/// before every rendering, runs once.
pub fn register_default_fonts() {
    FONTS.call_once(|| {
        let sans = epaint_default_fonts::UBUNTU_LIGHT;
        let mono = epaint_default_fonts::HACK_REGULAR;
        for (family, bytes) in [
            ("sans-serif", sans),
            ("serif", sans),
            ("Ubuntu", sans),
            ("monospace", mono),
        ] {
            for style in [
                FontStyle::Normal,
                FontStyle::Bold,
                FontStyle::Italic,
                FontStyle::Oblique,
            ] {
                // The bundled fonts are valid; a failure only means text in that family fails.
                let _ = plotters::style::register_font(family, style, bytes);
            }
        }
    });
}

fn draw_error(e: impl std::fmt::Display) -> Error {
    Error::InvalidParameter(format!("the figure could not be drawn: {e}"))
}

fn check_size((w, h): (u32, u32)) -> Result<()> {
    if w == 0 || h == 0 || w > MAX_FIGURE_SIDE || h > MAX_FIGURE_SIDE {
        return Err(Error::InvalidParameter(format!(
            "figure size {w}x{h} is not allowed: each side must be 1..={MAX_FIGURE_SIDE} pixels"
        )));
    }
    Ok(())
}

impl Figure {
    /// Renders a [`PlotFigure`] for the file name `artifact_file`: SVG for `.svg`, otherwise
    /// a raster image (encoded later by the extension).
    pub fn render(plot: &impl PlotFigure, artifact_file: &str) -> Result<Figure> {
        if artifact_file.to_ascii_lowercase().ends_with(".svg") {
            Figure::svg_from_drawing(plot.size(), |root| plot.draw(root))
        } else {
            format_for_file(artifact_file)?;
            Figure::bitmap_from_drawing(plot.size(), |root| plot.draw(root))
        }
    }

    /// Draws on a plotters bitmap of `size` pixels and keeps the result as an image.
    pub fn bitmap_from_drawing<F>(size: (u32, u32), draw: F) -> Result<Figure>
    where
        F: for<'b> FnOnce(
            &DrawingArea<plotters::prelude::BitMapBackend<'b>, Shift>,
        ) -> std::result::Result<
            (),
            DrawingAreaErrorKind<
                <plotters::prelude::BitMapBackend<'b> as DrawingBackend>::ErrorType,
            >,
        >,
    {
        check_size(size)?;
        register_default_fonts();
        let (w, h) = size;
        let mut buf = vec![255u8; w as usize * h as usize * 3];
        {
            let backend = plotters::prelude::BitMapBackend::<plotters::backend::RGBPixel>::with_buffer_and_format(&mut buf, size)
                .map_err(draw_error)?;
            let root = backend.into_drawing_area();
            draw(&root).map_err(draw_error)?;
            root.present().map_err(draw_error)?;
        }
        let img = RgbImage::from_raw(w, h, buf)
            .ok_or_else(|| draw_error("the bitmap has the wrong size"))?;
        Ok(Figure::Image(DynamicImage::ImageRgb8(img)))
    }

    /// Draws on a plotters SVG document of `size` pixels.
    pub fn svg_from_drawing<F>(size: (u32, u32), draw: F) -> Result<Figure>
    where
        F: FnOnce(
            &DrawingArea<plotters::prelude::SVGBackend<'_>, Shift>,
        ) -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>>,
    {
        check_size(size)?;
        register_default_fonts();
        let mut svg = String::new();
        {
            let root =
                plotters::prelude::SVGBackend::with_string(&mut svg, size).into_drawing_area();
            draw(&root).map_err(draw_error)?;
            root.present().map_err(draw_error)?;
        }
        Ok(Figure::Svg(svg))
    }

    /// The bytes to store as `artifact_file`: SVG only as `.svg`; raster figures encoded in the
    /// extension's format (PNG bytes are kept as they are for `.png`).
    pub fn encode_for(&self, artifact_file: &str) -> Result<Vec<u8>> {
        let is_svg = artifact_file.to_ascii_lowercase().ends_with(".svg");
        match self {
            Figure::Svg(s) if is_svg => Ok(s.as_bytes().to_vec()),
            Figure::Svg(_) => Err(Error::InvalidParameter(format!(
                "an SVG figure can only be saved as .svg, not as '{artifact_file}'"
            ))),
            _ if is_svg => Err(Error::InvalidParameter(format!(
                "a raster figure cannot be saved as SVG ('{artifact_file}'); use .png"
            ))),
            Figure::Png(bytes) => {
                let format = format_for_file(artifact_file)?;
                if format == ImageFormat::Png {
                    // Check it is a PNG at all, so a broken figure is not stored.
                    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                        return Err(Error::InvalidParameter(
                            "the figure bytes are not a PNG file".into(),
                        ));
                    }
                    Ok(bytes.clone())
                } else {
                    encode(&decode_bytes(bytes)?, format)
                }
            }
            Figure::Image(img) => encode(img, format_for_file(artifact_file)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    struct Scatter;

    impl PlotFigure for Scatter {
        fn size(&self) -> (u32, u32) {
            (320, 240)
        }
        fn draw<DB: DrawingBackend>(
            &self,
            root: &DrawingArea<DB, Shift>,
        ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(root)
                .caption("scatter ✓", ("sans-serif", 20))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(30)
                .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
            chart.configure_mesh().draw()?;
            chart.draw_series([(0.2, 0.3), (0.7, 0.9)].map(|p| Circle::new(p, 4, RED.filled())))?;
            Ok(())
        }
    }

    #[test]
    fn renders_png_and_svg_with_text() {
        let png = Figure::render(&Scatter, "plots/s.png").unwrap();
        let Figure::Image(img) = &png else {
            panic!("expected an image")
        };
        assert_eq!((img.width(), img.height()), (320, 240));
        // Text was drawn: some pixels are neither white nor the mesh colours only.
        let dark = img
            .to_rgb8()
            .pixels()
            .filter(|p| p.0.iter().all(|&c| c < 100))
            .count();
        assert!(dark > 50, "{dark}");
        let bytes = png.encode_for("s.png").unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
        assert!(png.encode_for("s.jpg").is_ok());
        assert!(png.encode_for("s.svg").is_err());
        let svg = Figure::render(&Scatter, "s.svg").unwrap();
        let text = String::from_utf8(svg.encode_for("s.svg").unwrap()).unwrap();
        assert!(
            text.starts_with("<svg") && text.contains("scatter"),
            "{text}"
        );
        assert!(svg.encode_for("s.png").is_err());
        assert!(Figure::render(&Scatter, "s.txt").is_err());
    }

    #[test]
    fn finished_figures_and_errors() {
        assert!(Figure::Png(b"nope".to_vec()).encode_for("a.png").is_err());
        assert!(Figure::Png(b"nope".to_vec()).encode_for("a.jpg").is_err());
        assert!(Figure::bitmap_from_drawing((0, 10), |_| Ok(())).is_err());
        let failing =
            Figure::bitmap_from_drawing((10, 10), |_| Err(DrawingAreaErrorKind::LayoutError));
        assert!(
            failing
                .unwrap_err()
                .to_string()
                .contains("could not be drawn")
        );
    }
}
