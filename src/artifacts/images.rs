//! Images as MLflow logs them: the file names of `log_image(key=…, step=…)` in both the
//! MLflow 3.11+ form (`+`, `~`) and the older one (`%`, `#`), the 256 px `.webp` thumbnail,
//! and conversion of raw pixel buffers the way MLflow converts numpy arrays.
//!
//! ```
//! use mlscope::artifacts::images::ImageStepFile;
//! let f = ImageStepFile::parse(
//!     "images/samples~train+step+2+timestamp+1700005000002+bf316df3-f037-46c7-9e34-012aca08f4f6+compressed.webp",
//! ).unwrap();
//! assert_eq!((f.key.as_str(), f.step, f.timestamp, f.is_thumbnail), ("samples/train", 2, 1700005000002, true));
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, imageops::FilterType};

use super::FileInfo;
use crate::error::{Error, Result};

/// Directory (under the artifact root) of image-step files.
pub const IMAGES_DIR: &str = "images";
/// Longer side, in pixels, of MLflow's image thumbnails (`COMPRESSED_IMAGE_SIZE`).
pub const THUMBNAIL_SIZE: u32 = 256;

/// Which file-naming scheme an image-step file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ImageNameStyle {
    /// MLflow 3.11+: `+` separates fields, `~` stands for `/` in the key.
    #[default]
    Current,
    /// MLflow ≤ 3.10: `%` separates fields, `#` stands for `/` in the key.
    Legacy,
}

impl ImageNameStyle {
    fn separator(self) -> char {
        match self {
            ImageNameStyle::Current => '+',
            ImageNameStyle::Legacy => '%',
        }
    }
    fn slash(self) -> char {
        match self {
            ImageNameStyle::Current => '~',
            ImageNameStyle::Legacy => '#',
        }
    }
}

/// One file of an image series logged with `log_image(key=…, step=…)`:
/// `images/<key>+step+<step>+timestamp+<ms>+<uuid>[+compressed].<ext>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageStepFile {
    /// The image key, with `/` restored (e.g. `samples/train`).
    pub key: String,
    /// Training step.
    pub step: i64,
    /// When the image was logged, epoch ms.
    pub timestamp: i64,
    /// The uuid4 (with dashes) that makes the name unique.
    pub uuid: String,
    /// Whether this is the 256 px `+compressed.webp` thumbnail.
    pub is_thumbnail: bool,
    /// File extension without the dot (`png`, `webp`).
    pub extension: String,
    /// Naming scheme.
    pub style: ImageNameStyle,
}

impl ImageStepFile {
    /// Parses a file name, with or without the leading `images/`, the way MLflow's UI does
    /// (`%` is tried first, then `+`; `~` and `#` in the key become `/`). `None` when the name
    /// is not an image-step name.
    pub fn parse(path: &str) -> Option<ImageStepFile> {
        let name = path.strip_prefix("images/").unwrap_or(path);
        let name = name.rsplit('/').next().unwrap_or(name);
        let (stem, extension) = name.rsplit_once('.')?;
        let style = if stem.contains('%') {
            ImageNameStyle::Legacy
        } else if stem.contains('+') {
            ImageNameStyle::Current
        } else {
            return None;
        };
        let parts: Vec<&str> = stem.split(style.separator()).collect();
        let is_thumbnail = match parts.len() {
            6 => false,
            7 if parts[6] == "compressed" => true,
            _ => return None,
        };
        if parts[1] != "step" || parts[3] != "timestamp" || parts[0].is_empty() {
            return None;
        }
        let step = parts[2].parse::<i64>().ok()?;
        let timestamp = parts[4].parse::<i64>().ok()?;
        if parts[5].is_empty() {
            return None;
        }
        Some(ImageStepFile {
            key: parts[0].replace(['~', '#'], "/"),
            step,
            timestamp,
            uuid: parts[5].to_string(),
            is_thumbnail,
            extension: extension.to_string(),
            style,
        })
    }

    /// The name without extension and without `+compressed`: what the full image and its
    /// thumbnail share (the UI's `fileKey`).
    pub fn file_key(&self) -> String {
        let sep = self.style.separator();
        let key = self.key.replace('/', &self.style.slash().to_string());
        format!(
            "{key}{sep}step{sep}{}{sep}timestamp{sep}{}{sep}{}",
            self.step, self.timestamp, self.uuid
        )
    }

