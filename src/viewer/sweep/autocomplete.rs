//! Filter autocomplete: what can come next at the end of a filter string being typed: the
//! entity prefixes (`metrics.`, `params.`, `tags.`, `attributes.`), the loaded runs' real key
//! names, the operators, the values seen in the loaded runs for params and tags, then `and`.
//! Pure: the filter bar shows the suggestions and Tab takes the first.

use std::collections::BTreeSet;

use crate::model::Run;

/// Most suggestions offered.
pub const MAX_SUGGESTIONS: usize = 12;

const ENTITIES: [&str; 4] = ["metrics.", "params.", "tags.", "attributes."];
const ATTRIBUTES: [&str; 8] = [
    "run_name",
    "run_id",
    "status",
    "user_id",
    "start_time",
    "end_time",
    "artifact_uri",
    "lifecycle_stage",
];
const OPERATORS: [&str; 10] = [
    "=", "!=", "<", ">", "<=", ">=", "LIKE", "ILIKE", "IN", "NOT IN",
];

/// A completion: what the list shows, and the whole filter once it is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// Shown in the list.
    pub label: String,
    /// The filter with the completion applied.
    pub completed: String,
}

/// A key as the filter grammar reads it: plain when it is made of letters, digits, `_` and `.`,
/// else in backticks.
fn quote_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        key.to_string()
    } else {
        format!("`{key}`")
    }
}

/// The entity of a key prefix (`metrics`, `params`, `tags`, `attributes`, or their singular or
/// short forms).
fn entity_of(word: &str) -> Option<&'static str> {
    match word.to_ascii_lowercase().as_str() {
        "metrics" | "metric" => Some("metrics"),
        "params" | "param" | "parameters" | "parameter" => Some("params"),
        "tags" | "tag" => Some("tags"),
        "attributes" | "attribute" | "attr" | "run" => Some("attributes"),
        _ => None,
    }
}

/// The start of the clause being typed: after the last `and`/`or` word or opening parenthesis
/// outside quotes.
fn clause_start(text: &str) -> usize {
    let mut start = 0;
    let mut quote: Option<char> = None;
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '(' => start = i + 1,
                _ if c.is_whitespace() => {
                    let rest = &text[i + 1..];
                    for word in ["and", "or"] {
                        if rest.len() > word.len()
                            && rest[..word.len()].eq_ignore_ascii_case(word)
                            && bytes[i + 1 + word.len()].is_ascii_whitespace()
                        {
                            start = i + 1 + word.len() + 1;
                        }
                    }
                }
                _ => {}
            },
        }
    }
    start
}

/// Splits a clause into its key, operator and value parts as typed so far: (key, operator,
/// value), each None until reached.
fn split_clause(clause: &str) -> (String, Option<String>, Option<String>) {
    let clause = clause.trim_start();
    // The key: up to the first space outside backticks.
    let mut in_tick = false;
    let mut key_end = clause.len();
    for (i, c) in clause.char_indices() {
        if c == '`' {
            in_tick = !in_tick;
        } else if !in_tick && (c.is_whitespace() || "=!<>".contains(c)) {
            key_end = i;
            break;
        }
    }
    let key = clause[..key_end].to_string();
    if key_end == clause.len() {
        return (key, None, None);
    }
    let rest = clause[key_end..].trim_start();
    // The operator: symbols, or words.
    let upper = rest.to_ascii_uppercase();
    let op_len = if rest.starts_with(['=', '!', '<', '>']) {
        rest.find(|c: char| !"=!<>".contains(c))
            .unwrap_or(rest.len())
    } else if upper.starts_with("NOT IN") {
        6
    } else {
        rest.find(char::is_whitespace).unwrap_or(rest.len())
    };
    let op = rest[..op_len].to_string();
    if op_len == rest.len() {
        return (key, Some(op), None);
    }
    let value = rest[op_len..].trim_start().to_string();
    (key, Some(op), Some(value))
}

