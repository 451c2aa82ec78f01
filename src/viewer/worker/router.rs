//! Two stores in one window: the [`Router`] stands where the app's one [`Worker`] stood and
//! looks the same to it (`send`, `try_recv`, `flush`, `is_idle`), but it holds a worker per
//! open store (the primary one, and optionally a second one opened to compare with).
//!
//! Everything in the viewer is keyed by run and experiment id strings (selection, histories,
//! colours, the run set's index, layouts). So that two stores' ids can never meet (the same
//! store opened twice gives the same ids), the second store's ids are qualified with
//! [`SECOND_STORE_SUFFIX`], a character MLflow never allows in an id, at this one boundary:
//! each request is split by the store its ids name (the suffix stripped) and sent to that
//! store's worker, and the second store's answers get the suffix back on every id they carry
//! (runs, their experiments and `mlflow.parentRunId`, experiment lists, counts, histories,
//! tails, writes). Requests that name both stores are answered once, merged (a runs search
//! streams both stores' pages and ends when both are done). When one store fails and the
//! other answers, the answer is the other's and the failure is reported as a [`StoreEvent`], so
//! an unreachable second server never blanks the first store's views.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::model::Run;
use crate::model::tags::PARENT_RUN_ID;

use super::{
    Answer, ArtifactRoot, Failure, OpenOutcome, Opened, Refreshed, Reply, Request, TagChange,
    TailAnswer, Worker, WriteOp, Written,
};

/// Appended to every id of the second store (MLflow ids are `[A-Za-z0-9_-]`, so `@` never
/// occurs in one).
pub const SECOND_STORE_SUFFIX: &str = "@2";

/// Which open store something belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    /// The store opened first (File → Open): its ids are the store's own.
    Primary,
    /// The store opened to compare with: its ids carry [`SECOND_STORE_SUFFIX`].
    Second,
}

/// The store an id (as the app holds it) belongs to, and the id as that store knows it.
pub fn split_id(id: &str) -> (Slot, &str) {
    match id.strip_suffix(SECOND_STORE_SUFFIX) {
        Some(bare) => (Slot::Second, bare),
        None => (Slot::Primary, id),
    }
}

/// The store an id (as the app holds it) belongs to.
pub fn slot_of(id: &str) -> Slot {
    split_id(id).0
}

/// Whether an id (as the app holds it) is the second store's.
pub fn is_second(id: &str) -> bool {
    slot_of(id) == Slot::Second
}

/// A second store's id as the app holds it.
pub fn qualify(id: &str) -> String {
    format!("{id}{SECOND_STORE_SUFFIX}")
}

/// How the second store is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondState {
    /// Being opened.
    Opening,
    /// Open.
    Ready {
        /// Its tracking URI.
        uri: String,
        /// Whether it can be written (false on read-only media).
        writable: bool,
    },
    /// It could not be opened: why.
    Failed(String),
}

/// The second store as views see it.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondStore {
    /// What the user asked to open (path or URI).
    pub request: String,
    /// Opening, open or failed.
    pub state: SecondState,
    /// The last failure of one of its reads (an unreachable server), while the first store
    /// keeps working.
    pub error: Option<String>,
}

/// What happened to a store outside the answers to the app's requests.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreEvent {
    /// The second store is open (its tracking URI).
    SecondOpened(String),
    /// The second store could not be opened.
    SecondFailed(String),
    /// A read of one store failed while the other answered (shown as a message).
    PartFailed {
        /// The store that failed.
        slot: Slot,
        /// Why.
        message: String,
    },
}

/// One part of a request, sent to one worker.
#[derive(Debug)]
struct Part {
    /// The request (app-level) this part belongs to.
    join: u64,
    slot: Slot,
    /// The part's run ids and tail items, qualified (to say which runs a failure concerns).
    run_ids: Vec<String>,
    tail_items: Vec<(String, String, u64)>,
}

/// An app request being answered by one or two workers.
#[derive(Debug)]
struct Join {
    /// The app's generation, given back on every answer.
    generation: u64,
    /// Parts not answered yet.
    remaining: usize,
    /// More than one part: answers are merged.
    multi: bool,
    /// The write, for a merged [`Reply::Written`] (its ids as the app holds them).
    write: Option<WriteOp>,
    /// Answers of parts that succeeded, by store.
    oks: Vec<(Slot, Reply)>,
    /// Failures of parts.
    failures: Vec<(Slot, Failed)>,
    /// A store's runs pages were passed on already (a search of two stores).
    runs_passed_on: bool,
    /// A part was skipped (a newer request of the same kind came).
    skipped: bool,
}

/// The app's handle on every open store's worker (see the module docs).
pub struct Router {
    primary: Worker,
    second: Option<SecondWorker>,
    /// Each part sent gets its own number (the generation its worker sees).
    next_seq: u64,
    parts: HashMap<u64, Part>,
    joins: HashMap<u64, Join>,
    /// Answers ready for the app.
    ready: VecDeque<Answer>,
    events: VecDeque<StoreEvent>,
    repaint: Option<egui::Context>,
}

struct SecondWorker {
    worker: Worker,
    view: SecondStore,
    /// The part number of its `Open`.
    open_seq: u64,
}