    /// The file name, e.g. `a~b+step+3+timestamp+…+<uuid>+compressed.webp`.
    pub fn file_name(&self) -> String {
        let sep = self.style.separator();
        if self.is_thumbnail {
            format!("{}{sep}compressed.{}", self.file_key(), self.extension)
        } else {
            format!("{}.{}", self.file_key(), self.extension)
        }
    }

    /// The run-relative artifact path (`images/<file name>`).
    pub fn artifact_path(&self) -> String {
        format!("{IMAGES_DIR}/{}", self.file_name())
    }

    /// The (full image, thumbnail) pair MLflow 3.11+ writes for a new step image.
    pub fn new_pair(key: &str, step: i64, timestamp: i64) -> (ImageStepFile, ImageStepFile) {
        let full = ImageStepFile {
            key: key.to_string(),
            step,
            timestamp,
            uuid: uuid::Uuid::new_v4().hyphenated().to_string(),
            is_thumbnail: false,
            extension: "png".into(),
            style: ImageNameStyle::Current,
        };
        let thumb = ImageStepFile {
            is_thumbnail: true,
            extension: "webp".into(),
            ..full.clone()
        };
        (full, thumb)
    }
}

/// Checks an image key against MLflow's rule `^[a-zA-Z0-9_\-./ ]+$`.
pub fn validate_image_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./ ".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "The `key` parameter may only contain alphanumerics, underscores (_), dashes (-), \
             periods (.), spaces ( ), and slashes (/). The provided key `{key}` contains invalid \
             characters."
        )))
    }
}

/// One step of an image series: the full image and its thumbnail (as the MLflow UI pairs them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageStep {
    /// Training step.
    pub step: i64,
    /// When it was logged, epoch ms.
    pub timestamp: i64,
    /// Shared name stem (see [`ImageStepFile::file_key`]).
    pub file_key: String,
    /// Artifact path of the full image, if present.
    pub filepath: Option<String>,
    /// Artifact path of the thumbnail, if present.
    pub compressed_filepath: Option<String>,
}

/// Groups a listing of `images/` into series by key, each sorted by (step, timestamp), the way
/// the MLflow UI does: only `.png` and `.webp` files with image-step names count; other files
/// are ignored.
pub fn image_series(files: &[FileInfo]) -> BTreeMap<String, Vec<ImageStep>> {
    let mut by_key: BTreeMap<String, BTreeMap<String, ImageStep>> = BTreeMap::new();
    for f in files.iter().filter(|f| !f.is_dir) {
        let Some(parsed) = ImageStepFile::parse(&f.path) else {
            continue;
        };
        if parsed.extension != "png" && parsed.extension != "webp" {
            continue;
        }
        let file_key = parsed.file_key();
        let entry = by_key
            .entry(parsed.key.clone())
            .or_default()
            .entry(file_key.clone())
            .or_insert_with(|| ImageStep {
                step: parsed.step,
                timestamp: parsed.timestamp,
                file_key,
                filepath: None,
                compressed_filepath: None,
            });
        if parsed.is_thumbnail {
            entry.compressed_filepath = Some(f.path.clone());
        } else {
            entry.filepath = Some(f.path.clone());
        }
    }
    by_key
        .into_iter()
        .map(|(k, steps)| {
            let mut v: Vec<ImageStep> = steps.into_values().collect();
            v.sort_by(|a, b| {
                (a.step, a.timestamp, &a.file_key).cmp(&(b.step, b.timestamp, &b.file_key))
            });
            (k, v)
        })
        .collect()
}

// ----- pixel buffers -----------------------------------------------------------------------

