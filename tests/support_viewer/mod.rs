//! Driving the viewer's `App` in kittest harnesses, shared by the viewer test binaries.

#![allow(dead_code)] // each test binary uses its own part

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use mlscope::viewer::App;

/// A 1400×900 harness drawing `app`.
pub fn harness(app: App) -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_max_steps(10_000)
        .build_ui_state(|ui, app: &mut App| app.ui(ui), app)
}

/// Steps frames until the worker has answered everything and stays idle for a few frames (answers
/// can trigger new requests), like rerun's `step_until`; panics when that takes over `limit`.
pub fn settle_within(h: &mut Harness<'static, App>, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut idle_frames = 0;
    while Instant::now() < deadline {
        h.step();
        if h.state().is_idle() {
            idle_frames += 1;
            if idle_frames >= 4 {
                return;
            }
        } else {
            idle_frames = 0;
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    panic!(
        "the viewer did not become idle within {} s",
        limit.as_secs()
    );
}

/// Steps frames until `done` holds and the app is idle; false when that takes over `limit`.
pub fn step_until_done(
    h: &mut Harness<'static, App>,
    limit: Duration,
    done: impl Fn(&Harness<'static, App>) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        h.step();
        if done(h) && h.state().is_idle() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}