impl Router {
    /// A router over the primary store's worker; no second store yet.
    pub fn new(primary: Worker) -> Router {
        Router {
            primary,
            second: None,
            next_seq: 0,
            parts: HashMap::new(),
            joins: HashMap::new(),
            ready: VecDeque::new(),
            events: VecDeque::new(),
            repaint: None,
        }
    }

    /// Opens a second store at `uri` on a worker of its own (replacing any second store).
    pub fn open_second(&mut self, uri: String) {
        self.close_second();
        self.open_second_with(Worker::spawn(None), uri);
    }

    /// Opens an already open store as the second one (tests, embedding).
    pub fn open_second_store(&mut self, store: std::sync::Arc<dyn crate::store::TrackingStore>) {
        self.close_second();
        let uri = store.tracking_uri();
        self.open_second_with(Worker::spawn(Some(store)), uri);
    }

    fn open_second_with(&mut self, mut worker: Worker, uri: String) {
        if let Some(ctx) = &self.repaint {
            worker.set_repaint_context(ctx);
        }
        let open_seq = self.seq();
        worker.send(open_seq, Request::Open { uri: uri.clone() });
        self.second = Some(SecondWorker {
            worker,
            view: SecondStore {
                request: uri,
                state: SecondState::Opening,
                error: None,
            },
            open_seq,
        });
    }

    /// Closes the second store: its worker stops once its queue is done, and requests still
    /// waiting on it are answered without it.
    pub fn close_second(&mut self) {
        if self.second.take().is_none() {
            return;
        }
        let lost: Vec<u64> = self
            .parts
            .iter()
            .filter(|(_, p)| p.slot == Slot::Second)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in lost {
            if let Some(part) = self.parts.remove(&seq) {
                self.part_done(part.join, Slot::Second, PartOutcome::Dropped);
            }
        }
    }

    /// The second store, if one was opened.
    pub fn second(&self) -> Option<&SecondStore> {
        self.second.as_ref().map(|s| &s.view)
    }

    /// What happened to the stores since last asked.
    pub fn take_events(&mut self) -> Vec<StoreEvent> {
        self.events.drain(..).collect()
    }

