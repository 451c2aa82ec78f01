//! `mlscope install-desktop`: a per-user launcher entry (freedesktop `.desktop` file) and icon,
//! so the viewer opens from the desktop's launcher and from a file manager's "Open with" on a
//! folder or a `.db` file. Nothing needs root: everything goes under `$XDG_DATA_HOME`
//! (default `~/.local/share`). `--uninstall` removes what it wrote.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};

/// The launcher icon (the viewer's window icon too).
pub const ICON_PNG: &[u8] = include_bytes!("../../assets/icon/mlscope.png");

/// Name of the desktop entry and the icon (`mlscope.desktop`, icon `mlscope`).
pub const APP_ID: &str = "mlscope";

/// What "Open with" offers mlscope for: folders (an `mlruns` folder or a project holding one)
/// and SQLite files (`mlflow.db`).
pub const MIME_TYPES: &str = "inode/directory;application/vnd.sqlite3;application/x-sqlite3;";

/// `mlscope install-desktop`.
#[derive(Debug, Args)]
pub struct InstallDesktopArgs {
    /// Remove the launcher entry and icon instead of installing them.
    #[arg(long)]
    pub uninstall: bool,
}

/// Where the entry and the icon go under a data directory.
struct Paths {
    desktop: PathBuf,
    icon: PathBuf,
}

impl Paths {
    fn under(data_home: &Path) -> Paths {
        Paths {
            desktop: data_home
                .join("applications")
                .join(format!("{APP_ID}.desktop")),
            icon: data_home
                .join("icons/hicolor/256x256/apps")
                .join(format!("{APP_ID}.png")),
        }
    }
}

/// The user's data directory: `$XDG_DATA_HOME` when it is an absolute path (the specification
/// says to ignore a relative one), else `$HOME/.local/share`.
fn data_home() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from)
        && dir.is_absolute()
    {
        return Ok(dir);
    }
    match std::env::var_os("HOME").map(PathBuf::from) {
        Some(home) if home.is_absolute() => Ok(home.join(".local").join("share")),
        _ => Err(Error::InvalidParameter(
            "cannot tell where to install: set XDG_DATA_HOME or HOME to an absolute path".into(),
        )),
    }
}

/// Installs or removes the launcher entry and icon, saying on `out` what was done.
pub fn run(args: InstallDesktopArgs, out: &mut dyn Write, _err: &mut dyn Write) -> Result<()> {
    if cfg!(any(windows, target_os = "macos")) {
        return Err(Error::InvalidParameter(
            "install-desktop writes a freedesktop .desktop entry, for Linux and BSD desktops; \
             on this system start mlscope from a shortcut to the binary instead"
                .into(),
        ));
    }
    let data = data_home()?;
    let paths = Paths::under(&data);
    let io = |e| Error::io("cannot write output", "<stdout>", e);
    if args.uninstall {
        let mut removed = 0;
        for path in [&paths.desktop, &paths.icon] {
            match std::fs::remove_file(path) {
                Ok(()) => {
                    removed += 1;
                    writeln!(out, "removed {}", path.display()).map_err(io)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("cannot remove", path, e)),
            }
        }
        if removed == 0 {
            writeln!(out, "nothing to remove under {}", data.display()).map_err(io)?;
        }
        return Ok(());
    }
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| Error::io("cannot find the mlscope binary", "<current exe>", e))?;
    let entry = desktop_entry(&exe)?;
    write_file(&paths.icon, ICON_PNG)?;
    write_file(&paths.desktop, entry.as_bytes())?;
    writeln!(out, "installed {}", paths.desktop.display()).map_err(io)?;
    writeln!(out, "installed {}", paths.icon.display()).map_err(io)?;
    writeln!(out, "launcher runs {}", exe.display()).map_err(io)?;
    Ok(())
}

/// Writes `bytes` to `path` (creating its folder) through a temporary file renamed into place,
/// so a launcher never reads half an entry.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::InvalidParameter(format!("{} has no folder", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    let tmp = path.with_extension("tmp-mlscope");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io("cannot write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("cannot write", path, e))
}

/// The `.desktop` entry starting `exe` on the file or folder it is given (`%f`).
pub fn desktop_entry(exe: &Path) -> Result<String> {
    let exe = exe.to_str().ok_or_else(|| {
        Error::InvalidParameter(format!(
            "the mlscope binary's path is not UTF-8, which a .desktop file cannot name: {}",
            exe.display()
        ))
    })?;
    Ok(format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=mlscope\n\
         GenericName=MLflow run viewer\n\
         Comment=Browse MLflow tracking data: mlruns folders and mlflow.db files\n\
         Exec={} %f\n\
         Icon={APP_ID}\n\
         Terminal=false\n\
         Categories=Science;DataVisualization;\n\
         Keywords=mlflow;experiments;runs;metrics;\n\
         MimeType={MIME_TYPES}\n\
         StartupWMClass={APP_ID}\n",
        exec_arg(exe)
    ))
}

/// `path` as one argument of an `Exec` key: bare when it has no reserved character, else in
/// double quotes with `"`, `` ` ``, `$` and `\` escaped (the Desktop Entry specification), and
/// every backslash then doubled again (the value is itself an escaped string).
fn exec_arg(path: &str) -> String {
    let plain = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,@".contains(c));
    if plain {
        return path.to_string();
    }
    let mut quoted = String::from("\"");
    for c in path.chars() {
        match c {
            '"' | '`' | '$' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\\' => quoted.push_str("\\\\"),
            '%' => quoted.push_str("%%"),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    // The entry's string escaping: `\` is written `\\`.
    quoted.replace('\\', "\\\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_quotes_paths_with_reserved_characters() {
        assert_eq!(exec_arg("/usr/bin/mlscope"), "/usr/bin/mlscope");
        assert_eq!(
            exec_arg("/home/a b/$x/100%/mlscope"),
            "\"/home/a b/\\\\$x/100%%/mlscope\""
        );
        assert_eq!(exec_arg("/o\"k\\"), "\"/o\\\\\"k\\\\\\\\\"");
    }

    #[test]
    fn the_bundled_icon_is_a_square_png() {
        let icon = image::load_from_memory(ICON_PNG).map(|i| (i.width(), i.height()));
        assert_eq!(icon.ok(), Some((256, 256)));
    }
}