/// Pixel values of a raw buffer, in row-major `(H, W[, C])` order.
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    /// 8-bit values, used as they are.
    U8(&'a [u8]),
    /// Floats expected in `[0, 1]`; as MLflow does, values outside are min-max rescaled, then
    /// scaled by 255 and truncated.
    F32(&'a [f32]),
    /// Like `F32`.
    F64(&'a [f64]),
}

impl Pixels<'_> {
    fn len(&self) -> usize {
        match self {
            Pixels::U8(d) => d.len(),
            Pixels::F32(d) => d.len(),
            Pixels::F64(d) => d.len(),
        }
    }
}

/// A raw image buffer with a numpy-style shape: `[H, W]` or `[H, W, 1]` (grayscale),
/// `[H, W, 3]` (RGB) or `[H, W, 4]` (RGBA).
#[derive(Debug, Clone, Copy)]
pub struct RawImage<'a> {
    /// The values.
    pub pixels: Pixels<'a>,
    /// The shape.
    pub shape: &'a [usize],
}

impl<'a> RawImage<'a> {
    /// An image from 8-bit values.
    pub fn u8(data: &'a [u8], shape: &'a [usize]) -> Self {
        RawImage {
            pixels: Pixels::U8(data),
            shape,
        }
    }

    /// An image from `f32` values in `[0, 1]`.
    pub fn f32(data: &'a [f32], shape: &'a [usize]) -> Self {
        RawImage {
            pixels: Pixels::F32(data),
            shape,
        }
    }

    /// An image from `f64` values in `[0, 1]`.
    pub fn f64(data: &'a [f64], shape: &'a [usize]) -> Self {
        RawImage {
            pixels: Pixels::F64(data),
            shape,
        }
    }

    /// Converts to an image as MLflow's `convert_to_pil_image` does.
    pub fn to_image(&self) -> Result<DynamicImage> {
        let bad = |why: String| Error::InvalidParameter(format!("unsupported image buffer: {why}"));
        let (h, w, c) = match *self.shape {
            [h, w] => (h, w, 1),
            [h, w, c] => (h, w, c),
            _ => {
                return Err(bad(format!(
                    "`image` must be a 2D or 3D array but got image shape: {:?}",
                    self.shape
                )));
            }
        };
        if ![1, 3, 4].contains(&c) {
            return Err(bad(format!(
                "Invalid channel length: {c}. Must be one of [1, 3, 4]"
            )));
        }
        if h == 0 || w == 0 {
            return Err(bad(format!("the image is empty (shape {:?})", self.shape)));
        }
        let expected = h
            .checked_mul(w)
            .and_then(|n| n.checked_mul(c))
            .ok_or_else(|| bad(format!("shape {:?} is too large", self.shape)))?;
        if expected != self.pixels.len() {
            return Err(bad(format!(
                "shape {:?} needs {expected} values but the buffer has {}",
                self.shape,
                self.pixels.len()
            )));
        }
        let (w32, h32) = (
            u32::try_from(w).map_err(|_| bad("too wide".into()))?,
            u32::try_from(h).map_err(|_| bad("too tall".into()))?,
        );
        let bytes: Vec<u8> = match self.pixels {
            Pixels::U8(d) => d.to_vec(),
            Pixels::F32(d) => floats_to_u8(d.iter().map(|&v| f64::from(v))),
            Pixels::F64(d) => floats_to_u8(d.iter().copied()),
        };
        let img = match c {
            1 => image::GrayImage::from_raw(w32, h32, bytes).map(DynamicImage::ImageLuma8),
            3 => image::RgbImage::from_raw(w32, h32, bytes).map(DynamicImage::ImageRgb8),
            _ => image::RgbaImage::from_raw(w32, h32, bytes).map(DynamicImage::ImageRgba8),
        };
        img.ok_or_else(|| bad("buffer size does not match the shape".into()))
    }
}

/// numpy: out-of-range floats are min-max rescaled, then `(x * 255).astype(uint8)` truncates.
fn floats_to_u8(values: impl Iterator<Item = f64> + Clone) -> Vec<u8> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.clone().filter(|v| !v.is_nan()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let rescale = lo < 0.0 || hi > 1.0;
    values
        .map(|v| {
            let v = if rescale {
                if hi > lo { (v - lo) / (hi - lo) } else { 0.0 }
            } else {
                v
            };
            let scaled = v * 255.0;
            if scaled.is_nan() {
                0
            } else {
                scaled.clamp(0.0, 255.0) as u8
            }
        })
        .collect()
}