/// The suggestions for `text` (the cursor at its end), from the loaded runs' keys and values.
pub fn suggest(text: &str, runs: &[std::sync::Arc<Run>]) -> Vec<Suggestion> {
    let start = clause_start(text);
    let head = &text[..start];
    let clause = &text[start..];
    let lead = &clause[..clause.len() - clause.trim_start().len()];
    let (key, op, value) = split_clause(clause);
    let with = |completion: &str| format!("{head}{lead}{completion}");
    let mut out: Vec<Suggestion> = Vec::new();
    match (op, value) {
        (None, _) => {
            // A key being typed.
            match key.split_once('.') {
                Some((entity, partial)) if entity_of(entity).is_some() => {
                    let entity = entity_of(entity).unwrap_or("metrics");
                    let partial = partial.trim_start_matches('`').to_lowercase();
                    let keys: BTreeSet<String> = match entity {
                        "metrics" => runs
                            .iter()
                            .flat_map(|r| r.data.metrics.keys().cloned())
                            .collect(),
                        "params" => runs
                            .iter()
                            .flat_map(|r| r.data.params.keys().cloned())
                            .collect(),
                        "tags" => runs
                            .iter()
                            .flat_map(|r| r.data.tags.keys().cloned())
                            .collect(),
                        _ => ATTRIBUTES.iter().map(|a| a.to_string()).collect(),
                    };
                    let mut keys: Vec<String> = keys
                        .into_iter()
                        .filter(|k| k.to_lowercase().contains(&partial))
                        .collect();
                    // Keys starting with what was typed first.
                    keys.sort_by_key(|k| !k.to_lowercase().starts_with(&partial));
                    for k in keys {
                        let full = format!("{entity}.{}", quote_key(&k));
                        out.push(Suggestion {
                            completed: with(&format!("{full} ")),
                            label: full,
                        });
                    }
                }
                _ => {
                    let typed = key.to_lowercase();
                    for e in ENTITIES {
                        if e.starts_with(&typed) && e != typed {
                            out.push(Suggestion {
                                label: e.to_string(),
                                completed: with(e),
                            });
                        }
                    }
                }
            }
        }
        (Some(op), None) => {
            // An operator being typed (the key is complete).
            let typed = op.to_uppercase();
            for o in OPERATORS {
                if o.starts_with(&typed) {
                    out.push(Suggestion {
                        label: o.to_string(),
                        completed: with(&format!("{key} {o} ")),
                    });
                }
            }
        }
        (Some(op), Some(value)) => {
            let entity = key.split_once('.').and_then(|(e, _)| entity_of(e));
            let name = key
                .split_once('.')
                .map(|(_, n)| n.trim_matches('`').to_string())
                .unwrap_or_default();
            let closed = value.len() >= 2
                && (value.starts_with('\'') && value.trim_end().ends_with('\'')
                    || value.starts_with('"') && value.trim_end().ends_with('"'))
                || (!value.starts_with(['\'', '"', '(']) && value.ends_with(' '));
            if closed && value.ends_with(' ') {
                out.push(Suggestion {
                    label: "and".into(),
                    completed: format!("{text}and "),
                });
            } else if matches!(entity, Some("params") | Some("tags")) {
                let typed = value.trim_start_matches(['\'', '"']).to_lowercase();
                let values: BTreeSet<&String> = runs
                    .iter()
                    .filter_map(|r| {
                        if entity == Some("params") {
                            r.data.params.get(&name)
                        } else {
                            r.data.tags.get(&name)
                        }
                    })
                    .filter(|v| v.to_lowercase().starts_with(&typed))
                    .collect();
                for v in values {
                    let quoted = format!("'{}'", v.replace('\'', "\\'"));
                    out.push(Suggestion {
                        completed: with(&format!("{key} {op} {quoted} ")),
                        label: quoted,
                    });
                }
            }
        }
    }
    out.truncate(MAX_SUGGESTIONS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LifecycleStage, Metric, RunData, RunInfo, RunInputs, RunStatus};
    use std::sync::Arc;

    fn runs() -> Vec<Arc<Run>> {
        (0..2)
            .map(|k| {
                Arc::new(Run {
                    info: RunInfo {
                        run_id: format!("{k}"),
                        run_name: format!("r{k}"),
                        experiment_id: "0".into(),
                        user_id: "u".into(),
                        status: RunStatus::Finished,
                        start_time: None,
                        end_time: None,
                        artifact_uri: String::new(),
                        lifecycle_stage: LifecycleStage::Active,
                    },
                    data: RunData {
                        metrics: [("val/acc".to_string(), Metric::new("val/acc", 1.0, 0, 0))]
                            .into_iter()
                            .collect(),
                        params: [
                            ("lr".to_string(), ["0.1", "0.01"][k].to_string()),
                            ("optimizer".to_string(), "adam".to_string()),
                        ]
                        .into_iter()
                        .collect(),
                        ..RunData::default()
                    },
                    inputs: RunInputs::default(),
                })
            })
            .collect()
    }

    fn labels(text: &str) -> Vec<String> {
        suggest(text, &runs())
            .into_iter()
            .map(|s| s.label)
            .collect()
    }

    #[test]
    fn entities_then_real_keys_then_operators_then_values_then_and() {
        assert_eq!(labels("pa"), ["params."]);
        assert_eq!(labels("params."), ["params.lr", "params.optimizer"]);
        assert_eq!(labels("params.op"), ["params.optimizer"]);
        assert_eq!(labels("metrics.val"), ["metrics.`val/acc`"]);
        assert_eq!(labels("params.lr "), OPERATORS.to_vec());
        assert_eq!(labels("params.lr <"), ["<", "<="]);
        assert_eq!(labels("params.lr = "), ["'0.01'", "'0.1'"]);
        assert_eq!(labels("params.lr = '0.0"), ["'0.01'"]);
        assert_eq!(labels("params.lr = '0.01' "), ["and"]);
        // After `and`, a new clause.
        assert_eq!(labels("params.lr = '0.01' and m"), ["metrics."]);
        let s = suggest("params.lr = '0.01' AND params.o", &runs());
        assert_eq!(s[0].completed, "params.lr = '0.01' AND params.optimizer ");
        // An `and` inside a quoted value is not a clause boundary.
        assert_eq!(labels("tags.x = 'a and b' "), ["and"]);
    }
}

