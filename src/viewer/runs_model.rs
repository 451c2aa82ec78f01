//! Derived data of the loaded runs: the run set with its parent/child links, the catalog of
//! param/metric/tag keys, columns, and the flattened rows the table shows (built once per change
//! of their inputs, never per frame).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::model::{Run, tags};

/// One key of params, metrics or tags across the loaded runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key.
    pub key: String,
    /// How many runs have it.
    pub count: usize,
    /// Whether the runs that have it hold at least two different values.
    pub differs: bool,
}

/// Every param, metric and tag key of the loaded runs.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Param keys, sorted.
    pub params: Vec<KeyInfo>,
    /// Metric keys, sorted.
    pub metrics: Vec<KeyInfo>,
    /// Tag keys (system `mlflow.*` tags left out), sorted.
    pub tags: Vec<KeyInfo>,
}

/// The key infos of one kind of values: `values` gives each run's keys with a value to compare
/// (`None`: a NaN metric, never the same as another). Values are compared where they are, not
/// copied: a catalog of 10,000 runs of 35 keys each is built several times while a store is
/// read.
fn key_infos<'a, V, I>(runs: &'a [Arc<Run>], values: impl Fn(&'a Run) -> I) -> Vec<KeyInfo>
where
    V: PartialEq,
    I: Iterator<Item = (&'a String, Option<V>)>,
{
    // Key → (runs having it, first value, whether another value was seen). A NaN is news, not
    // a constant.
    let mut seen: HashMap<&'a str, (usize, Option<V>, bool)> = HashMap::new();
    for run in runs {
        for (k, v) in values(run) {
            match seen.get_mut(k.as_str()) {
                Some(e) => {
                    e.0 += 1;
                    if v.is_none() || e.1 != v {
                        e.2 = true;
                    }
                }
                None => {
                    let differs = v.is_none();
                    seen.insert(k.as_str(), (1, v, differs));
                }
            }
        }
    }
    // A key some runs lack differs too: "missing" is a value.
    let mut infos: Vec<KeyInfo> = seen
        .into_iter()
        .map(|(k, (count, _, differs))| KeyInfo {
            key: k.to_string(),
            count,
            differs: differs || count < runs.len(),
        })
        .collect();
    infos.sort_by(|a, b| a.key.cmp(&b.key));
    infos
}

impl Catalog {
    /// The catalog of `runs`.
    pub fn of(runs: &[Arc<Run>]) -> Catalog {
        Catalog {
            params: key_infos(runs, |r| {
                r.data.params.iter().map(|(k, v)| (k, Some(v.as_str())))
            }),
            metrics: key_infos(runs, |r| {
                r.data.metrics.iter().map(|(k, m)| {
                    let v = crate::format::as_logged(m.value);
                    (k, (!v.is_nan()).then(|| v.to_bits()))
                })
            }),
            tags: key_infos(runs, |r| {
                r.data
                    .tags
                    .iter()
                    .filter(|(k, _)| !k.starts_with("mlflow."))
                    .map(|(k, v)| (k, Some(v.as_str())))
            }),
        }
    }
}

/// The loaded runs of the shown experiments.
#[derive(Debug, Clone, Default)]
pub struct RunSet {
    /// Runs, in the store's order (newest first).
    pub runs: Vec<Arc<Run>>,
    /// Position of each run id in `runs`.
    pub index: HashMap<String, usize>,
    /// Children of each parent run id (positions in `runs`).
    pub children: HashMap<String, Vec<usize>>,
    /// Keys of params, metrics and tags.
    pub catalog: Catalog,
    /// Changes each time the set changes (memoisation key of derived data).
    pub version: u64,
    /// Whether some runs come from a second store (the table then says each row's store).
    pub has_second_store_runs: bool,
}

impl RunSet {
    /// Builds the set (links and catalog) from runs.
    pub fn new(runs: Vec<Arc<Run>>, version: u64) -> RunSet {
        let index: HashMap<String, usize> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.info.run_id.clone(), i))
            .collect();
        let mut children: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in runs.iter().enumerate() {
            if let Some(p) = parent_id(r)
                && index.contains_key(p)
                && p != r.info.run_id
            {
                children.entry(p.to_string()).or_default().push(i);
            }
        }
        let catalog = Catalog::of(&runs);
        let has_second_store_runs = runs
            .iter()
            .any(|r| super::worker::router::is_second(&r.info.run_id));
        RunSet {
            runs,
            index,
            children,
            catalog,
            version,
            has_second_store_runs,
        }
    }

    /// The run with this id.
    pub fn get(&self, run_id: &str) -> Option<&Arc<Run>> {
        self.index.get(run_id).map(|&i| &self.runs[i])
    }

    /// The parent of a run, when it is in the set.
    pub fn parent_of(&self, run: &Run) -> Option<usize> {
        parent_id(run).and_then(|p| self.index.get(p).copied())
    }
}