    /// Gives the workers the context to wake when an answer is ready.
    pub fn set_repaint_context(&mut self, ctx: &egui::Context) {
        self.primary.set_repaint_context(ctx);
        if let Some(s) = &self.second {
            s.worker.set_repaint_context(ctx);
        }
        self.repaint = Some(ctx.clone());
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Sends a request to the worker(s) of the store(s) its ids name; never blocks.
    pub fn send(&mut self, generation: u64, request: Request) {
        let write = match &request {
            Request::Write(op) => Some(op.clone()),
            _ => None,
        };
        let second_ready = matches!(
            self.second.as_ref().map(|s| &s.view.state),
            Some(SecondState::Ready { .. })
        );
        let parts = split(request, second_ready);
        let join = self.seq();
        self.joins.insert(
            join,
            Join {
                generation,
                remaining: parts.len(),
                multi: parts.len() > 1,
                write,
                oks: Vec::new(),
                failures: Vec::new(),
                runs_passed_on: false,
                skipped: false,
            },
        );
        for (slot, request) in parts {
            let run_ids = part_run_ids(&request, slot);
            let tail_items = match &request {
                Request::Tail { items } => items
                    .iter()
                    .map(|(r, k, o)| (requalify(r, slot), k.clone(), *o))
                    .collect(),
                _ => Vec::new(),
            };
            let refusal = match (slot, self.second.as_ref().map(|s| &s.view.state)) {
                (Slot::Primary, _) => None,
                (
                    Slot::Second,
                    Some(SecondState::Ready {
                        writable: false, ..
                    }),
                ) if matches!(request, Request::Write(_)) => {
                    Some("the second store cannot be written here (it was opened read-only)")
                }
                (Slot::Second, Some(SecondState::Ready { .. })) => None,
                (Slot::Second, _) => Some("the second store is not open"),
            };
            if let Some(why) = refusal {
                let failure = Failure::internal(why);
                let reply = request.failed(failure.clone());
                let failed = Failed {
                    failure,
                    reply,
                    run_ids,
                    tail_items,
                };
                self.part_done(join, slot, PartOutcome::Failed(failed));
                continue;
            }
            let seq = self.seq();
            self.parts.insert(
                seq,
                Part {
                    join,
                    slot,
                    run_ids,
                    tail_items,
                },
            );
            match (slot, self.second.as_mut()) {
                (Slot::Second, Some(second)) => second.worker.send(seq, request),
                _ => self.primary.send(seq, request),
            }
        }
    }

    /// Sends what the workers' outboxes hold.
    pub fn flush(&mut self) {
        self.primary.flush();
        if let Some(s) = &mut self.second {
            s.worker.flush();
        }
    }

    /// Whether nothing is waiting to be sent or answered.
    pub fn is_idle(&self) -> bool {
        self.joins.is_empty()
            && self.ready.is_empty()
            && self.primary.is_idle()
            && self.second.as_ref().is_none_or(|s| s.worker.is_idle())
    }

    /// Takes one answer for the app, if any is ready.
    pub fn try_recv(&mut self) -> Option<Answer> {
        loop {
            if let Some(answer) = self.ready.pop_front() {
                return Some(answer);
            }
            if let Some(answer) = self.primary.try_recv() {
                self.accept(Slot::Primary, answer);
                continue;
            }
            let answer = self.second.as_mut()?.worker.try_recv()?;
            self.accept(Slot::Second, answer);
        }
    }

    /// Takes in one worker's answer: the second store's opening, or a part of a request.
    fn accept(&mut self, slot: Slot, answer: Answer) {
        let Answer {
            generation: seq,
            reply,
            last,
        } = answer;
        if slot == Slot::Second
            && let Some(second) = &mut self.second
            && second.open_seq == seq
        {
            let (state, event) = match reply {
                Reply::Opened(Ok(OpenOutcome::Opened(Opened { uri, writable, .. }))) => (
                    SecondState::Ready {
                        uri: uri.clone(),
                        writable,
                    },
                    StoreEvent::SecondOpened(uri),
                ),
                Reply::Opened(Ok(OpenOutcome::Choose { folder, candidates })) => {
                    let why = format!(
                        "{folder} holds both an mlruns/ folder and an mlflow.db: open one of them as the second store ({})",
                        candidates.join(" or ")
                    );
                    (
                        SecondState::Failed(why.clone()),
                        StoreEvent::SecondFailed(why),
                    )
                }
                Reply::Opened(Err(f)) => (
                    SecondState::Failed(f.message.clone()),
                    StoreEvent::SecondFailed(f.message),
                ),
                _ => return,
            };
            second.view.state = state;
            self.events.push_back(event);
            return;
        }
        let Some(part) = self.parts.get(&seq) else {
            return; // a part of a closed store, or of a request already answered
        };
        let join = part.join;
        let (run_ids, tail_items) = (part.run_ids.clone(), part.tail_items.clone());
        if last {
            self.parts.remove(&seq);
        }
        let reply = if slot == Slot::Second {
            qualify_reply(reply)
        } else {
            reply
        };
        let outcome = match reply {
            Reply::Skipped => PartOutcome::Skipped,
            Reply::Runs(Ok(mut page)) => {
                let multi = self.joins.get(&join).is_some_and(|j| j.multi);
                if multi {
                    // Two stores' pages interleave: the app puts them in the store order.
                    page.ordered = false;
                }
                let done = page.done;
                let remaining = self.joins.get(&join).map_or(0, |j| j.remaining);
                if !done || remaining > 1 {
                    // Pages stream through; only the last store's end ends the search.
                    page.done = false;
                    if (!page.runs.is_empty() || !page.warnings.is_empty() || !done)
                        && let Some(j) = self.joins.get(&join)
                    {
                        self.ready.push_back(Answer {
                            generation: j.generation,
                            reply: Reply::Runs(Ok(page)),
                            last: false,
                        });
                    }
                    if !done {
                        return;
                    }
                    PartOutcome::Ok(Reply::Skipped)
                } else {
                    PartOutcome::Ok(Reply::Runs(Ok(page)))
                }
            }
            mut reply => match failure_mut(&mut reply).cloned() {
                None => PartOutcome::Ok(reply),
                Some(f) => PartOutcome::Failed(Failed {
                    failure: f,
                    reply,
                    run_ids,
                    tail_items,
                }),
            },
        };
        if slot == Slot::Second
            && let Some(second) = &mut self.second
        {
            match &outcome {
                PartOutcome::Failed(f) => second.view.error = Some(f.failure.message.clone()),
                PartOutcome::Ok(Reply::Experiments(_)) => second.view.error = None,
                _ => {}
            }
        }
        self.part_done(join, slot, outcome);
    }

    /// Counts one part of a request as answered; the last one answers the app.
    fn part_done(&mut self, join: u64, slot: Slot, outcome: PartOutcome) {
        let Some(j) = self.joins.get_mut(&join) else {
            return;
        };
        match outcome {
            PartOutcome::Ok(Reply::Skipped) => j.runs_passed_on = true,
            PartOutcome::Ok(reply) => j.oks.push((slot, reply)),
            PartOutcome::Skipped => j.skipped = true,
            PartOutcome::Dropped => {}
            PartOutcome::Failed(f) => j.failures.push((slot, f)),
        }
        j.remaining = j.remaining.saturating_sub(1);
        if j.remaining > 0 {
            return;
        }
        let Some(j) = self.joins.remove(&join) else {
            return;
        };
        let generation = j.generation;
        let (reply, events) = finish(j);
        self.events.extend(events);
        self.ready.push_back(Answer {
            generation,
            reply,
            last: true,
        });
    }
}

/// An answer as a worker gives it (tests of how the app applies answers).
#[cfg(test)]
pub(crate) fn answer_for_tests(generation: u64, reply: Reply) -> Answer {
    Answer {
        generation,
        reply,
        last: true,
    }
}

/// How one part of a request ended.
enum PartOutcome {
    /// Its answer (`Reply::Skipped` for a runs search whose pages were already passed on).
    Ok(Reply),
    /// A newer request made it useless.
    Skipped,
    /// Its store was closed: the answer is the other store's alone.
    Dropped,
    /// It failed.
    Failed(Failed),
}

/// A part that failed.
#[derive(Debug)]
struct Failed {
    failure: Failure,
    /// The reply saying so (the app's answer when every part failed).
    reply: Reply,
    /// The runs and tail items it concerned, as the app holds them.
    run_ids: Vec<String>,
    tail_items: Vec<(String, String, u64)>,
}

/// The one answer to a request whose parts are all answered.
fn finish(j: Join) -> (Reply, Vec<StoreEvent>) {
    let Join {
        multi,
        write,
        mut oks,
        mut failures,
        runs_passed_on,
        skipped,
        ..
    } = j;
    if skipped {
        return (Reply::Skipped, Vec::new());
    }
    oks.sort_by_key(|(slot, _)| *slot);
    failures.sort_by_key(|(slot, _)| *slot);
    if oks.is_empty() && !runs_passed_on {
        // Every part failed (the first failure, saying which store when it is the second), or
        // was dropped with its store.
        return match failures.into_iter().next() {
            Some((slot, mut f)) => {
                if slot == Slot::Second
                    && let Some(failure) = failure_mut(&mut f.reply)
                {
                    failure.message = format!("second store: {}", failure.message);
                }
                (f.reply, Vec::new())
            }
            None => (Reply::Skipped, Vec::new()),
        };
    }
    if !multi && let Some((_, reply)) = oks.pop() {
        // One store: its answer as it is.
        return (reply, Vec::new());
    }
    let mut merged = match oks.first().map(|(_, r)| r) {
        None | Some(Reply::Runs(_)) => end_of_runs(),
        Some(Reply::Experiments(_)) => Reply::Experiments(Ok(super::ExperimentList {
            experiments: Vec::new(),
            warnings: Vec::new(),
        })),
        Some(Reply::LatestActive(_)) => Reply::LatestActive(Ok(None)),
        Some(Reply::RunCounts(_)) => Reply::RunCounts(Ok(BTreeMap::new())),
        Some(Reply::Refreshed(_)) => Reply::Refreshed(Ok(empty_refreshed())),
        Some(Reply::LiveRefreshed(_)) => Reply::LiveRefreshed(Ok(empty_refreshed())),
        Some(Reply::Tails(_)) => Reply::Tails(Ok(Vec::new())),
        Some(Reply::Written(_)) => match write {
            Some(op) => Reply::Written(Ok(Written {
                op,
                errors: Vec::new(),
            })),
            None => oks.remove(0).1,
        },
        // Kinds that are never split: the first answer.
        Some(_) => oks.remove(0).1,
    };
    for (_, reply) in oks {
        merge_into(&mut merged, reply);
    }
    let mut events = Vec::new();
    for (slot, f) in failures {
        let message = f.failure.message;
        match &mut merged {
            Reply::Refreshed(Ok(r)) => r
                .errors
                .extend(f.run_ids.into_iter().map(|id| (id, message.clone()))),
            Reply::Tails(Ok(t)) => {
                t.extend(
                    f.tail_items
                        .into_iter()
                        .map(|(run_id, key, from)| TailAnswer {
                            run_id,
                            key,
                            from,
                            result: Err(message.clone()),
                        }),
                )
            }
            Reply::Written(Ok(w)) => w.errors.push(format!(
                "the change was not saved in the {} store: {message}",
                slot_name(slot),
            )),
            // A live read of a store that failed: nothing is dropped; the next change reads
            // again.
            Reply::LiveRefreshed(_) => {}
            _ => events.push(StoreEvent::PartFailed { slot, message }),
        }
    }
    (merged, events)
}

/// "first" or "second".
pub fn slot_name(slot: Slot) -> &'static str {
    match slot {
        Slot::Primary => "first",
        Slot::Second => "second",
    }
}

