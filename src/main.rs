//! The `mlscope` binary: a CLI command, or the desktop viewer when no command is given.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mlscope::cli::Cli::parse();
    let Some(command) = cli.command else {
        return open_viewer(cli.store, cli.read_only, cli.compare);
    };
    // A plot shows runs in the colours the viewer shows them in on this machine.
    #[cfg(feature = "viewer")]
    let command = match command {
        mlscope::cli::Command::Plot(mut args) => {
            args.remembered_colors = mlscope::viewer::remembered_run_colors();
            mlscope::cli::Command::Plot(args)
        }
        other => other,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // Not locked for the whole command: progress bars draw on stderr from their own thread.
    let mut err = std::io::stderr();
    let result = mlscope::cli::run(command, &mut out, &mut err);
    drop(out);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the desktop viewer on `store` (or `MLFLOW_TRACKING_URI`); errors of the window system
/// are printed (store errors are shown inside the window).
#[cfg(feature = "viewer")]
fn open_viewer(store: Option<String>, read_only_flag: bool, compare: Option<String>) -> ExitCode {
    let read_only = read_only_flag || mlscope::env::flag(mlscope::env::MLSCOPE_READ_ONLY);
    let options = mlscope::viewer::ViewerOptions { store, read_only };
    match mlscope::viewer::run_comparing(options, compare) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot open the viewer window: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Without the `viewer` feature there is no window to open: say so and show the commands.
#[cfg(not(feature = "viewer"))]
fn open_viewer(_store: Option<String>, _read_only: bool, _compare: Option<String>) -> ExitCode {
    eprintln!(
        "error: this build of mlscope has no viewer (built without the `viewer` feature).\n\
         Use a command instead, e.g. `mlscope runs ./mlruns`; see `mlscope --help`."
    );
    ExitCode::FAILURE
}