/// The `mlflow.parentRunId` tag of a run.
pub fn parent_id(run: &Run) -> Option<&str> {
    run.data.tags.get(tags::PARENT_RUN_ID).map(String::as_str)
}

/// A column of the runs table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ColumnId {
    /// Run name with its colour.
    Name,
    /// Status icon.
    Status,
    /// Start time.
    Start,
    /// Duration.
    Duration,
    /// User.
    User,
    /// Source (entry point).
    Source,
    /// Experiment (shown when several are).
    Experiment,
    /// The store the run comes from (shown when a second store is open and its runs are).
    Store,
    /// A param.
    Param(String),
    /// A metric.
    Metric(String),
    /// A tag.
    Tag(String),
}

impl ColumnId {
    /// The attribute columns, in display order.
    pub const ATTRIBUTES: [ColumnId; 8] = [
        ColumnId::Name,
        ColumnId::Status,
        ColumnId::Start,
        ColumnId::Duration,
        ColumnId::User,
        ColumnId::Source,
        ColumnId::Experiment,
        ColumnId::Store,
    ];

    /// A stable string for settings, MLflow-like: `params.lr`, `attributes.status`.
    pub fn id_string(&self) -> String {
        match self {
            ColumnId::Param(k) => format!("params.{k}"),
            ColumnId::Metric(k) => format!("metrics.{k}"),
            ColumnId::Tag(k) => format!("tags.{k}"),
            other => format!("attributes.{}", other.title().replace(' ', "_")),
        }
    }

    /// The column header.
    pub fn title(&self) -> String {
        match self {
            ColumnId::Name => "run".into(),
            ColumnId::Status => "status".into(),
            ColumnId::Start => "start (local time)".into(),
            ColumnId::Duration => "duration".into(),
            ColumnId::User => "user".into(),
            ColumnId::Source => "source".into(),
            ColumnId::Experiment => "experiment".into(),
            ColumnId::Store => "store".into(),
            ColumnId::Param(k) | ColumnId::Metric(k) | ColumnId::Tag(k) => k.clone(),
        }
    }
}

/// How a metric column summarises a series.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum MetricAgg {
    /// The latest value (MLflow's rule).
    #[default]
    Last,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

impl MetricAgg {
    /// Short name for headers.
    pub fn label(self) -> &'static str {
        match self {
            MetricAgg::Last => "last",
            MetricAgg::Min => "min",
            MetricAgg::Max => "max",
        }
    }
}

/// Column choices the user made, kept between sessions.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColumnPrefs {
    /// Columns shown although the default would hide them (`params.lr`…).
    pub shown: BTreeSet<String>,
    /// Columns hidden although the default would show them.
    pub hidden: BTreeSet<String>,
    /// How each metric column summarises (default: last).
    pub metric_agg: BTreeMap<String, MetricAgg>,
    /// The order the user dragged the columns into (id strings); columns not in it keep their
    /// place after the column they follow by default.
    #[serde(default)]
    pub order: Vec<String>,
}

/// Puts `cols` in the user's `order`: a column in it goes where the order says; a column not
/// in it (a new key) stays right after the column it follows by default. The run name stays
/// first (it holds the tree).
pub fn apply_order(cols: Vec<ColumnId>, order: &[String]) -> Vec<ColumnId> {
    if order.is_empty() {
        return cols;
    }
    let place: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i + 1))
        .collect();
    // (place in the order, then how far past the last placed column) for each column.
    let mut last = (0usize, 0usize);
    let mut keyed: Vec<((usize, usize), ColumnId)> = cols
        .into_iter()
        .map(|c| {
            last = match (c == ColumnId::Name, place.get(c.id_string().as_str())) {
                (true, _) => (0, 0),
                (false, Some(&p)) => (p, 0),
                (false, None) => (last.0, last.1 + 1),
            };
            (last, c)
        })
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// The ids of `cols` with the column `moved` put just before `before` (at the end when
/// `None`): the new order to keep after a header is dragged.
pub fn moved_column_order(cols: &[ColumnId], moved: &str, before: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = cols.iter().map(ColumnId::id_string).collect();
    let Some(from) = ids.iter().position(|id| id == moved) else {
        return ids;
    };
    let id = ids.remove(from);
    let to = before
        .and_then(|b| ids.iter().position(|id| id == b))
        .unwrap_or(ids.len())
        // Never before the run name.
        .max(usize::from(cols.first() == Some(&ColumnId::Name)));
    ids.insert(to, id);
    ids
}

