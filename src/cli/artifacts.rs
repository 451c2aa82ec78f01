//! `mlscope artifacts URI RUN_ID [PATH]`: list a run's artifacts with sizes, or download them
//! with `--out DIR`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use super::output::{Format, Grid, write_json};
use super::progress::Progress;
use super::{Common, open};
use crate::artifacts::{ArtifactPath, ArtifactRepository};
use crate::error::{Error, Result};

/// `mlscope artifacts`.
#[derive(Debug, Args)]
pub struct ArtifactsArgs {
    #[command(flatten)]
    common: Common,
    /// The run id.
    run_id: String,
    /// Artifact path to list or download (default: the run's artifact root).
    path: Option<String>,
    /// Download PATH (or everything) into this directory (created if missing) instead of
    /// listing.
    #[arg(long)]
    out: Option<PathBuf>,
    /// List only the direct children of PATH instead of everything below it.
    #[arg(long)]
    shallow: bool,
}

/// Lists or downloads a run's artifacts. A note goes to `err` when the artifacts were found
/// relative to the store rather than at the run's recorded location.
pub fn run(args: ArtifactsArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let client = open(&args.common, err)?;
    let arts = client.run_artifacts(&args.run_id)?;
    if let Some(note) = arts.note() {
        let _ = writeln!(err, "note: {note}");
    }
    let repo = arts.repository();
    let path = args.path.as_deref().unwrap_or("");
    let io = |e| Error::io("cannot write output", "<stdout>", e);

    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("cannot create download directory", dir, e))?;
        if !path.is_empty() && !repo.exists(path)? {
            return Err(Error::NotFound(format!(
                "No such artifact: '{path}' in run {}",
                args.run_id
            )));
        }
        let local = download(repo.as_ref(), path, dir)?;
        return writeln!(out, "{}", local.display()).map_err(io);
    }

    if !path.is_empty() {
        let info = repo.stat(path)?;
        if !info.is_dir {
            return print(&args.common.format, &repo.artifact_uri(), &[info], out);
        }
    }
    let files = if args.shallow {
        repo.list(path)?
    } else {
        repo.list_recursive(path)?
    };
    print(&args.common.format, &repo.artifact_uri(), &files, out)
}

fn print(
    format: &Format,
    root_uri: &str,
    files: &[crate::artifacts::FileInfo],
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        Format::Json => write_json(
            out,
            &json!({
                "root_uri": root_uri,
                "files": files.iter().map(|f| {
                    let mut o = json!({"path": f.path, "is_dir": f.is_dir});
                    if let Some(size) = f.file_size {
                        o["file_size"] = json!(size);
                    }
                    o
                }).collect::<Vec<_>>(),
            }),
        ),
        format => {
            let grid = Grid {
                header: ["path", "type", "size"].map(String::from).to_vec(),
                rows: files
                    .iter()
                    .map(|f| {
                        vec![
                            if *format == Format::Table {
                                shorten_middle(&f.path)
                            } else {
                                f.path.clone()
                            },
                            if f.is_dir { "dir" } else { "file" }.to_string(),
                            f.file_size.map(|s| s.to_string()).unwrap_or_default(),
                        ]
                    })
                    .collect(),
            };
            if *format == Format::Csv {
                grid.write_csv(out)
            } else {
                grid.write_table(out)
            }
        }
    }
}

/// Downloads `path` (a file, a folder, or `""`: everything) into `dir` as
/// [`ArtifactRepository::download`] does, one file at a time through it so that a progress bar
/// (on a terminal) counts the files and bytes done.
fn download(repo: &dyn ArtifactRepository, path: &str, dir: &Path) -> Result<PathBuf> {
    let target = ArtifactPath::parse(path)?.to_local(dir);
    let entries = if path.is_empty() {
        repo.list_recursive(path)?
    } else {
        let info = repo.stat(path)?;
        if info.is_dir {
            repo.list_recursive(path)?
        } else {
            vec![info]
        }
    };
    let files = entries.iter().filter(|e| !e.is_dir).count();
    if files <= 1 && entries.iter().all(|e| !e.is_dir) {
        // One file (or none): the repository's own call, a spinner while it runs.
        let _progress = (files == 1).then(|| Progress::bytes(&format!("downloading {path}"), 0));
        return repo.download(path, dir);
    }
    let total: u64 = entries.iter().filter_map(|e| e.file_size).sum();
    let progress = Progress::bytes(&format!("downloading {files} files"), total);
    std::fs::create_dir_all(&target)
        .map_err(|e| Error::io("cannot create download directory", &target, e))?;
    for entry in &entries {
        if entry.is_dir {
            let local = ArtifactPath::parse(&entry.path)?.to_local(dir);
            std::fs::create_dir_all(&local)
                .map_err(|e| Error::io("cannot create download directory", local, e))?;
        } else {
            progress.set_message(format!("downloading {}", entry.path));
            repo.download(&entry.path, dir)?;
            progress.inc(entry.file_size.unwrap_or(0));
        }
    }
    Ok(target)
}

/// Long paths lose their middle, not their end (image-step names differ only at the end).
fn shorten_middle(path: &str) -> String {
    const MAX: usize = 48;
    let chars: Vec<char> = path.chars().collect();
    if chars.len() <= MAX {
        return path.to_string();
    }
    let head: String = chars[..20].iter().collect();
    let tail: String = chars[chars.len() - (MAX - 21)..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::FileInfo;

    fn files() -> Vec<FileInfo> {
        vec![
            FileInfo {
                path: "plots".into(),
                is_dir: true,
                file_size: None,
            },
            FileInfo {
                path: "plots/loss.png".into(),
                is_dir: false,
                file_size: Some(1234),
            },
        ]
    }

    #[test]
    fn prints_table_csv_and_json() {
        let mut out = Vec::new();
        print(&Format::Table, "file:///a", &files(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("path            type  size\n"), "{text}");
        assert!(text.contains("plots/loss.png  file  1234"), "{text}");
        let mut out = Vec::new();
        print(&Format::Csv, "file:///a", &files(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "path,type,size\nplots,dir,\nplots/loss.png,file,1234\n"
        );
        let mut out = Vec::new();
        print(&Format::Json, "file:///a", &files(), &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["root_uri"], "file:///a");
        assert_eq!(v["files"][0], json!({"path": "plots", "is_dir": true}));
        assert_eq!(v["files"][1]["file_size"], 1234);
    }

    #[test]
    fn long_paths_keep_their_end() {
        let p = "images/price_surface+step+1+timestamp+1796049280000+0f0e0d0c-0000-4000-8000-000000000000+compressed.webp";
        let s = shorten_middle(p);
        assert_eq!(s.chars().count(), 48);
        assert!(
            s.starts_with("images/price_surface") && s.ends_with("+compressed.webp"),
            "{s}"
        );
        assert_eq!(shorten_middle("a/b.txt"), "a/b.txt");
    }
}
