//! Progress of long CLI work (downloads, large listings, reading many histories), drawn on
//! stderr with `indicatif` only when stderr is a terminal: piped or redirected output gets no
//! bar and no escape code, so scripts read exactly what they read before.
//!
//! Bars tick on their own thread (an animated spinner while one long call blocks, e.g. a large
//! file downloading), so the command must not hold the stderr lock while one is shown: `main`
//! passes `std::io::stderr()` itself, which locks per write.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a shown bar is redrawn while nothing advances it.
const TICK: Duration = Duration::from_millis(120);

/// A progress bar or spinner on stderr, or nothing when stderr is not a terminal. Cleared when
/// finished or dropped, so only the command's own output stays on the screen.
pub struct Progress {
    bar: ProgressBar,
}

/// Whether progress is drawn: only when stderr is a terminal.
pub fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

impl Progress {
    /// A bar of `len` steps (`None`: unknown), drawn only on a terminal. The target is set
    /// before anything else so that nothing is ever drawn to a pipe.
    fn with_len(len: Option<u64>) -> ProgressBar {
        let target = if on_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        ProgressBar::with_draw_target(len, target)
    }

    /// A bar over `total` bytes (a spinner with the bytes done when the total is unknown, 0).
    pub fn bytes(message: &str, total: u64) -> Progress {
        let (bar, template) = if total > 0 {
            (
                Self::with_len(Some(total)),
                "{spinner} [{bar:25}] {bytes}/{total_bytes} {binary_bytes_per_sec} {wide_msg}",
            )
        } else {
            (
                Self::with_len(None),
                "{spinner} {bytes} {binary_bytes_per_sec} {elapsed} {wide_msg}",
            )
        };
        Self::styled(bar, template, message)
    }

    /// A bar over `total` items (a counting spinner when the total is unknown, 0).
    pub fn items(message: &str, total: u64) -> Progress {
        let (bar, template) = if total > 0 {
            (
                Self::with_len(Some(total)),
                "{spinner} [{bar:25}] {pos}/{len} {elapsed} {wide_msg}",
            )
        } else {
            (Self::with_len(None), "{spinner} {pos} {elapsed} {wide_msg}")
        };
        Self::styled(bar, template, message)
    }

    fn styled(bar: ProgressBar, template: &str, message: &str) -> Progress {
        // The templates are constants: a failure would be a programming error, shown as the
        // default style rather than a panic.
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_string());
        if !bar.is_hidden() {
            bar.enable_steady_tick(TICK);
        }
        Progress { bar }
    }

    /// Advances by `n` bytes or items.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Says what is being worked on now.
    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Whether the bar is drawn (stderr is a terminal).
    pub fn is_shown(&self) -> bool {
        !self.bar.is_hidden()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