/// The filter bar's autocomplete state: suggestions memoised on the text and the loaded runs.
#[derive(Debug, Default)]
pub struct Autocomplete {
    memo: Option<((String, u64), Vec<Suggestion>)>,
    /// Suggestions shown in the last frame (tests).
    pub shown: Vec<Suggestion>,
}

impl Autocomplete {
    fn suggestions(&mut self, text: &str, ctx: &super::super::context::ViewCtx) -> Vec<Suggestion> {
        let Some(set) = ctx.run_set() else {
            return Vec::new();
        };
        let key = (text.to_string(), set.version);
        if let Some((k, s)) = &self.memo
            && *k == key
        {
            return s.clone();
        }
        let s = suggest(text, &set.runs);
        self.memo = Some((key, s.clone()));
        s
    }

    /// Before the filter's text box is drawn: when it has the keyboard and there are
    /// suggestions, Tab takes the first one. Returns whether the text box should keep the
    /// keyboard on Tab (it has suggestions to offer; otherwise Tab moves on as usual).
    pub fn before_edit(
        &mut self,
        ui: &mut egui::Ui,
        id: egui::Id,
        text: &mut String,
        ctx: &super::super::context::ViewCtx,
    ) -> bool {
        self.shown.clear();
        if !ui.memory(|m| m.has_focus(id)) {
            return false;
        }
        let suggestions = self.suggestions(text, ctx);
        if let Some(first) = suggestions.first()
            && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Tab))
        {
            *text = first.completed.clone();
            move_cursor_to_end(ui, id, text);
            return !self.suggestions(text, ctx).is_empty();
        }
        !suggestions.is_empty()
    }

    /// After the text box: the suggestions in a list under it while it has the keyboard; a
    /// click takes one.
    pub fn after_edit(
        &mut self,
        ui: &mut egui::Ui,
        response: &egui::Response,
        text: &mut String,
        ctx: &super::super::context::ViewCtx,
    ) {
        if !response.has_focus() {
            return;
        }
        let suggestions = self.suggestions(text, ctx);
        if suggestions.is_empty() {
            return;
        }
        let mut chosen: Option<String> = None;
        egui::Area::new(response.id.with("autocomplete"))
            .order(egui::Order::Foreground)
            .fixed_pos(response.rect.left_bottom() + egui::vec2(0.0, 2.0))
            .show(ui.ctx(), |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.weak("Tab completes the first");
                    for s in &suggestions {
                        if ui
                            .add(
                                egui::Button::new(egui::RichText::new(&s.label).monospace())
                                    .frame(false),
                            )
                            .clicked()
                        {
                            chosen = Some(s.completed.clone());
                        }
                    }
                });
            });
        if let Some(c) = chosen {
            *text = c;
            response.request_focus();
            move_cursor_to_end(ui, response.id, text);
        }
        self.shown = suggestions;
    }
}

/// Puts the text box's cursor after its last character (a completion was inserted).
fn move_cursor_to_end(ui: &egui::Ui, id: egui::Id, text: &str) {
    let mut state = egui::TextEdit::load_state(ui.ctx(), id).unwrap_or_default();
    let end = egui::text::CCursor::new(text.chars().count());
    state
        .cursor
        .set_char_range(Some(egui::text::CCursorRange::one(end)));
    state.store(ui.ctx(), id);
}
