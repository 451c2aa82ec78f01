//! Autolog integrations with training frameworks (see [`crate::tracking::autolog`](mod@crate::tracking::autolog)).

pub mod burn;