fn empty_refreshed() -> Refreshed {
    Refreshed {
        runs: Vec::new(),
        errors: Vec::new(),
    }
}

fn end_of_runs() -> Reply {
    Reply::Runs(Ok(super::RunsPage {
        runs: Vec::new(),
        warnings: Vec::new(),
        done: true,
        ordered: false,
        progress: None,
    }))
}

/// Adds one store's answer to the merged answer of the same kind.
fn merge_into(merged: &mut Reply, reply: Reply) {
    match (merged, reply) {
        (Reply::Experiments(Ok(m)), Reply::Experiments(Ok(r))) => {
            m.experiments.extend(r.experiments);
            m.warnings.extend(r.warnings);
        }
        (Reply::Runs(Ok(m)), Reply::Runs(Ok(r))) => {
            m.runs.extend(r.runs);
            m.warnings.extend(r.warnings);
        }
        (Reply::LatestActive(Ok(m)), Reply::LatestActive(Ok(r))) if m.is_none() => *m = r,
        (Reply::RunCounts(Ok(m)), Reply::RunCounts(Ok(r))) => m.extend(r),
        (Reply::Refreshed(Ok(m)), Reply::Refreshed(Ok(r)))
        | (Reply::LiveRefreshed(Ok(m)), Reply::LiveRefreshed(Ok(r))) => {
            m.runs.extend(r.runs);
            m.errors.extend(r.errors);
        }
        (Reply::Tails(Ok(m)), Reply::Tails(Ok(r))) => m.extend(r),
        (Reply::Written(Ok(m)), Reply::Written(Ok(r))) => m.errors.extend(r.errors),
        _ => {}
    }
}

