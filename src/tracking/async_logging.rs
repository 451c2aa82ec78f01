//! Asynchronous logging, like MLflow's `synchronous=False`: a call validates its keys, queues its
//! values and returns; one named thread per store (`mlscope-async-logging`) merges what is
//! queued into `log_batch` requests within MLflow's limits (1000 metrics, 100 params, 100 tags
//! per request) and writes them.
//!
//! * **Which calls.** [`log_metric_async`], [`log_metrics_async`], [`log_param_async`],
//!   [`log_params_async`], [`set_tag_async`], [`set_tags_async`], [`log_batch_async`],
//!   [`log_artifact_async`], [`log_artifacts_async`] (fluent, to the active run), and the
//!   `TrackingClient::*_async` methods (explicit run id). MLflow's `synchronous=False` is the
//!   `_async` variant; `synchronous=None` is the plain fluent call, which is asynchronous when
//!   `MLFLOW_ENABLE_ASYNC_LOGGING` is `true` (or `1`); `synchronous=True` is the plain call
//!   without that variable, or any plain [`TrackingClient`](super::TrackingClient) method (those always write before
//!   they return).
//! * **Back-pressure.** At most [`DEFAULT_QUEUE_CAPACITY`] values (metrics, params and tags;
//!   an artifact counts one) are queued or being written per store
//!   (`MLSCOPE_ASYNC_LOGGING_QUEUE_SIZE` changes it); a call that would exceed it waits for room,
//!   so memory stays bounded however fast a program logs.
//! * **Waiting.** [`flush`] (all stores of the fluent API) and
//!   [`TrackingClient::flush_async_logging`](super::TrackingClient::flush_async_logging) return once everything queued before the call is
//!   written. Ending a run (`end_run`, [`ActiveRun`](crate::ActiveRun)'s drop,
//!   `ActiveRun::end`, `TrackingClient::set_terminated`) flushes first, as MLflow does. Dropping
//!   the last clone of a client writes what it still holds.
//! * **Errors are never lost.** A write that fails is remembered. The next `flush`, run end or
//!   asynchronous call of that store returns it (an asynchronous call that returns it did not
//!   queue its own values). The error carries the first failure's MLflow code, how many
//!   requests and values were lost, and the first messages. Only a client dropped with
//!   unreported failures prints them on stderr, having nobody to return them to.
//! * **Order.** Values of one run are written in the order they were queued (per metric key,
//!   per param, per tag); an asynchronous and a synchronous call are not ordered with each other.
//! * **Artifacts** queued with `log_artifact(s)_async` are copied when the thread reaches them:
//!   keep the local files until the next `flush` or the end of the run.
//! * **Exit.** As in MLflow, a process that exits without ending its runs (or calling `flush`)
//!   loses what is still queued; `with_run` and [`ActiveRun`](crate::ActiveRun) end their run.
//!
//! The queue engine is `async_queue` (below the client), the `TrackingClient::*_async` methods
//! are in `client`, the fluent functions in [`fluent`](super::fluent); this module gathers the
//! public names.

pub use super::async_queue::{DEFAULT_QUEUE_CAPACITY, THREAD_NAME, async_logging_enabled};
pub use super::fluent::{
    flush, flush_async_logging, log_artifact_async, log_artifacts_async, log_batch_async,
    log_metric_async, log_metric_at_async, log_metrics_async, log_param_async, log_params_async,
    set_tag_async, set_tags_async,
};
