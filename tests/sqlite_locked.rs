//! A database locked by another process: logging fails with a clear error after the busy
//! timeout and retries, writes nothing, and works again once the lock is gone.

use mlscope::{ErrorCode, TrackingClient};

#[test]
fn locked_database_gives_a_clear_error_and_changes_nothing() {
    // SAFETY: the only test of this binary; set before any store is opened.
    unsafe { std::env::set_var("MLSCOPE_SQLITE_BUSY_TIMEOUT_MS", "100") };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let uri = format!("sqlite:///{}", db.display());
    let client = TrackingClient::new(&uri).unwrap();
    let run = client.create_run("0", Some("locked"), &[], None).unwrap();
    let id = run.info.run_id;
    client.log_metric(&id, "m", 1.0, Some(1), Some(0)).unwrap();

    let locker = rusqlite::Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let before = std::fs::read(&db).unwrap();

    let err = client
        .log_metric(&id, "m", 2.0, Some(2), Some(1))
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InternalError);
    let text = err.to_string();
    assert!(text.contains("locked"), "{text}");
    assert!(text.contains(db.to_str().unwrap()), "{text}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "nothing was written");

    locker.execute_batch("ROLLBACK").unwrap();
    client.log_metric(&id, "m", 3.0, Some(3), Some(2)).unwrap();
    let values: Vec<f64> = client
        .get_metric_history(&id, "m")
        .unwrap()
        .iter()
        .map(|m| m.value)
        .collect();
    assert_eq!(values, vec![1.0, 3.0]);
}