/// The failure a reply carries, for the kinds whose result is one `Result` (histories and
/// artifacts carry their own keys: their failures go to the app as they are).
fn failure_mut(reply: &mut Reply) -> Option<&mut Failure> {
    match reply {
        Reply::Opened(Err(f))
        | Reply::Experiments(Err(f))
        | Reply::Runs(Err(f))
        | Reply::LatestActive(Err(f))
        | Reply::RunCounts(Err(f))
        | Reply::Refreshed(Err(f))
        | Reply::LiveRefreshed(Err(f))
        | Reply::Written(Err(f))
        | Reply::LocalCopy(Err(f))
        | Reply::Tails(Err(f))
        | Reply::Saved(Err(f)) => Some(f),
        _ => None,
    }
}

/// `id` as the app holds it, for an id of `slot`'s store.
fn requalify(id: &str, slot: Slot) -> String {
    match slot {
        Slot::Primary => id.to_string(),
        Slot::Second => qualify(id),
    }
}

/// The runs a part (with its store's own ids) is about, as the app holds them.
fn part_run_ids(request: &Request, slot: Slot) -> Vec<String> {
    let ids: Vec<String> = match request {
        Request::GetRuns { run_ids } | Request::LiveRuns { run_ids } => run_ids.clone(),
        Request::Write(op) => op.run_ids(),
        _ => Vec::new(),
    };
    ids.iter().map(|id| requalify(id, slot)).collect()
}

/// Ids grouped by their store, the suffix stripped.
fn partition(ids: Vec<String>) -> BTreeMap<Slot, Vec<String>> {
    let mut by_slot: BTreeMap<Slot, Vec<String>> = BTreeMap::new();
    for id in ids {
        let (slot, bare) = split_id(&id);
        by_slot.entry(slot).or_default().push(bare.to_string());
    }
    by_slot
}

/// A request split into one request per store its ids name, each with that store's own ids.
/// Requests naming no store go to the primary one; experiment lists go to every open store.
fn split(request: Request, second_open: bool) -> Vec<(Slot, Request)> {
    let per_slot = |ids: Vec<String>, make: &dyn Fn(Vec<String>) -> Request| {
        let by_slot = partition(ids);
        if by_slot.is_empty() {
            return vec![(Slot::Primary, make(Vec::new()))];
        }
        by_slot
            .into_iter()
            .map(|(slot, ids)| (slot, make(ids)))
            .collect::<Vec<_>>()
    };
    match request {
        Request::Experiments { view } => {
            let mut parts = vec![(Slot::Primary, Request::Experiments { view })];
            if second_open {
                parts.push((Slot::Second, Request::Experiments { view }));
            }
            parts
        }
        Request::Runs {
            experiment_ids,
            filter,
            view,
        } => per_slot(experiment_ids, &|experiment_ids| Request::Runs {
            experiment_ids,
            filter: filter.clone(),
            view,
        }),
        Request::LatestActive { experiment_ids } => per_slot(experiment_ids, &|experiment_ids| {
            Request::LatestActive { experiment_ids }
        }),
        Request::RunCounts { experiment_ids } => per_slot(experiment_ids, &|experiment_ids| {
            Request::RunCounts { experiment_ids }
        }),
        Request::GetRuns { run_ids } => per_slot(run_ids, &|run_ids| Request::GetRuns { run_ids }),
        Request::LiveRuns { run_ids } => {
            per_slot(run_ids, &|run_ids| Request::LiveRuns { run_ids })
        }
        Request::Histories { run_id, keys } => {
            let (slot, bare) = split_id(&run_id);
            vec![(
                slot,
                Request::Histories {
                    run_id: bare.to_string(),
                    keys,
                },
            )]
        }
        Request::Write(op) => split_write(op)
            .into_iter()
            .map(|(slot, op)| (slot, Request::Write(op)))
            .collect(),
        Request::ListArtifacts { root, path } => {
            let (slot, root) = bare_root(root);
            vec![(slot, Request::ListArtifacts { root, path })]
        }
        Request::ReadArtifact { root, path, limit } => {
            let (slot, root) = bare_root(root);
            vec![(slot, Request::ReadArtifact { root, path, limit })]
        }
        Request::LocalCopy { root, path } => {
            let (slot, root) = bare_root(root);
            vec![(slot, Request::LocalCopy { root, path })]
        }
        Request::Tail { items } => {
            let mut by_slot: BTreeMap<Slot, Vec<(String, String, u64)>> = BTreeMap::new();
            for (run, key, offset) in items {
                let (slot, bare) = split_id(&run);
                by_slot
                    .entry(slot)
                    .or_default()
                    .push((bare.to_string(), key, offset));
            }
            if by_slot.is_empty() {
                return vec![(Slot::Primary, Request::Tail { items: Vec::new() })];
            }
            by_slot
                .into_iter()
                .map(|(slot, items)| (slot, Request::Tail { items }))
                .collect()
        }
        other @ (Request::Open { .. } | Request::SaveFile { .. }) => vec![(Slot::Primary, other)],
    }
}

fn bare_root(root: ArtifactRoot) -> (Slot, ArtifactRoot) {
    let (slot, run_id) = split_id(&root.run_id);
    let run_id = run_id.to_string();
    let experiment_id = split_id(&root.experiment_id).1.to_string();
    (
        slot,
        ArtifactRoot {
            run_id,
            experiment_id,
            artifact_uri: root.artifact_uri,
        },
    )
}