/// An image to log: an `image` crate image, a raw buffer with a shape, or an image file.
#[derive(Debug, Clone)]
pub enum ImageInput<'a> {
    /// An image already decoded.
    Image(Cow<'a, DynamicImage>),
    /// A raw pixel buffer.
    Raw(RawImage<'a>),
    /// An image file in any format the `image` crate decodes (PNG, JPEG, GIF, BMP, WebP).
    File(Cow<'a, Path>),
}

impl ImageInput<'_> {
    /// Decodes or converts the input.
    pub fn to_image(&self) -> Result<Cow<'_, DynamicImage>> {
        match self {
            ImageInput::Image(img) => Ok(Cow::Borrowed(img.as_ref())),
            ImageInput::Raw(raw) => raw.to_image().map(Cow::Owned),
            ImageInput::File(path) => decode_file(path).map(Cow::Owned),
        }
    }
}

impl From<DynamicImage> for ImageInput<'_> {
    fn from(img: DynamicImage) -> Self {
        ImageInput::Image(Cow::Owned(img))
    }
}
impl<'a> From<&'a DynamicImage> for ImageInput<'a> {
    fn from(img: &'a DynamicImage) -> Self {
        ImageInput::Image(Cow::Borrowed(img))
    }
}
impl From<image::RgbImage> for ImageInput<'_> {
    fn from(img: image::RgbImage) -> Self {
        DynamicImage::ImageRgb8(img).into()
    }
}
impl From<image::RgbaImage> for ImageInput<'_> {
    fn from(img: image::RgbaImage) -> Self {
        DynamicImage::ImageRgba8(img).into()
    }
}
impl From<image::GrayImage> for ImageInput<'_> {
    fn from(img: image::GrayImage) -> Self {
        DynamicImage::ImageLuma8(img).into()
    }
}
impl<'a> From<RawImage<'a>> for ImageInput<'a> {
    fn from(raw: RawImage<'a>) -> Self {
        ImageInput::Raw(raw)
    }
}
impl<'a> From<&'a Path> for ImageInput<'a> {
    fn from(p: &'a Path) -> Self {
        ImageInput::File(Cow::Borrowed(p))
    }
}
impl From<std::path::PathBuf> for ImageInput<'_> {
    fn from(p: std::path::PathBuf) -> Self {
        ImageInput::File(Cow::Owned(p))
    }
}

/// Decodes an image file (format from its content).
pub fn decode_file(path: &Path) -> Result<DynamicImage> {
    let reader = image::ImageReader::open(path)
        .map_err(|e| Error::io("cannot read image file", path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io("cannot read image file", path, e))?;
    reader.decode().map_err(|e| {
        Error::InvalidParameter(format!("cannot decode image file {}: {e}", path.display()))
    })
}

/// Decodes image bytes (format from the content), e.g. an artifact read for a preview.
pub fn decode_bytes(bytes: &[u8]) -> Result<DynamicImage> {
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::InvalidParameter(format!("cannot read image: {e}")))?
        .decode()
        .map_err(|e| Error::InvalidParameter(format!("cannot decode image: {e}")))
}

/// MLflow's `compress_image_size`: scales the image so its longer side is exactly 256 px
/// (tiny images are enlarged), keeping the aspect ratio (the shorter side is truncated, and at
/// least 1 px).
pub fn thumbnail(img: &DynamicImage) -> DynamicImage {
    let (w, h) = (img.width().max(1), img.height().max(1));
    // Same float operations as Python's `int(height * (new_width / width))`.
    let size = f64::from(THUMBNAIL_SIZE);
    let (nw, nh) = if w > h {
        let nh = (f64::from(h) * (size / f64::from(w))) as u32;
        (THUMBNAIL_SIZE, nh.max(1))
    } else {
        let nw = (f64::from(w) * (size / f64::from(h))) as u32;
        (nw.max(1), THUMBNAIL_SIZE)
    };
    img.resize_exact(nw, nh, FilterType::CatmullRom)
}

/// The image format PIL would pick for a file name's extension.
pub fn format_for_file(name: &str) -> Result<ImageFormat> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => Ok(ImageFormat::Png),
        "jpg" | "jpeg" => Ok(ImageFormat::Jpeg),
        "webp" => Ok(ImageFormat::WebP),
        "gif" => Ok(ImageFormat::Gif),
        "bmp" => Ok(ImageFormat::Bmp),
        _ => Err(Error::InvalidParameter(format!(
            "cannot save an image as '{name}': unknown extension (use .png, .jpg, .jpeg, .webp, \
             .gif or .bmp)"
        ))),
    }
}

