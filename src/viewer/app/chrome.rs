//! The app's chrome: the menu and status bars, the bottom pane's tabs, messages, windows and
//! the confirmation dialog, dropped files and the keyboard.

use std::path::PathBuf;

use crate::watch::FeedMode;

use super::super::cache::Entry;
use super::super::commands::{Command, SelectMode, Tab};
use super::super::context::ViewCtx;
use super::super::theme;
use super::{App, Panels};

impl App {
    pub(super) fn menu_bar_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open folder…").clicked() {
                    self.commands.push(Command::OpenFolderDialog);
                }
                if ui.button("Open database…").clicked() {
                    self.commands.push(Command::OpenDatabaseDialog);
                }
                ui.menu_button("Open recent", |ui| {
                    if self.data.persisted.recent_stores.is_empty() {
                        ui.weak("Nothing opened yet");
                    }
                    for uri in self.data.persisted.recent_stores.clone() {
                        if ui.button(&uri).clicked() {
                            self.commands.push(Command::OpenStore(uri));
                        }
                    }
                });
                if ui
                    .button("Open second store…")
                    .on_hover_text("Open another mlruns, mlflow.db or tracking server next to this one, to compare their runs")
                    .clicked()
                {
                    self.commands.push(Command::ShowOpenSecondStore);
                }
                if self.worker.second().is_some() && ui.button("Close second store").clicked() {
                    self.commands.push(Command::CloseSecondStore);
                }
                ui.separator();
                if ui.button("Reload (F5)").clicked() {
                    self.commands.push(Command::Reload);
                }
            });
            ui.menu_button("View", |ui| {
                let mut dark = self.data.persisted.dark;
                if ui.checkbox(&mut dark, "Dark theme").changed() {
                    self.commands.push(Command::SetDark(dark));
                }
                let mut ro = self.data.read_only;
                if ui.checkbox(&mut ro, "Read-only").changed() {
                    self.commands.push(Command::SetReadOnly(ro));
                }
                ui.checkbox(&mut self.data.persisted.live_refresh, "Live refresh")
                    .on_hover_text(
                        "Show new runs, statuses and metric points as they are written (F5 reloads everything)",
                    );
                if ui.button("Columns…").clicked() {
                    self.panels.runs_table.show_column_chooser = true;
                }
                if ui.button("Damaged runs and experiments…").clicked() {
                    self.show_warnings = true;
                }
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard shortcuts…").clicked() {
                    self.show_keyboard_help = true;
                }
            });
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let label = if self.data.persisted.dark {
                    "☀ light"
                } else {
                    "dark"
                };
                if ui
                    .button(label)
                    .on_hover_text("Switch between dark and light theme")
                    .clicked()
                {
                    self.commands.push(Command::SetDark(!self.data.persisted.dark));
                }
                ui.separator();
                let ro = self.data.read_only;
                let (switch, hover) = if ro {
                    (
                        "Allow editing",
                        "Enable renaming, tagging, describing and deleting runs: changes are written to the store",
                    )
                } else {
                    (
                        "Make read-only",
                        "Disable every edit control: nothing can be written to the store",
                    )
                };
                if ui.button(switch).on_hover_text(hover).clicked() {
                    self.commands.push(Command::SetReadOnly(!ro));
                }
                edit_mode_badge(ui, ro, self.data.persisted.dark);
            });
        });
    }

    pub(super) fn status_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match &self.store {
                None => {
                    ui.weak("No store open");
                }
                Some(Entry::Loading) => {
                    ui.spinner();
                    ui.label(format!(
                        "Opening {}…",
                        self.store_request.as_deref().unwrap_or("")
                    ));
                }
                Some(Entry::Failed(e)) => {
                    ui.colored_label(
                        theme::error_color(self.data.persisted.dark),
                        format!("No store open · {}", failure_heading(e)),
                    );
                }
                Some(Entry::Ready(uri)) => {
                    ui.label(format!("Store: {uri}"));
                    if let Some(found) = &self.store_found_inside {
                        ui.weak(format!("(found {found})")).on_hover_text(
                            "The folder you chose holds this store; it was opened instead",
                        );
                    }
                    if let Some(second) = self.worker.second() {
                        ui.label(format!("· compared with {}", second.request))
                            .on_hover_text("The second store (File → Close second store)");
                    }
                }
            }
            if let Some(set) = self.run_set() {
                ui.separator();
                let n = set.runs.len();
                if self.data.runs.loading {
                    if let Some((read, total)) = self.data.runs.progress
                        && total > 0
                    {
                        ui.add(
                            egui::ProgressBar::new(read as f32 / total as f32)
                                .desired_width(120.0)
                                .text(format!("{read} / {total}")),
                        )
                        .on_hover_text("Run folders read so far; the rows show what has arrived");
                    } else {
                        ui.spinner();
                    }
                    ui.label(format!(
                        "{} read…",
                        crate::format::count(n.max(self.data.runs.partial.len()), "run")
                    ));
                } else {
                    ui.label(format!("{} read", crate::format::count(n, "run")));
                }
            }
            let damaged = self.data.runs.warnings.len() + self.experiment_warnings.len();
            if damaged > 0 {
                ui.separator();
                let text = egui::RichText::new(format!("⚠ {damaged} could not be read"))
                    .color(theme::warning_color(self.data.persisted.dark));
                if ui
                    .link(text)
                    .on_hover_text("Show the damaged runs and experiments with reasons")
                    .clicked()
                {
                    self.show_warnings = true;
                }
            }
            if matches!(self.store, Some(Entry::Ready(_))) {
                ui.separator();
                if self.data.read_only {
                    ui.label("Read-only: nothing is written to the store");
                } else {
                    ui.label("Edits are saved to the store");
                }
            }
            if self.data.persisted.live_refresh
                && let Some(mode) = self.live_mode
            {
                ui.separator();
                let (text, hover) = match mode {
                    FeedMode::Events => (
                        "⟳ live".to_string(),
                        "Following the store's file events; View → Live refresh turns it off",
                    ),
                    FeedMode::Polling(every) => (
                        format!("⟳ live (polling every {:.1} s)", every.as_secs_f64()),
                        "No file events here (a database, or a network file system): the store is checked at this interval; View → Live refresh turns it off",
                    ),
                };
                let (text, hover) = super::live::with_coverage(text, hover, self.live_coverage.as_ref());
                ui.label(text).on_hover_text(hover);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if let Some(t) = self.data.runs.time_to_first_rows {
                    let (p50, _, max) = self.perf.summary();
                    ui.weak(format!(
                        "first rows {:.0} ms · frame {p50:.1}/{max:.1} ms",
                        t.as_secs_f64() * 1e3
                    ))
                    .on_hover_text("Time from opening to the first rows; median/max UI frame time");
                }
                if !self.worker.is_idle() {
                    ui.spinner();
                }
            });
        });
    }

    pub(super) fn windows_ui(&mut self, ctx: &egui::Context) {
        let dark = self.data.persisted.dark;
        // Messages (dismissable).
        if !self.messages.is_empty() {
            let mut dismiss = None;
            let mut undo = None;
            egui::Area::new(egui::Id::unique("messages"))
                .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -36.0))
                .show(ctx, |ui| {
                    for (i, m) in self.messages.iter().enumerate().rev().take(5) {
                        egui::Frame::popup(ui.style()).show(ui, |ui| {
                            ui.set_max_width(420.0);
                            ui.horizontal(|ui| {
                                let color = if m.is_error {
                                    theme::error_color(dark)
                                } else {
                                    ui.visuals().text_color()
                                };
                                if ui.small_button("✖").on_hover_text("Dismiss").clicked() {
                                    dismiss = Some(i);
                                }
                                ui.add(
                                    egui::Label::new(egui::RichText::new(&m.text).color(color))
                                        .wrap(),
                                );
                                if let Some(op) = &m.undo
                                    && ui
                                        .add_enabled(
                                            !self.data.read_only,
                                            egui::Button::new("Undo"),
                                        )
                                        .on_hover_text("Put back what this changed")
                                        .on_disabled_hover_text(
                                            "The viewer is read-only: switch read-only off to undo",
                                        )
                                        .clicked()
                                {
                                    undo = Some((i, op.clone()));
                                }
                            });
                        });
                    }
                });
            if let Some((i, op)) = undo {
                self.commands.push(Command::Write(op));
                dismiss = Some(i);
            }
            if let Some(i) = dismiss {
                self.messages.remove(i);
            }
        }
        if self.show_warnings {
            let mut open = true;
            egui::Window::new("Damaged runs and experiments")
                .open(&mut open)
                .default_size([640.0, 320.0])
                .show(ctx, |ui| {
                    if self.data.runs.warnings.is_empty() && self.experiment_warnings.is_empty() {
                        ui.label("Everything was read");
                    }
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        for w in self
                            .experiment_warnings
                            .iter()
                            .chain(&self.data.runs.warnings)
                        {
                            ui.label(egui::RichText::new(&w.message).strong());
                            ui.weak(&w.location);
                            ui.add_space(4.0);
                        }
                    });
                });
            self.show_warnings = open;
        }
        if self.show_keyboard_help {
            let mut open = true;
            egui::Window::new("Keyboard")
                .open(&mut open)
                .resizable(false)
                .show(ctx, |ui| {
                    egui::Grid::new("keys").striped(true).show(ui, |ui| {
                        for (k, what) in KEYS {
                            ui.monospace(*k);
                            ui.label(*what);
                            ui.end_row();
                        }
                    });
                });
            self.show_keyboard_help = open;
        }
        if let Some((folder, candidates)) = self.choose_store.clone() {
            let modal = egui::Modal::new(egui::Id::unique("choose_store")).show(ctx, |ui| {
                ui.set_width(460.0);
                ui.heading("Which store?");
                ui.add(
                    egui::Label::new(format!(
                        "{folder} holds both an mlruns/ folder and an mlflow.db. Open:"
                    ))
                    .wrap(),
                );
                ui.add_space(8.0);
                let mut picked = None;
                for (c, label) in candidates
                    .iter()
                    .zip(["mlruns/ (files)", "mlflow.db (SQLite)"])
                {
                    if ui.button(label).on_hover_text(c.as_str()).clicked() {
                        picked = Some(c.clone());
                    }
                }
                ui.add_space(4.0);
                let cancel = ui.button("Cancel").clicked();
                (picked, cancel)
            });
            let close = modal.should_close();
            match modal.inner {
                (Some(uri), _) => {
                    self.choose_store = None;
                    self.commands.push(Command::OpenStore(uri));
                }
                (None, true) => self.choose_store = None,
                (None, false) if close => self.choose_store = None,
                (None, false) => {}
            }
        }
        if let Some(confirm) = self.confirm.clone() {
            let modal = egui::Modal::new(egui::Id::unique("confirm")).show(ctx, |ui| {
                ui.set_width(360.0);
                ui.heading("Confirm");
                ui.label(&confirm.text);
                ui.add_space(8.0);
                let mut answer = None;
                ui.horizontal(|ui| {
                    if ui.button("Delete").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        answer = Some(false);
                    }
                });
                answer
            });
            let cancel = modal.should_close();
            match modal.inner {
                Some(true) => {
                    self.commands.push(Command::Write(confirm.op));
                    self.confirm = None;
                }
                Some(false) => self.confirm = None,
                None if cancel => self.confirm = None,
                None => {}
            }
        }
    }

    pub(super) fn handle_window_input(&mut self, ctx: &egui::Context) {
        // Dropped folders or .db files open as stores.
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(p) = dropped.into_iter().next() {
            // The worker tells a folder from a .db file (no disk access here).
            self.commands
                .push(Command::OpenStore(p.display().to_string()));
        }
        self.handle_keyboard(ctx);
    }

    fn handle_keyboard(&mut self, ctx: &egui::Context) {
        use egui::{Key, Modifiers};
        // While a text field (or any widget) has the keyboard, keys are its own: no global
        // shortcut fires, so typing a name never toggles, deletes or reloads anything.
        let typing = ctx.egui_wants_keyboard_input() || ctx.text_edit_focused();
        let modal_open = self.confirm.is_some() || self.choose_store.is_some();
        let mut cmds = Vec::new();
        ctx.input_mut(|i| {
            if typing || modal_open {
                return;
            }
            if i.consume_key(Modifiers::COMMAND, Key::O) {
                cmds.push(Command::OpenFolderDialog);
            }
            if i.consume_key(Modifiers::NONE, Key::F5) {
                cmds.push(Command::Reload);
            }
            for (n, key) in [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5]
                .into_iter()
                .enumerate()
            {
                if i.consume_key(Modifiers::COMMAND, key) {
                    cmds.push(Command::SetTab(Tab::ALL[n]));
                }
            }
            if i.consume_key(Modifiers::NONE, Key::Slash) {
                i.events
                    .retain(|e| !matches!(e, egui::Event::Text(t) if t == "/"));
                self.panels.filter_bar.focus = true;
            }
            if i.consume_key(Modifiers::COMMAND, Key::F) {
                self.panels.charts.focus_key_filter = true;
                cmds.push(Command::SetTab(Tab::Charts));
            }
            if i.consume_key(Modifiers::SHIFT, Key::ArrowDown) {
                cmds.push(Command::MoveFocus {
                    delta: 1,
                    extend: true,
                });
            }
            if i.consume_key(Modifiers::SHIFT, Key::ArrowUp) {
                cmds.push(Command::MoveFocus {
                    delta: -1,
                    extend: true,
                });
            }
            if i.consume_key(Modifiers::NONE, Key::ArrowDown) {
                cmds.push(Command::MoveFocus {
                    delta: 1,
                    extend: false,
                });
            }
            if i.consume_key(Modifiers::NONE, Key::ArrowUp) {
                cmds.push(Command::MoveFocus {
                    delta: -1,
                    extend: false,
                });
            }
            if i.consume_key(Modifiers::NONE, Key::PageDown) {
                cmds.push(Command::MoveFocus {
                    delta: 20,
                    extend: false,
                });
            }
            if i.consume_key(Modifiers::NONE, Key::PageUp) {
                cmds.push(Command::MoveFocus {
                    delta: -20,
                    extend: false,
                });
            }
            if i.consume_key(Modifiers::NONE, Key::Space)
                && let Some(f) = self.data.focus.clone()
            {
                cmds.push(Command::SelectRun {
                    run_id: f,
                    mode: SelectMode::Toggle,
                });
            }
            if i.consume_key(Modifiers::COMMAND, Key::A) {
                cmds.push(Command::SelectRuns(Vec::new()));
            }
            if i.consume_key(Modifiers::NONE, Key::Enter) {
                cmds.push(Command::SetTab(Tab::Run));
            }
            if i.consume_key(Modifiers::NONE, Key::Delete) {
                cmds.push(Command::AskDeleteSelected);
            }
        });
        // Ctrl+A selects every shown run.
        for c in cmds {
            if c == Command::SelectRuns(Vec::new()) {
                let ids = self.shown_run_ids();
                self.commands.push(Command::SelectRuns(ids));
            } else {
                self.commands.push(c);
            }
        }
    }
}