/// Most param and metric columns shown by default.
const DEFAULT_MAX_KEY_COLUMNS: usize = 12;

/// The shown columns: attributes, then params, metrics and tags, each default-on when its values
/// differ across runs, overridden by the user's choices. Also returns how many constant params
/// and metrics were hidden by default.
pub fn visible_columns(
    set: &RunSet,
    prefs: &ColumnPrefs,
    several_experiments: bool,
) -> (Vec<ColumnId>, usize) {
    let mut cols = Vec::new();
    for c in ColumnId::ATTRIBUTES {
        let default_on = match c {
            ColumnId::Experiment => several_experiments,
            // Runs of a second store are there: every row says which store it comes from.
            ColumnId::Store => set.has_second_store_runs,
            _ => true,
        };
        if show(&c, default_on, prefs) {
            cols.push(c);
        }
    }
    let mut constant_hidden = 0;
    // When no param or metric differs, the table would show names only: show them all (up to
    // the usual number) rather than hide everything.
    let nothing_differs = !set
        .catalog
        .metrics
        .iter()
        .chain(&set.catalog.params)
        .any(|i| i.differs);
    type Group<'a> = (&'a [KeyInfo], fn(String) -> ColumnId);
    let groups: [Group<'_>; 3] = [
        (&set.catalog.metrics, ColumnId::Metric),
        (&set.catalog.params, ColumnId::Param),
        (&set.catalog.tags, ColumnId::Tag),
    ];
    for (gi, (infos, make)) in groups.into_iter().enumerate() {
        let mut defaults = 0;
        // System metrics (`system/…`) come after the model's metrics and are shown on demand:
        // they say how the machine was used, not how the model did.
        let is_system = |info: &&KeyInfo| {
            gi == 0
                && info
                    .key
                    .starts_with(crate::system_metrics::SYSTEM_METRICS_PREFIX)
        };
        let ordered = infos
            .iter()
            .filter(|i| !is_system(i))
            .chain(infos.iter().filter(is_system));
        for info in ordered {
            let c = make(info.key.clone());
            let is_tag = gi == 2;
            let default_on = !is_tag
                && !is_system(&info)
                && (info.differs || set.runs.len() == 1 || nothing_differs)
                && defaults < DEFAULT_MAX_KEY_COLUMNS;
            if default_on {
                defaults += 1;
            } else if !is_tag && !info.differs {
                constant_hidden += 1;
            }
            if show(&c, default_on, prefs) {
                cols.push(c);
            }
        }
    }
    (apply_order(cols, &prefs.order), constant_hidden)
}

fn show(c: &ColumnId, default_on: bool, prefs: &ColumnPrefs) -> bool {
    let id = c.id_string();
    if *c == ColumnId::Name {
        return true;
    }
    if prefs.hidden.contains(&id) {
        return false;
    }
    default_on || prefs.shown.contains(&id)
}

/// A sort key: a column and its direction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortKey {
    /// The column.
    pub column: ColumnId,
    /// Ascending?
    pub ascending: bool,
}

/// One shown row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Position of the run in [`RunSet::runs`].
    pub run: usize,
    /// Nesting depth (0: top level).
    pub depth: u16,
    /// Whether the run has children in the set.
    pub has_children: bool,
    /// Shown only because a descendant matches the name filter (drawn greyed).
    pub context_only: bool,
}

/// A value to sort by.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    /// Missing: always last.
    None,
    /// A number.
    Num(f64),
    /// Text.
    Text(String),
}