/// Encodes an image in `format`, converting the pixel type when the format needs it (JPEG has
/// no alpha; WebP, GIF and BMP take 8-bit pixels).
pub fn encode(img: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>> {
    let converted: Cow<'_, DynamicImage> = match format {
        ImageFormat::Png => match img {
            DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_) => {
                Cow::Owned(DynamicImage::ImageRgba16(img.to_rgba16()))
            }
            _ => Cow::Borrowed(img),
        },
        ImageFormat::Jpeg => match img {
            DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => Cow::Borrowed(img),
            DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageLumaA16(_) => Cow::Owned(DynamicImage::ImageLuma8(img.to_luma8())),
            _ => Cow::Owned(DynamicImage::ImageRgb8(img.to_rgb8())),
        },
        _ => match img {
            DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_) => Cow::Borrowed(img),
            _ if img.color().has_alpha() => Cow::Owned(DynamicImage::ImageRgba8(img.to_rgba8())),
            _ => Cow::Owned(DynamicImage::ImageRgb8(img.to_rgb8())),
        },
    };
    let mut out = Cursor::new(Vec::new());
    converted
        .write_to(&mut out, format)
        .map_err(|e| Error::InvalidParameter(format!("cannot encode image as {format:?}: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_name_styles() {
        let new = ImageStepFile::parse(
            "images/samples~train+step+2+timestamp+1700005000002+bf316df3-f037-46c7-9e34-012aca08f4f6.png",
        )
        .unwrap();
        assert_eq!(new.key, "samples/train");
        assert_eq!((new.step, new.timestamp), (2, 1_700_005_000_002));
        assert_eq!(new.uuid, "bf316df3-f037-46c7-9e34-012aca08f4f6");
        assert!(!new.is_thumbnail);
        assert_eq!(new.style, ImageNameStyle::Current);
        let old = ImageStepFile::parse(
            "a#b%step%3%timestamp%1700000000000%0f0e0d0c-0000-4000-8000-000000000000%compressed.webp",
        )
        .unwrap();
        assert_eq!(old.key, "a/b");
        assert_eq!(old.step, 3);
        assert!(old.is_thumbnail);
        assert_eq!(old.style, ImageNameStyle::Legacy);
        assert_eq!(old.extension, "webp");
        for bad in [
            "plain.png",
            "a+b.png",
            "k+step+x+timestamp+1+u.png",
            "k+stap+1+timestamp+1+u.png",
            "k+step+1+timestamp+1+u+other.png",
            "k+step+1+timestamp+1+u",
            "+step+1+timestamp+1+u.png",
        ] {
            assert!(ImageStepFile::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for style in [ImageNameStyle::Current, ImageNameStyle::Legacy] {
            for key in ["loss", "a/b/c", "with space.v2", "x-y_z"] {
                for thumb in [false, true] {
                    let f = ImageStepFile {
                        key: key.into(),
                        step: -3,
                        timestamp: 1_700_000_000_123,
                        uuid: "9dbb1142-9575-44ae-808d-2641516743f5".into(),
                        is_thumbnail: thumb,
                        extension: if thumb { "webp" } else { "png" }.into(),
                        style,
                    };
                    let name = f.artifact_path();
                    assert!(!name["images/".len()..].contains('/'), "{name}");
                    assert_eq!(ImageStepFile::parse(&name).as_ref(), Some(&f), "{name}");
                }
            }
        }
        let (full, thumb) = ImageStepFile::new_pair("a/b", 4, 99);
        assert!(
            full.artifact_path()
                .starts_with("images/a~b+step+4+timestamp+99+")
        );
        assert!(full.artifact_path().ends_with(".png"));
        assert_eq!(
            thumb.artifact_path(),
            format!("images/{}+compressed.webp", full.file_key())
        );
        assert_eq!(full.uuid.len(), 36);
    }

    #[test]
    fn groups_series_like_the_ui() {
        let files: Vec<FileInfo> = [
            "images/k+step+1+timestamp+5+u1.png",
            "images/k+step+1+timestamp+5+u1+compressed.webp",
            "images/k+step+0+timestamp+4+u0.png",
            "images/a#b%step%2%timestamp%3%u2%compressed.webp",
            "images/readme.txt",
            "images/k+step+9+timestamp+9+u9.txt",
        ]
        .iter()
        .map(|p| FileInfo {
            path: p.to_string(),
            is_dir: false,
            file_size: Some(1),
        })
        .collect();
        let series = image_series(&files);
        assert_eq!(series.len(), 2);
        let k = &series["k"];
        assert_eq!(k.iter().map(|s| s.step).collect::<Vec<_>>(), [0, 1]);
        assert!(k[1].filepath.is_some() && k[1].compressed_filepath.is_some());
        assert!(k[0].compressed_filepath.is_none());
        assert_eq!(series["a/b"][0].filepath, None);
    }

    #[test]
    fn thumbnails_have_a_256_px_longer_side() {
        for (w, h, tw, th) in [
            (1, 1, 256, 256),
            (3, 2, 256, 170),
            (2, 3, 170, 256),
            (1000, 1, 256, 1),
            (640, 480, 256, 192),
            (256, 256, 256, 256),
            (300, 299, 256, 255),
        ] {
            let t = thumbnail(&DynamicImage::new_rgb8(w, h));
            assert_eq!((t.width(), t.height()), (tw, th), "{w}x{h}");
        }
    }

    #[test]
    fn raw_buffers_convert_like_mlflow() {
        let img = RawImage::u8(&[0, 255, 10, 20], &[2, 2]).to_image().unwrap();
        assert_eq!(img.color(), image::ColorType::L8);
        assert_eq!(img.to_luma8().into_raw(), vec![0, 255, 10, 20]);
        let img = RawImage::f32(&[0.0, 0.5, 1.0, 0.999], &[1, 4, 1])
            .to_image()
            .unwrap();
        assert_eq!(img.to_luma8().into_raw(), vec![0, 127, 255, 254]);
        // Out of range: min-max rescaled.
        let img = RawImage::f64(&[-1.0, 0.0, 1.0], &[1, 1, 3])
            .to_image()
            .unwrap();
        assert_eq!(img.to_rgb8().into_raw(), vec![0, 127, 255]);
        let rgba = RawImage::u8(&[1, 2, 3, 4], &[1, 1, 4]).to_image().unwrap();
        assert_eq!(rgba.color(), image::ColorType::Rgba8);
        for (data, shape) in [
            (&[0u8; 6][..], &[1usize, 2, 3][..]),
            (&[0u8; 4][..], &[2, 2, 2][..]),
            (&[0u8; 4][..], &[4][..]),
            (&[0u8; 4][..], &[1, 1, 1, 4][..]),
            (&[][..], &[0, 3][..]),
            (&[0u8; 5][..], &[2, 2][..]),
        ] {
            if shape == [1, 2, 3] {
                assert!(RawImage::u8(data, shape).to_image().is_ok());
                continue;
            }
            let err = RawImage::u8(data, shape).to_image().unwrap_err();
            assert!(
                err.to_string().contains("unsupported image buffer"),
                "{err}"
            );
        }
    }

    #[test]
    fn encodes_every_format() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            5,
            3,
            image::Rgba([10, 20, 30, 128]),
        ));
        for name in ["a.png", "a.jpg", "a.jpeg", "a.webp", "a.gif", "a.bmp"] {
            let fmt = format_for_file(name).unwrap();
            let bytes = encode(&img, fmt).unwrap();
            let back = decode_bytes(&bytes).unwrap();
            assert_eq!((back.width(), back.height()), (5, 3), "{name}");
        }
        assert!(format_for_file("a.tiff").is_err());
        assert!(decode_bytes(b"not an image").is_err());
        let f32img = DynamicImage::ImageRgb32F(image::Rgb32FImage::new(2, 2));
        assert!(encode(&f32img, ImageFormat::WebP).is_ok());
        assert!(encode(&f32img, ImageFormat::Png).is_ok());
    }

    #[test]
    fn keys_are_validated() {
        assert!(validate_image_key("a/b c.d-e_f").is_ok());
        assert!(validate_image_key("a+b").is_err());
        assert!(validate_image_key("").is_err());
        assert!(validate_image_key("ü").is_err());
    }
}