impl Panels {
    /// The bottom pane: its tabs, and the chosen tab's panel.
    pub(super) fn bottom_pane_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        // Fill the panel, so that its size stays what the user made it.
        ui.set_min_height(ui.max_rect().height());
        // Wrapped: in a narrow window the chart options go on a second line instead of widening
        // the pane past the window's edge (which cut the chart cards).
        ui.horizontal_wrapped(|ui| {
            for (i, tab) in Tab::ALL.into_iter().enumerate() {
                let r = ui
                    .selectable_label(ctx.persisted().tab == tab, tab.title())
                    .on_hover_text(format!("Ctrl+{}", i + 1));
                if r.clicked() {
                    ctx.send(Command::SetTab(tab));
                }
            }
            ui.separator();
            let n = ctx.selection().len();
            ui.weak(match n {
                0 => "No run selected".to_string(),
                1 => "1 run selected".to_string(),
                n => format!("{n} runs selected"),
            });
            if ctx.persisted().tab == Tab::Charts {
                self.charts.options_ui(ui, ctx);
            }
        });
        ui.separator();
        match ctx.persisted().tab {
            Tab::Charts => self.charts.show(ui, ctx),
            Tab::Compare => self.compare.show(ui, ctx),
            Tab::Run => self.details.show(ui, ctx),
            Tab::Artifacts => self.artifacts.show(ui, ctx),
            Tab::Images => self.images.show(ui, ctx),
        }
    }
}

