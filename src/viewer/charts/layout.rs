//! The chart layout of an experiment: which cards, with which options (metrics on y, the x axis,
//! lines or bars), in which order and size. Until the user changes anything, a card is drawn per
//! metric key ("automatic" cards); the first change writes the cards shown into the layout, which
//! is kept per store and experiments in [`ChartOptions::layouts`](super::ChartOptions) (eframe's
//! storage), and metric keys that appear later still get an automatic card after it.

use std::collections::{BTreeMap, BTreeSet};

/// How a card draws its metrics.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum CardKind {
    /// Lines, or bars when every run logged the metric once.
    #[default]
    Auto,
    /// Lines, one per run and metric.
    Lines,
    /// A bar per run (or group) of a summary of the metric, sorted.
    Bars,
}

/// What a bar of a run shows: a summary of every logged value of its metric.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum Summary {
    /// The latest value (MLflow's: highest step, then latest time).
    #[default]
    Last,
    /// The lowest value.
    Min,
    /// The highest value.
    Max,
    /// The mean of every finite value.
    Mean,
}

impl Summary {
    /// Every summary, in menu order.
    pub const ALL: [Summary; 4] = [Summary::Last, Summary::Min, Summary::Max, Summary::Mean];

    /// `last`, `min`, `max`, `mean`.
    pub fn label(self) -> &'static str {
        match self {
            Summary::Last => "last",
            Summary::Min => "min",
            Summary::Max => "max",
            Summary::Mean => "mean",
        }
    }
}

/// Tallest card, in plot heights.
pub const MAX_CARD_HEIGHT: u8 = 3;

/// One chart card.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CardSpec {
    /// Metric keys drawn (the first names the card).
    pub metrics: Vec<String>,
    /// Another metric as the x axis, its points paired with the y metrics' by step (None: the
    /// charts' x axis).
    pub x_metric: Option<String>,
    /// Lines or bars.
    pub kind: CardKind,
    /// The value of a bar.
    pub summary: Summary,
    /// Columns spanned (1 to 4, cut to the columns there are).
    pub width: u8,
    /// Height in plot heights (1 to 3).
    pub height: u8,
}

impl Default for CardSpec {
    fn default() -> Self {
        CardSpec {
            metrics: Vec::new(),
            x_metric: None,
            kind: CardKind::Auto,
            summary: Summary::Last,
            width: 1,
            height: 1,
        }
    }
}

impl CardSpec {
    /// The automatic card of a metric key.
    pub fn of_key(key: &str) -> CardSpec {
        CardSpec {
            metrics: vec![key.to_string()],
            ..CardSpec::default()
        }
    }

    /// The card's title (and id, unless two cards share it): `train/loss + val/loss vs lr`,
    /// `acc (bars: max)`. A plain one-metric card is named by its key.
    pub fn title(&self) -> String {
        let mut t = self.metrics.join(" + ");
        if let Some(x) = &self.x_metric {
            t.push_str(&format!(" vs {x}"));
        }
        if self.kind == CardKind::Bars {
            t.push_str(&format!(" (bars: {})", self.summary.label()));
        }
        t
    }

    /// Every metric key the card reads (y metrics, then the x metric).
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.metrics.iter().chain(self.x_metric.as_ref())
    }
}

/// The cards of an experiment (or a set of experiments shown together).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ChartLayout {
    /// The cards the user kept or made, in order.
    pub cards: Vec<CardSpec>,
    /// Metric keys whose automatic card was removed (not drawn again when they are not in a card).
    pub removed: BTreeSet<String>,
}

/// The key of a layout in [`ChartOptions::layouts`](super::ChartOptions): the store and the
/// experiments shown (sorted ids).
pub fn layout_key<'a>(store: &str, experiments: impl IntoIterator<Item = &'a String>) -> String {
    let ids: Vec<&str> = experiments.into_iter().map(String::as_str).collect();
    format!("{store}#{}", ids.join(","))
}

/// A card drawn in this frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// Key of its per-card state (its title, made unique).
    pub id: String,
    /// What it draws.
    pub spec: CardSpec,
    /// Its index in the layout's cards (None: an automatic card).
    pub index: Option<usize>,
}

/// A change of the layout asked for from a card's menu or the "add chart" button.
#[derive(Debug, Clone, PartialEq)]
pub enum LayoutEdit {
    /// Replace a card's options.
    Set(CardRef, CardSpec),
    /// Move a card before the card at this position of the shown cards (or to the end).
    Move(CardRef, usize),
    /// Remove a card.
    Remove(CardRef),
    /// Add a card at the end.
    Add(CardSpec),
    /// Back to one automatic card per metric key.
    Reset,
}

/// The card an edit is about.
#[derive(Debug, Clone, PartialEq)]
pub enum CardRef {
    /// A card of the layout, by index.
    Layout(usize),
    /// The automatic card of a metric key.
    Auto(String),
}

impl ChartLayout {
    /// Splits the metric keys of the shown runs into the layout's cards drawn (those reading at
    /// least one of the keys) and the keys left for automatic cards (in no card, not removed).
    pub fn resolve(&self, keys: &[String]) -> (Vec<Card>, Vec<String>) {
        let present: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
        let covered: BTreeSet<&str> = self
            .cards
            .iter()
            .flat_map(|c| c.metrics.iter().map(String::as_str))
            .collect();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut cards = Vec::new();
        for (i, spec) in self.cards.iter().enumerate() {
            if !spec.metrics.iter().any(|m| present.contains(m.as_str())) {
                continue;
            }
            let title = spec.title();
            let n = seen.entry(title.clone()).or_insert(0);
            *n += 1;
            let id = if *n == 1 {
                title
            } else {
                format!("{title} #{n}")
            };
            cards.push(Card {
                id,
                spec: spec.clone(),
                index: Some(i),
            });
        }
        let auto = keys
            .iter()
            .filter(|k| !covered.contains(k.as_str()) && !self.removed.contains(*k))
            .cloned()
            .collect();
        (cards, auto)
    }