impl SortValue {
    /// From text: numbers compare as numbers.
    pub fn from_text(s: &str) -> SortValue {
        match s.trim().parse::<f64>() {
            Ok(v) if !v.is_nan() => SortValue::Num(v),
            _ => SortValue::Text(s.to_lowercase()),
        }
    }

    fn cmp_dir(&self, other: &SortValue, ascending: bool) -> Ordering {
        let flip = |o: Ordering| if ascending { o } else { o.reverse() };
        match (self, other) {
            (SortValue::None, SortValue::None) => Ordering::Equal,
            (SortValue::None, _) => Ordering::Greater,
            (_, SortValue::None) => Ordering::Less,
            (SortValue::Num(a), SortValue::Num(b)) => flip(a.total_cmp(b)),
            (SortValue::Num(_), SortValue::Text(_)) => flip(Ordering::Less),
            (SortValue::Text(_), SortValue::Num(_)) => flip(Ordering::Greater),
            (SortValue::Text(a), SortValue::Text(b)) => flip(a.cmp(b)),
        }
    }
}

/// The sort value of a run in a column. `metric` gives a metric's value for the column's
/// summary (last, min or max).
pub fn sort_value(
    run: &Run,
    column: &ColumnId,
    experiment_name: &dyn Fn(&str) -> String,
    metric: &dyn Fn(&Run, &str) -> Option<f64>,
) -> SortValue {
    match column {
        ColumnId::Name => SortValue::Text(run.info.run_name.to_lowercase()),
        ColumnId::Status => SortValue::Text(run.info.status.as_str().into()),
        ColumnId::Start => run
            .info
            .start_time
            .map_or(SortValue::None, |t| SortValue::Num(t as f64)),
        ColumnId::Duration => {
            duration_ms(run).map_or(SortValue::None, |d| SortValue::Num(d as f64))
        }
        ColumnId::User => SortValue::Text(run.info.user_id.to_lowercase()),
        ColumnId::Source => run
            .data
            .tags
            .get(tags::SOURCE_NAME)
            .map_or(SortValue::None, |s| SortValue::Text(s.to_lowercase())),
        ColumnId::Experiment => SortValue::Text(experiment_name(&run.info.experiment_id)),
        ColumnId::Store => SortValue::Text(
            super::worker::router::slot_name(super::worker::router::slot_of(&run.info.run_id))
                .into(),
        ),
        ColumnId::Param(k) => run
            .data
            .params
            .get(k)
            .map_or(SortValue::None, |v| SortValue::from_text(v)),
        ColumnId::Tag(k) => run
            .data
            .tags
            .get(k)
            .map_or(SortValue::None, |v| SortValue::from_text(v)),
        ColumnId::Metric(k) => match metric(run, k) {
            Some(v) if !v.is_nan() => SortValue::Num(v),
            _ => SortValue::None,
        },
    }
}

/// How long a run ran (until now while it runs).
pub fn duration_ms(run: &Run) -> Option<i64> {
    let start = run.info.start_time?;
    let end = match run.info.end_time {
        Some(e) => e,
        None if run.info.status == crate::model::RunStatus::Running => crate::model::now_ms(),
        None => return None,
    };
    Some((end - start).max(0))
}

/// Runs pinned to the top of the runs table, per experiment: experiment id → run ids (kept
/// between sessions).
pub type PinnedRuns = BTreeMap<String, BTreeSet<String>>;

/// Whether `run` is pinned.
pub fn is_pinned(pinned: &PinnedRuns, run: &Run) -> bool {
    pinned
        .get(&run.info.experiment_id)
        .is_some_and(|ids| ids.contains(&run.info.run_id))
}

/// The runs of a search, plus the pinned runs of the shown experiments that the previous set
/// had and the search left out (its filter excludes them): pinned runs stay whatever the
/// filter. They go last (the rows put them first anyway).
pub fn keep_pinned(
    mut runs: Vec<Arc<Run>>,
    previous: Option<&RunSet>,
    pinned: &PinnedRuns,
    experiments: &BTreeSet<String>,
) -> Vec<Arc<Run>> {
    let Some(previous) = previous else {
        return runs;
    };
    let wanted: Vec<&String> = experiments
        .iter()
        .filter_map(|e| pinned.get(e))
        .flatten()
        .filter(|id| previous.index.contains_key(*id))
        .collect();
    if wanted.is_empty() {
        return runs;
    }
    let have: HashSet<String> = wanted
        .iter()
        .filter(|id| runs.iter().any(|r| &&r.info.run_id == *id))
        .map(|id| id.to_string())
        .collect();
    for id in wanted {
        if !have.contains(id)
            && let Some(run) = previous.get(id)
        {
            runs.push(Arc::clone(run));
        }
    }
    runs
}

