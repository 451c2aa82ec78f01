//! Fonts: egui's defaults, then bundled fallbacks with wide coverage (`assets/fonts/`), so that
//! what users log renders: check marks, arrows, Greek, Cyrillic, maths and box-drawing signs
//! (DejaVu Sans) and Chinese, Japanese and Korean (Droid Sans Fallback), which egui's own fonts
//! lack (they showed as boxes).

/// DejaVu Sans 2.37, unmodified (742 KiB, Bitstream Vera licence): Latin, Greek, Cyrillic,
/// arrows, dingbats and maths.
const DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Droid Sans Fallback, unmodified (3.3 MiB, Apache-2.0): CJK ideographs, kana and Hangul.
const DROID_SANS_FALLBACK: &[u8] = include_bytes!("../../assets/fonts/DroidSansFallback.ttf");

/// The bundled fallback fonts, by the name they are registered under, in fallback order.
pub const FALLBACK_FONTS: [(&str, &[u8]); 2] = [
    ("DejaVuSans", DEJAVU_SANS),
    ("DroidSansFallback", DROID_SANS_FALLBACK),
];

/// Adds the bundled fallback fonts after egui's fonts in the proportional and monospace
/// families (egui's glyphs stay first, so its look is kept where it has the glyph).
pub fn install(ctx: &egui::Context) {
    use egui::epaint::text::{FontInsert, FontPriority, InsertFontFamily};
    for (name, bytes) in FALLBACK_FONTS {
        ctx.add_font(FontInsert::new(
            name,
            egui::FontData::from_static(bytes),
            [egui::FontFamily::Proportional, egui::FontFamily::Monospace]
                .into_iter()
                .map(|family| InsertFontFamily {
                    family,
                    priority: FontPriority::Lowest,
                })
                .collect(),
        ));
    }
}
