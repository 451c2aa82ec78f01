//! What the viewer's charts and `mlscope plot` share, free of any GUI code: the run colours
//! ([`palette`]) and the min/max level-of-detail reduction of a curve to what a pixel column
//! shows ([`lod`]). One implementation of each, so a picture made by the CLI shows the same
//! colours and the same points as the viewer.

// A build with the CLI but without the viewer only builds and reduces pyramids; the rest of
// the API (live extension, sub-pixel reduction, sizes) is the viewer's.
#[cfg_attr(not(feature = "viewer"), allow(dead_code))]
pub mod lod;
pub mod palette;
