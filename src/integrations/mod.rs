//! Autolog integrations with training frameworks (see [`crate::tracking::autolog`]).

pub mod burn;