/// A write split by the store of each run it touches, with each store's own ids.
fn split_write(op: WriteOp) -> Vec<(Slot, WriteOp)> {
    let one = |run_id: &str| split_id(run_id).0;
    let bare = |run_id: &str| split_id(run_id).1.to_string();
    match op {
        WriteOp::SetTag { run_id, tag } => vec![(
            one(&run_id),
            WriteOp::SetTag {
                run_id: bare(&run_id),
                tag,
            },
        )],
        WriteOp::DeleteTag { run_id, key } => vec![(
            one(&run_id),
            WriteOp::DeleteTag {
                run_id: bare(&run_id),
                key,
            },
        )],
        WriteOp::Rename { run_id, name } => vec![(
            one(&run_id),
            WriteOp::Rename {
                run_id: bare(&run_id),
                name,
            },
        )],
        WriteOp::DeleteRuns { run_ids } => partition(run_ids)
            .into_iter()
            .map(|(slot, run_ids)| (slot, WriteOp::DeleteRuns { run_ids }))
            .collect(),
        WriteOp::RestoreRuns { run_ids } => partition(run_ids)
            .into_iter()
            .map(|(slot, run_ids)| (slot, WriteOp::RestoreRuns { run_ids }))
            .collect(),
        WriteOp::TagRuns { key, changes } => {
            let mut by_slot: BTreeMap<Slot, Vec<TagChange>> = BTreeMap::new();
            for c in changes {
                let (slot, id) = split_id(&c.run_id);
                let change = TagChange {
                    run_id: id.to_string(),
                    ..c
                };
                by_slot.entry(slot).or_default().push(change);
            }
            by_slot
                .into_iter()
                .map(|(slot, changes)| {
                    (
                        slot,
                        WriteOp::TagRuns {
                            key: key.clone(),
                            changes,
                        },
                    )
                })
                .collect()
        }
    }
}

/// A second-store run with its ids as the app holds them.
pub fn qualify_run(mut run: Run) -> Run {
    run.info.run_id = qualify(&run.info.run_id);
    run.info.experiment_id = qualify(&run.info.experiment_id);
    if let Some(parent) = run.data.tags.get_mut(PARENT_RUN_ID) {
        *parent = qualify(parent);
    }
    run
}

fn qualify_op(op: WriteOp) -> WriteOp {
    match op {
        WriteOp::SetTag { run_id, tag } => WriteOp::SetTag {
            run_id: qualify(&run_id),
            tag,
        },
        WriteOp::DeleteTag { run_id, key } => WriteOp::DeleteTag {
            run_id: qualify(&run_id),
            key,
        },
        WriteOp::Rename { run_id, name } => WriteOp::Rename {
            run_id: qualify(&run_id),
            name,
        },
        WriteOp::DeleteRuns { run_ids } => WriteOp::DeleteRuns {
            run_ids: run_ids.iter().map(|id| qualify(id)).collect(),
        },
        WriteOp::RestoreRuns { run_ids } => WriteOp::RestoreRuns {
            run_ids: run_ids.iter().map(|id| qualify(id)).collect(),
        },
        WriteOp::TagRuns { key, changes } => WriteOp::TagRuns {
            key,
            changes: changes
                .into_iter()
                .map(|c| TagChange {
                    run_id: qualify(&c.run_id),
                    ..c
                })
                .collect(),
        },
    }
}