    /// Applies an edit. `auto_shown` are the automatic cards' keys in the order they are drawn:
    /// an edit of an automatic card (or a move) first writes them into the layout after its
    /// cards, so that what the user sees keeps its order.
    pub fn apply(&mut self, edit: LayoutEdit, auto_shown: &[String]) {
        let materialize = |layout: &mut ChartLayout| -> usize {
            let at = layout.cards.len();
            layout
                .cards
                .extend(auto_shown.iter().map(|k| CardSpec::of_key(k)));
            at
        };
        let index_of = |layout: &mut ChartLayout, r: &CardRef| -> Option<usize> {
            match r {
                CardRef::Layout(i) => (*i < layout.cards.len()).then_some(*i),
                CardRef::Auto(key) => {
                    let pos = auto_shown.iter().position(|k| k == key);
                    let at = materialize(layout);
                    match pos {
                        Some(p) => Some(at + p),
                        None => {
                            layout.cards.push(CardSpec::of_key(key));
                            Some(layout.cards.len() - 1)
                        }
                    }
                }
            }
        };
        match edit {
            LayoutEdit::Set(r, spec) => {
                if spec.metrics.is_empty() {
                    return;
                }
                if let Some(i) = index_of(self, &r) {
                    self.cards[i] = spec;
                }
            }
            LayoutEdit::Move(r, before) => {
                if let CardRef::Layout(_) = r {
                    materialize(self);
                }
                if let Some(i) = index_of(self, &r) {
                    let card = self.cards.remove(i);
                    let to = if before > i { before - 1 } else { before };
                    self.cards.insert(to.min(self.cards.len()), card);
                }
            }
            LayoutEdit::Remove(r) => match r {
                CardRef::Layout(i) => {
                    if i < self.cards.len() {
                        let card = self.cards.remove(i);
                        // Its keys must not come back as automatic cards.
                        for k in card.metrics {
                            if !self.cards.iter().any(|c| c.metrics.contains(&k)) {
                                self.removed.insert(k);
                            }
                        }
                    }
                }
                CardRef::Auto(key) => {
                    self.removed.insert(key);
                }
            },
            LayoutEdit::Add(spec) => {
                if spec.metrics.is_empty() {
                    return;
                }
                materialize(self);
                for k in &spec.metrics {
                    self.removed.remove(k);
                }
                self.cards.push(spec);
            }
            LayoutEdit::Reset => *self = ChartLayout::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_empty_layout_is_one_automatic_card_per_key() {
        let (cards, auto) = ChartLayout::default().resolve(&keys(&["a", "b"]));
        assert!(cards.is_empty());
        assert_eq!(auto, keys(&["a", "b"]));
    }

    #[test]
    fn editing_an_automatic_card_keeps_the_order_shown() {
        let mut l = ChartLayout::default();
        let mut spec = CardSpec::of_key("b");
        spec.metrics.push("c".into());
        l.apply(
            LayoutEdit::Set(CardRef::Auto("b".into()), spec),
            &keys(&["a", "b", "c"]),
        );
        let (cards, auto) = l.resolve(&keys(&["a", "b", "c", "d"]));
        let ids: Vec<&str> = cards.iter().map(|c| c.id.as_str()).collect();
        // "c" is in the b card now, and still has its own card (it was shown); "d" is new.
        assert_eq!(ids, ["a", "b + c", "c"]);
        assert_eq!(auto, keys(&["d"]));
    }

    #[test]
    fn moves_and_removals() {
        let mut l = ChartLayout::default();
        let shown = keys(&["a", "b", "c"]);
        l.apply(LayoutEdit::Move(CardRef::Auto("c".into()), 0), &shown);
        let ids = |l: &ChartLayout| -> Vec<String> {
            l.resolve(&shown).0.into_iter().map(|c| c.id).collect()
        };
        assert_eq!(ids(&l), ["c", "a", "b"]);
        l.apply(LayoutEdit::Move(CardRef::Layout(0), 3), &[]);
        assert_eq!(ids(&l), ["a", "b", "c"]);
        l.apply(LayoutEdit::Remove(CardRef::Layout(1)), &[]);
        assert_eq!(ids(&l), ["a", "c"]);
        // A removed key does not come back as an automatic card.
        assert!(l.resolve(&shown).1.is_empty());
        l.apply(LayoutEdit::Add(CardSpec::of_key("b")), &[]);
        assert_eq!(ids(&l), ["a", "c", "b"]);
        l.apply(LayoutEdit::Reset, &[]);
        assert_eq!(l, ChartLayout::default());
    }

    #[test]
    fn two_cards_with_one_title_get_distinct_ids() {
        let l = ChartLayout {
            cards: vec![CardSpec::of_key("a"), CardSpec::of_key("a")],
            removed: BTreeSet::new(),
        };
        let ids: Vec<String> = l
            .resolve(&keys(&["a"]))
            .0
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["a", "a #2"]);
    }
}