/// The edit mode in words, always shown in the menu bar: an amber "editable" badge (edits are
/// written to the store) or a grey lock and "read-only".
pub(super) fn edit_mode_badge(ui: &mut egui::Ui, read_only: bool, dark: bool) -> egui::Response {
    let (text, fill, color, hover) = if read_only {
        (
            "🔒 read-only",
            ui.visuals().widgets.inactive.bg_fill,
            ui.visuals().strong_text_color(),
            "Nothing can be changed: every edit control is off",
        )
    } else {
        (
            "✏ editable",
            theme::warning_color(dark),
            if dark {
                egui::Color32::BLACK
            } else {
                egui::Color32::WHITE
            },
            "Renaming, tagging, describing and deleting runs write to the store",
        )
    };
    egui::Frame::new()
        .fill(fill)
        .corner_radius(4.0)
        .inner_margin(egui::vec2(6.0, 1.0))
        .show(ui, |ui| {
            ui.label(egui::RichText::new(text).color(color).strong())
        })
        .inner
        .on_hover_text(hover)
}

/// The heading of a failure to open: what kind of failure, in a few words.
fn failure_heading(message: &str) -> &'static str {
    if message.starts_with("not an MLflow store") {
        "Not an MLflow store"
    } else if message.starts_with("cannot connect to") {
        "Cannot connect to the tracking server"
    } else {
        "This store cannot be opened"
    }
}