/// A second store's answer with every id it carries as the app holds it.
fn qualify_reply(reply: Reply) -> Reply {
    let refreshed = |r: Refreshed| Refreshed {
        runs: r.runs.into_iter().map(qualify_run).collect(),
        errors: r
            .errors
            .into_iter()
            .map(|(id, e)| (qualify(&id), e))
            .collect(),
    };
    match reply {
        Reply::Experiments(Ok(mut list)) => {
            for e in &mut list.experiments {
                e.experiment_id = qualify(&e.experiment_id);
            }
            Reply::Experiments(Ok(list))
        }
        Reply::Runs(Ok(mut page)) => {
            page.runs = page.runs.into_iter().map(qualify_run).collect();
            Reply::Runs(Ok(page))
        }
        Reply::LatestActive(Ok(id)) => Reply::LatestActive(Ok(id.map(|id| qualify(&id)))),
        Reply::RunCounts(Ok(counts)) => Reply::RunCounts(Ok(counts
            .into_iter()
            .map(|(id, n)| (qualify(&id), n))
            .collect())),
        Reply::Refreshed(Ok(r)) => Reply::Refreshed(Ok(refreshed(r))),
        Reply::LiveRefreshed(Ok(r)) => Reply::LiveRefreshed(Ok(refreshed(r))),
        Reply::Histories { run_id, result } => Reply::Histories {
            run_id: qualify(&run_id),
            result,
        },
        Reply::Written(Ok(w)) => Reply::Written(Ok(Written {
            op: qualify_op(w.op),
            errors: w.errors,
        })),
        Reply::Tails(Ok(tails)) => Reply::Tails(Ok(tails
            .into_iter()
            .map(|t| TailAnswer {
                run_id: qualify(&t.run_id),
                ..t
            })
            .collect())),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Metric, ViewType};
    use crate::store::{CreateRun, FileStore, TrackingStore};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// A file store in `dir/mlruns` with one experiment and one run (with a parent tag and a
    /// metric); returns its run and experiment ids.
    fn store_with_a_run(dir: &std::path::Path) -> (String, String) {
        let store = FileStore::open(&dir.join("mlruns")).unwrap();
        let exp = store.create_experiment("sweep", None, &[]).unwrap();
        let run = store
            .create_run(CreateRun {
                experiment_id: exp.clone(),
                run_name: Some("trial".into()),
                ..Default::default()
            })
            .unwrap();
        let id = run.info.run_id;
        store
            .log_batch(&id, &[Metric::new("loss", 0.5, 1, 0)], &[], &[])
            .unwrap();
        (id, exp)
    }

    fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_tree(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }

    fn open(dir: &std::path::Path) -> Arc<dyn TrackingStore> {
        Arc::new(FileStore::open(&dir.join("mlruns")).unwrap())
    }

    /// The next answer for the app, waiting for it.
    fn answer(router: &mut Router) -> Answer {
        let started = Instant::now();
        loop {
            if let Some(a) = router.try_recv() {
                return a;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no answer");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// A router on the store in `first` with the store in `second` open as the second store.
    /// A store with a run and a copy of it (the very same ids): (first, second, run, experiment).
    fn a_store_and_its_copy() -> (tempfile::TempDir, tempfile::TempDir, String, String) {
        let first = tempfile::tempdir().unwrap();
        let (id, exp) = store_with_a_run(first.path());
        let second = tempfile::tempdir().unwrap();
        copy_tree(&first.path().join("mlruns"), &second.path().join("mlruns"));
        (first, second, id, exp)
    }

    fn two_stores(first: &std::path::Path, second: &std::path::Path) -> Router {
        let mut router = Router::new(Worker::spawn(Some(open(first))));
        router.open_second_store(open(second));
        let started = Instant::now();
        while !matches!(
            router.second().map(|s| &s.state),
            Some(SecondState::Ready { .. })
        ) {
            assert!(router.try_recv().is_none(), "no answer was asked for");
            assert!(started.elapsed() < Duration::from_secs(30), "not opened");
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(matches!(
            router.take_events().as_slice(),
            [StoreEvent::SecondOpened(_)]
        ));
        router
    }

    #[test]
    fn ids_are_qualified_and_split_back_without_loss() {
        for id in ["0", "12", "a1b2c3d4e5f60718293a4b5c6d7e8f90", "", "x@1"] {
            assert_eq!(split_id(id), (Slot::Primary, id));
            assert_eq!(split_id(&qualify(id)), (Slot::Second, id));
        }
        let mut data = crate::model::RunData::default();
        data.tags.insert(PARENT_RUN_ID.into(), "p".into());
        let run = qualify_run(Run {
            info: crate::model::RunInfo {
                run_id: "r".into(),
                run_name: "trial".into(),
                experiment_id: "1".into(),
                user_id: "u".into(),
                status: crate::model::RunStatus::Finished,
                start_time: Some(1),
                end_time: Some(2),
                artifact_uri: String::new(),
                lifecycle_stage: crate::model::LifecycleStage::Active,
            },
            data,
            inputs: crate::model::RunInputs::default(),
        });
        assert_eq!(run.info.run_id, qualify("r"));
        assert_eq!(run.info.experiment_id, qualify("1"));
        assert_eq!(run.data.tags[PARENT_RUN_ID], qualify("p"));
    }

    #[test]
    fn requests_are_split_by_the_store_their_ids_name() {
        let parts = split(
            Request::GetRuns {
                run_ids: vec!["a".into(), qualify("b"), "c".into()],
            },
            true,
        );
        let ids: Vec<(Slot, Vec<String>)> = parts
            .into_iter()
            .map(|(slot, r)| match r {
                Request::GetRuns { run_ids } => (slot, run_ids),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            ids,
            [
                (Slot::Primary, vec!["a".to_string(), "c".to_string()]),
                (Slot::Second, vec!["b".to_string()])
            ]
        );
        // Experiment lists go to every open store; nothing goes to a store not open.
        assert_eq!(
            split(
                Request::Experiments {
                    view: ViewType::All
                },
                true
            )
            .len(),
            2
        );
        assert_eq!(
            split(
                Request::Experiments {
                    view: ViewType::All
                },
                false
            )
            .len(),
            1
        );
        let parts = split(
            Request::Histories {
                run_id: qualify("b"),
                keys: vec![],
            },
            true,
        );
        let [(slot, Request::Histories { run_id, .. })] = parts.as_slice() else {
            panic!("one part: {parts:?}")
        };
        let (slot, run_id) = (*slot, run_id.clone());
        assert_eq!((slot, run_id.as_str()), (Slot::Second, "b"));
    }

    #[test]
    fn the_same_run_in_two_stores_is_read_from_each_and_kept_apart() {
        let (first, second, id, exp) = a_store_and_its_copy();
        // The second store is a copy: the very same ids.
        let mut router = two_stores(first.path(), second.path());

        router.send(
            7,
            Request::Experiments {
                view: ViewType::ActiveOnly,
            },
        );
        let a = answer(&mut router);
        assert_eq!(a.generation, 7);
        let Reply::Experiments(Ok(list)) = a.reply else {
            panic!("{:?}", a.reply)
        };
        let ids: Vec<&str> = list
            .experiments
            .iter()
            .map(|e| e.experiment_id.as_str())
            .collect();
        assert!(
            ids.contains(&exp.as_str()) && ids.contains(&qualify(&exp).as_str()),
            "{ids:?}"
        );

        // One search over an experiment of each store: pages of both, then one end.
        router.send(
            8,
            Request::Runs {
                experiment_ids: vec![exp.clone(), qualify(&exp)],
                filter: String::new(),
                view: ViewType::ActiveOnly,
            },
        );
        let mut runs = Vec::new();
        loop {
            let a = answer(&mut router);
            assert_eq!(a.generation, 8);
            let Reply::Runs(Ok(page)) = a.reply else {
                panic!("{:?}", a.reply)
            };
            runs.extend(page.runs.into_iter().map(|r| r.info.run_id));
            if page.done {
                break;
            }
        }
        runs.sort();
        let mut expected = vec![id.clone(), qualify(&id)];
        expected.sort();
        assert_eq!(runs, expected);
        assert!(router.is_idle());

        router.send(
            9,
            Request::Histories {
                run_id: qualify(&id),
                keys: vec!["loss".into()],
            },
        );
        let Reply::Histories { run_id, result } = answer(&mut router).reply else {
            panic!("histories")
        };
        assert_eq!(run_id, qualify(&id));
        assert_eq!(result.unwrap().series["loss"].values, [0.5]);
    }

    #[test]
    fn a_write_to_a_second_store_run_reaches_that_store_only() {
        let (first, second, id, _) = a_store_and_its_copy();
        let mut router = two_stores(first.path(), second.path());
        router.send(
            3,
            Request::Write(WriteOp::Rename {
                run_id: qualify(&id),
                name: "renamed".into(),
            }),
        );
        let Reply::Written(Ok(written)) = answer(&mut router).reply else {
            panic!("not written")
        };
        assert!(written.errors.is_empty(), "{:?}", written.errors);
        // The app sees the run it changed, by its id.
        assert_eq!(written.op.run_ids(), [qualify(&id)]);
        assert_eq!(
            open(second.path()).get_run(&id).unwrap().info.run_name,
            "renamed"
        );
        assert_eq!(
            open(first.path()).get_run(&id).unwrap().info.run_name,
            "trial"
        );

        // A delete of runs of both stores is one answer naming both.
        router.send(
            4,
            Request::Write(WriteOp::DeleteRuns {
                run_ids: vec![id.clone(), qualify(&id)],
            }),
        );
        let Reply::Written(Ok(written)) = answer(&mut router).reply else {
            panic!("not written")
        };
        assert_eq!(written.op.run_ids(), [id.clone(), qualify(&id)]);
        for dir in [first.path(), second.path()] {
            let run = open(dir).get_run(&id).unwrap();
            assert_eq!(
                run.info.lifecycle_stage,
                crate::model::LifecycleStage::Deleted
            );
        }
    }

    #[test]
    fn closing_the_second_store_answers_with_the_first_ones_part() {
        let (first, second, id, _) = a_store_and_its_copy();
        let mut router = two_stores(first.path(), second.path());
        router.send(
            2,
            Request::GetRuns {
                run_ids: vec![id.clone(), qualify(&id)],
            },
        );
        // Closed before its part is taken in.
        router.close_second();
        let a = answer(&mut router);
        assert_eq!(a.generation, 2);
        let Reply::Refreshed(Ok(r)) = a.reply else {
            panic!("{:?}", a.reply)
        };
        let ids: Vec<&str> = r.runs.iter().map(|r| r.info.run_id.as_str()).collect();
        assert_eq!(ids, [id.as_str()]);
        assert!(r.errors.is_empty());
        assert!(router.is_idle());
    }

    #[test]
    fn a_second_store_that_fails_leaves_the_first_one_answering() {
        let first = tempfile::tempdir().unwrap();
        let (id, exp) = store_with_a_run(first.path());
        let second = tempfile::tempdir().unwrap();
        store_with_a_run(second.path());
        let mut router = two_stores(first.path(), second.path());
        // The second store is damaged after opening.
        std::fs::remove_dir_all(second.path().join("mlruns")).unwrap();
        router.send(
            5,
            Request::GetRuns {
                run_ids: vec![id.clone(), qualify("gone")],
            },
        );
        let Reply::Refreshed(Ok(r)) = answer(&mut router).reply else {
            panic!("no runs")
        };
        assert_eq!(r.runs.len(), 1);
        assert_eq!(r.runs[0].info.run_id, id);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].0, qualify("gone"));

        router.send(
            6,
            Request::Runs {
                experiment_ids: vec![exp.clone(), qualify("0")],
                filter: String::new(),
                view: ViewType::ActiveOnly,
            },
        );
        let mut runs = Vec::new();
        loop {
            let a = answer(&mut router);
            let Reply::Runs(Ok(page)) = a.reply else {
                panic!("{:?}", a.reply)
            };
            runs.extend(page.runs.into_iter().map(|r| r.info.run_id));
            if page.done {
                break;
            }
        }
        assert_eq!(runs, [id]);
    }
}