/// Builds the shown rows: pinned runs first (whatever the name filter; sorted among
/// themselves, each with its children), then runs whose name contains `name_query`
/// (case-insensitive), with their ancestors kept (greyed) so that the tree never floats loose;
/// siblings sorted by `sort`; children of collapsed runs left out.
pub fn build_rows(
    set: &RunSet,
    name_query: &str,
    collapsed: &HashSet<String>,
    sort_value_of: &dyn Fn(&Run, &ColumnId) -> SortValue,
    sort: &[SortKey],
    pinned: &dyn Fn(&Run) -> bool,
) -> Vec<Row> {
    let n = set.runs.len();
    let is_pinned: Vec<bool> = set.runs.iter().map(|r| pinned(r)).collect();
    let query = name_query.trim().to_lowercase();
    let matches: Vec<bool> = set
        .runs
        .iter()
        .map(|r| {
            query.is_empty()
                || r.info.run_name.to_lowercase().contains(&query)
                || r.info.run_id.starts_with(&query)
        })
        .collect();
    // A run is shown when it matches or a descendant does.
    let mut shown = matches.clone();
    if !query.is_empty() {
        for (i, _) in matches.iter().enumerate().filter(|(_, m)| **m) {
            let mut cur = set.parent_of(&set.runs[i]);
            let mut guard = 0;
            while let Some(p) = cur {
                if shown[p] || guard > 64 {
                    break;
                }
                shown[p] = true;
                cur = set.parent_of(&set.runs[p]);
                guard += 1;
            }
        }
    }
    // Sort values, computed once per run and sort key.
    let keys: Vec<Vec<SortValue>> = if sort.is_empty() {
        Vec::new()
    } else {
        set.runs
            .iter()
            .map(|r| sort.iter().map(|s| sort_value_of(r, &s.column)).collect())
            .collect()
    };
    let order = |a: &usize, b: &usize| -> Ordering {
        for (k, s) in sort.iter().enumerate() {
            let o = keys[*a][k].cmp_dir(&keys[*b][k], s.ascending);
            if o != Ordering::Equal {
                return o;
            }
        }
        a.cmp(b)
    };
    let mut roots: Vec<usize> = (0..n)
        .filter(|&i| {
            shown[i] && !is_pinned[i] && set.parent_of(&set.runs[i]).is_none_or(|p| p == i)
        })
        .collect();
    roots.sort_by(order);
    let mut pinned_roots: Vec<usize> = (0..n).filter(|&i| is_pinned[i]).collect();
    pinned_roots.sort_by(order);
    let mut rows = Vec::with_capacity(n);
    let mut visited = vec![false; n];
    // A stack: the pinned runs on top, so they come first.
    let mut stack: Vec<(usize, u16)> = roots
        .into_iter()
        .rev()
        .chain(pinned_roots.into_iter().rev())
        .map(|i| (i, 0))
        .collect();
    while let Some((i, depth)) = stack.pop() {
        if visited[i] {
            continue; // a parent cycle in damaged data
        }
        visited[i] = true;
        let kids: Vec<usize> = set
            .children
            .get(&set.runs[i].info.run_id)
            .map(|c| {
                c.iter()
                    .copied()
                    .filter(|&c| shown[c] && !is_pinned[c])
                    .collect()
            })
            .unwrap_or_default();
        rows.push(Row {
            run: i,
            depth,
            has_children: !kids.is_empty(),
            context_only: !matches[i] && !is_pinned[i],
        });
        if kids.is_empty() {
            continue;
        }
        if collapsed.contains(&set.runs[i].info.run_id) {
            // Hidden descendants are accounted for, not lost to the cycle fallback below.
            let mut hidden = kids;
            while let Some(k) = hidden.pop() {
                if !std::mem::replace(&mut visited[k], true)
                    && let Some(c) = set.children.get(&set.runs[k].info.run_id)
                {
                    hidden.extend(c.iter().copied().filter(|&c| shown[c] && !is_pinned[c]));
                }
            }
        } else {
            let mut kids = kids;
            kids.sort_by(order);
            for k in kids.into_iter().rev() {
                stack.push((k, depth.saturating_add(1)));
            }
        }
    }
    // Runs caught in a parent cycle are shown at the top level rather than lost.
    for i in 0..n {
        if shown[i] && !visited[i] && !set.index.is_empty() {
            visited[i] = true;
            rows.push(Row {
                run: i,
                depth: 0,
                has_children: false,
                context_only: !matches[i],
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Metric, RunData, RunInfo, RunInputs};

    fn run(id: &str, name: &str, parent: Option<&str>, lr: &str, loss: f64) -> Arc<Run> {
        let mut data = RunData::default();
        data.params.insert("lr".into(), lr.into());
        data.params.insert("seed".into(), "1".into());
        data.metrics
            .insert("loss".into(), Metric::new("loss", loss, 0, 0));
        if let Some(p) = parent {
            data.tags.insert(tags::PARENT_RUN_ID.into(), p.into());
        }
        Arc::new(Run {
            info: RunInfo {
                run_id: id.into(),
                run_name: name.into(),
                experiment_id: "1".into(),
                user_id: "u".into(),
                status: crate::model::RunStatus::Finished,
                start_time: Some(1),
                end_time: Some(2),
                artifact_uri: String::new(),
                lifecycle_stage: crate::model::LifecycleStage::Active,
            },
            data,
            inputs: RunInputs::default(),
        })
    }

    fn set() -> RunSet {
        RunSet::new(
            vec![
                run("a", "sweep", None, "0.1", 0.5),
                run("b", "lr=0.1", Some("a"), "0.1", 0.3),
                run("c", "lr=0.01", Some("a"), "0.01", 0.2),
                run("d", "other", None, "0.5", 0.9),
            ],
            1,
        )
    }

    fn by(set: &RunSet, sort: &[SortKey], q: &str, collapsed: &HashSet<String>) -> Vec<String> {
        by_pinned(set, sort, q, collapsed, &[])
    }

    fn by_pinned(
        set: &RunSet,
        sort: &[SortKey],
        q: &str,
        collapsed: &HashSet<String>,
        pinned: &[&str],
    ) -> Vec<String> {
        let f = |r: &Run, c: &ColumnId| {
            sort_value(r, c, &|s| s.to_string(), &|r, k| {
                r.data.metrics.get(k).map(|m| m.value)
            })
        };
        let is_pinned = |r: &Run| pinned.contains(&r.info.run_id.as_str());
        build_rows(set, q, collapsed, &f, sort, &is_pinned)
            .into_iter()
            .map(|r| {
                let run = &set.runs[r.run];
                format!(
                    "{}{}{}",
                    "  ".repeat(r.depth as usize),
                    run.info.run_name,
                    if r.context_only { " (ctx)" } else { "" }
                )
            })
            .collect()
    }

    #[test]
    fn nested_runs_form_a_tree_and_sort_within_siblings() {
        let s = set();
        let sort = [SortKey {
            column: ColumnId::Metric("loss".into()),
            ascending: true,
        }];
        assert_eq!(
            by(&s, &sort, "", &HashSet::new()),
            ["sweep", "  lr=0.01", "  lr=0.1", "other"]
        );
        let collapsed: HashSet<String> = ["a".to_string()].into();
        assert_eq!(by(&s, &sort, "", &collapsed), ["sweep", "other"]);
    }

    #[test]
    fn pinned_runs_come_first_whatever_the_sort_and_the_name_filter() {
        let s = set();
        let by_loss = |ascending| {
            [SortKey {
                column: ColumnId::Metric("loss".into()),
                ascending,
            }]
        };
        let none = HashSet::new();
        // "other" has the highest loss: pinned, it stays first either way.
        assert_eq!(
            by_pinned(&s, &by_loss(true), "", &none, &["d"]),
            ["other", "sweep", "  lr=0.01", "  lr=0.1"]
        );
        assert_eq!(
            by_pinned(&s, &by_loss(false), "", &none, &["d"]),
            ["other", "sweep", "  lr=0.1", "  lr=0.01"]
        );
        // A pinned child leaves its parent for the top; pinned runs sort among themselves.
        assert_eq!(
            by_pinned(&s, &by_loss(true), "", &none, &["b", "d"]),
            ["lr=0.1", "other", "sweep", "  lr=0.01"]
        );
        // The name filter hides the others, never a pinned run (drawn normally, not greyed).
        assert_eq!(
            by_pinned(&s, &[], "0.01", &none, &["d"]),
            ["other", "sweep (ctx)", "  lr=0.01"]
        );
    }

    #[test]
    fn a_search_that_filters_out_pinned_runs_keeps_them() {
        let previous = set();
        let pinned: PinnedRuns = [(
            "1".to_string(),
            ["d".to_string(), "gone".to_string()].into(),
        )]
        .into();
        let shown: BTreeSet<String> = ["1".to_string()].into();
        // The filter matched "b" only: "d" (pinned, loaded before) stays; an unknown pin does not
        // appear from nowhere.
        let found = vec![Arc::clone(&previous.runs[1])];
        let ids = |runs: Vec<Arc<Run>>| -> Vec<String> {
            runs.iter().map(|r| r.info.run_id.clone()).collect()
        };
        assert_eq!(
            ids(keep_pinned(found.clone(), Some(&previous), &pinned, &shown)),
            ["b", "d"]
        );
        // Found by the search: not twice.
        let both = vec![Arc::clone(&previous.runs[3]), Arc::clone(&previous.runs[1])];
        assert_eq!(
            ids(keep_pinned(both, Some(&previous), &pinned, &shown)),
            ["d", "b"]
        );
        // Another experiment shown: its pins only.
        let other: BTreeSet<String> = ["2".to_string()].into();
        assert_eq!(
            ids(keep_pinned(found, Some(&previous), &pinned, &other)),
            ["b"]
        );
    }

    #[test]
    fn name_filter_keeps_ancestors_greyed() {
        let s = set();
        assert_eq!(
            by(&s, &[], "0.01", &HashSet::new()),
            ["sweep (ctx)", "  lr=0.01"]
        );
    }

    #[test]
    fn default_columns_are_the_differing_ones() {
        let s = set();
        let (cols, hidden) = visible_columns(&s, &ColumnPrefs::default(), false);
        assert!(cols.contains(&ColumnId::Param("lr".into())));
        assert!(!cols.contains(&ColumnId::Param("seed".into())));
        assert!(!cols.contains(&ColumnId::Experiment));
        assert_eq!(hidden, 1);
        let mut prefs = ColumnPrefs::default();
        prefs.shown.insert("params.seed".into());
        prefs.hidden.insert("params.lr".into());
        let (cols, _) = visible_columns(&s, &prefs, false);
        assert!(cols.contains(&ColumnId::Param("seed".into())));
        assert!(!cols.contains(&ColumnId::Param("lr".into())));
    }

    #[test]
    fn nan_and_missing_count_as_values_and_nothing_is_hidden_wholesale() {
        // The last loss is NaN in every run: a NaN is not a constant to hide.
        // (lr differs, seed does not: the columns are chosen, not all shown for want of any.)
        let runs: Vec<Arc<Run>> = [("a", "0.1"), ("b", "0.2"), ("c", "0.3")]
            .iter()
            .map(|(id, lr)| run(id, id, None, lr, f64::NAN))
            .collect();
        let s = RunSet::new(runs, 1);
        let (cols, _) = visible_columns(&s, &ColumnPrefs::default(), false);
        assert!(cols.contains(&ColumnId::Metric("loss".into())), "{cols:?}");
        assert!(!cols.contains(&ColumnId::Param("seed".into())), "{cols:?}");
        // Two runs, each with its own keys: every key differs ("missing" is a value).
        let mut a = run("a", "a", None, "0.1", 1.0);
        let mut b = run("b", "b", None, "0.2", 1.0);
        Arc::make_mut(&mut a)
            .data
            .params
            .insert("only_a".into(), "x".into());
        Arc::make_mut(&mut b)
            .data
            .metrics
            .insert("only_b".into(), Metric::new("only_b", 2.0, 0, 0));
        let s = RunSet::new(vec![a, b], 1);
        let (cols, _) = visible_columns(&s, &ColumnPrefs::default(), false);
        assert!(cols.contains(&ColumnId::Param("only_a".into())), "{cols:?}");
        assert!(
            cols.contains(&ColumnId::Metric("only_b".into())),
            "{cols:?}"
        );
        assert!(!cols.contains(&ColumnId::Param("seed".into())), "{cols:?}");
        // Every value the same in every run: still not a table of names only.
        let same: Vec<Arc<Run>> = ["a", "b"]
            .iter()
            .map(|id| run(id, id, None, "0.1", 0.5))
            .collect();
        let s = RunSet::new(same, 1);
        let (cols, _) = visible_columns(&s, &ColumnPrefs::default(), false);
        assert!(cols.contains(&ColumnId::Metric("loss".into())), "{cols:?}");
    }

    #[test]
    fn system_metrics_are_not_default_columns_and_come_last() {
        let mut runs = set().runs;
        for (i, r) in runs.iter_mut().enumerate() {
            let r = Arc::make_mut(r);
            for key in ["system/cpu_utilization_percentage", "zz_acc"] {
                r.data
                    .metrics
                    .insert(key.into(), crate::model::Metric::new(key, i as f64, 0, 0));
            }
        }
        let s = RunSet::new(runs, 1);
        let (cols, _) = visible_columns(&s, &ColumnPrefs::default(), false);
        let sys = ColumnId::Metric("system/cpu_utilization_percentage".into());
        assert!(cols.contains(&ColumnId::Metric("zz_acc".into())));
        assert!(!cols.contains(&sys));
        let mut prefs = ColumnPrefs::default();
        prefs.shown.insert(sys.id_string());
        let (cols, _) = visible_columns(&s, &prefs, false);
        let pos = |c: &ColumnId| cols.iter().position(|x| x == c).unwrap();
        assert!(pos(&sys) > pos(&ColumnId::Metric("zz_acc".into())));
    }

    #[test]
    fn dragged_columns_keep_their_order_and_new_ones_their_neighbour() {
        let ids =
            |cols: &[ColumnId]| -> Vec<String> { cols.iter().map(ColumnId::id_string).collect() };
        let cols = vec![
            ColumnId::Name,
            ColumnId::Status,
            ColumnId::Metric("loss".into()),
            ColumnId::Param("lr".into()),
        ];
        // Drag lr before status, then loss to the end.
        let order = moved_column_order(&cols, "params.lr", Some("attributes.status"));
        assert_eq!(
            order,
            [
                "attributes.run",
                "params.lr",
                "attributes.status",
                "metrics.loss"
            ]
        );
        let cols = apply_order(cols, &order);
        assert_eq!(ids(&cols), order);
        let order = moved_column_order(&cols, "attributes.status", None);
        assert_eq!(
            order,
            [
                "attributes.run",
                "params.lr",
                "metrics.loss",
                "attributes.status"
            ]
        );
        let cols = apply_order(cols, &order);
        // Nothing goes before the run name.
        let order2 = moved_column_order(&cols, "params.lr", Some("attributes.run"));
        assert_eq!(order2[0], "attributes.run");
        // A new column (not in the order) stays after the one it followed by default.
        let with_new = vec![
            ColumnId::Name,
            ColumnId::Status,
            ColumnId::Metric("acc".into()),
            ColumnId::Metric("loss".into()),
            ColumnId::Param("lr".into()),
        ];
        assert_eq!(
            ids(&apply_order(with_new, &order)),
            [
                "attributes.run",
                "params.lr",
                "metrics.loss",
                "attributes.status",
                "metrics.acc"
            ]
        );
        // The prefs order is what visible_columns gives.
        let s = set();
        let mut prefs = ColumnPrefs::default();
        let (default, _) = visible_columns(&s, &prefs, false);
        let lr_first = moved_column_order(&default, "params.lr", Some("attributes.status"));
        prefs.order = lr_first.clone();
        let (cols, _) = visible_columns(&s, &prefs, false);
        assert_eq!(ids(&cols), lr_first);
        assert_ne!(ids(&default), lr_first);
    }

    #[test]
    fn numbers_sort_as_numbers_and_missing_last() {
        let mut v = [
            SortValue::from_text("10"),
            SortValue::None,
            SortValue::from_text("9"),
        ];
        v.sort_by(|a, b| a.cmp_dir(b, true));
        assert_eq!(v[0], SortValue::Num(9.0));
        v.sort_by(|a, b| a.cmp_dir(b, false));
        assert_eq!(v[0], SortValue::Num(10.0));
        assert_eq!(v[2], SortValue::None);
    }
}
