//! Views for comparing many runs of a sweep: group rows in the runs table
//! ([`table_groups`]), a scatter plot of run summaries ([`scatter`]) and parallel coordinates
//! ([`parcoords`]). Grouped chart lines live with the charts (`charts/group.rs`).

pub mod autocomplete;
pub mod dims;
pub mod parcoords;
pub mod scatter;
pub mod table_export;
pub mod table_groups;