/// What the central panel shows while no store is open: opening, why it failed, or how to open
/// one.
pub(super) fn empty_state_ui(ui: &mut egui::Ui, store: Option<&Entry<String>>, ctx: &ViewCtx) {
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() * 0.3);
        match store {
            Some(Entry::Loading) => {
                ui.spinner();
                ui.label("Opening…");
            }
            Some(Entry::Failed(e)) => {
                ui.heading(failure_heading(e));
                // The first line says what is wrong; technical detail waits behind a
                // disclosure.
                let (summary, detail) = e.split_once('\n').unwrap_or((e.as_str(), ""));
                ui.colored_label(theme::error_color(ctx.dark()), summary);
                if !detail.trim().is_empty() {
                    let id = egui::Id::unique("open_failure_details");
                    let open = ui.data(|d| d.get_temp::<bool>(id).unwrap_or(false));
                    let label = if open {
                        "▼ Technical details"
                    } else {
                        "▶ Technical details"
                    };
                    if ui.link(label).clicked() {
                        ui.data_mut(|d| d.insert_temp(id, !open));
                    }
                    if open {
                        ui.add(
                            egui::Label::new(egui::RichText::new(detail).weak().monospace()).wrap(),
                        );
                    }
                }
                ui.add_space(12.0);
                ui.label("Open an mlruns folder, an mlflow.db, or the project folder holding one — Ctrl+O, or drop it here");
            }
            _ => {
                ui.heading("mlscope");
                ui.label("Open an mlruns folder, an mlflow.db, or the project folder holding one — Ctrl+O, or drop it here");
            }
        }
        ui.add_space(12.0);
        ui.horizontal(|ui| {
            let w = 260.0;
            ui.add_space(((ui.available_width() - w) / 2.0).max(0.0));
            if ui.button("Open folder…").clicked() {
                ctx.send(Command::OpenFolderDialog);
            }
            if ui.button("Open database…").clicked() {
                ctx.send(Command::OpenDatabaseDialog);
            }
        });
        if !ctx.persisted().recent_stores.is_empty() {
            ui.add_space(16.0);
            ui.label(egui::RichText::new("Recent").strong());
            for uri in ctx.persisted().recent_stores.clone() {
                if ui.link(&uri).clicked() {
                    ctx.send(Command::OpenStore(uri));
                }
            }
        }
    });
}

/// Keyboard shortcuts, as listed in Help → Keyboard.
const KEYS: &[(&str, &str)] = &[
    ("Ctrl+O", "Open an mlruns folder"),
    ("/", "Focus the filter"),
    ("Esc", "Leave the filter"),
    ("↑ ↓", "Move the selection"),
    ("Shift+↑ ↓", "Extend the selection"),
    ("Space", "Add or remove the focused run"),
    ("Ctrl+A", "Select every shown run"),
    ("Enter", "Open the Run tab"),
    ("Delete", "Delete the selected runs"),
    ("F5", "Reload"),
    ("Ctrl+1…4", "Charts, Compare, Run, Artifacts"),
    ("Ctrl+F", "Chart key filter"),
];
