//! The artifact half of [`TrackingClient`]: `log_artifact(s)`, `log_text`, `log_dict`,
//! `log_table`, `log_image`, `log_figure`, listing and downloading, written exactly where and
//! how MLflow's Python client writes them (`mlflow/tracking/client.py`).
//!
//! Every helper validates its input and prepares all bytes before it writes anything, so an
//! invalid path, image, table or figure leaves the run's artifacts untouched. Files are
//! replaced atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::artifacts::figure::{Figure, PlotFigure};
use crate::artifacts::images::{
    self, ImageInput, ImageStep, ImageStepFile, encode, format_for_file, thumbnail,
    validate_image_key,
};
use crate::artifacts::pyfmt::{json_dumps, json_dumps_indent2, yaml_dump};
use crate::artifacts::table::{
    LoggedTable, Table, TableCell, append_rows, image_cell_paths, validate_table_file,
};
use crate::artifacts::{
    ArtifactPath, ArtifactRepository, FileInfo, ResolvedArtifactRoot, RunLocator,
    open_run_artifacts,
};
use crate::error::{Error, Result};
use crate::model::{LifecycleStage, Run, now_ms, tags};
use crate::tracking::client::TrackingClient;

/// Largest table file `log_table` reads back to append to (512 MiB).
const MAX_TABLE_BYTES: u64 = 512 * 1024 * 1024;

/// A run's artifact repository, and how its root was found on this machine.
#[derive(Debug, Clone)]
pub struct RunArtifacts {
    /// The run.
    pub run_id: String,
    /// The root directory and how it was resolved (see [`ResolvedArtifactRoot::note`]).
    pub root: ResolvedArtifactRoot,
    repo: Arc<dyn ArtifactRepository>,
}

impl RunArtifacts {
    /// The repository.
    pub fn repository(&self) -> &Arc<dyn ArtifactRepository> {
        &self.repo
    }

    /// A note for the user when the artifacts were not where the run says (a copied store).
    pub fn note(&self) -> Option<String> {
        self.root.note()
    }
}

/// The two files `log_image_step` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageStepFiles {
    /// Artifact path of the full image (`images/…+<uuid>.png`).
    pub image: String,
    /// Artifact path of the 256 px thumbnail (`images/…+<uuid>+compressed.webp`).
    pub thumbnail: String,
}

/// Splits `dir/name.ext` into its validated path, rejecting the empty name.
fn artifact_file_path(artifact_file: &str) -> Result<ArtifactPath> {
    let path = ArtifactPath::parse(artifact_file)?;
    if path.is_root() {
        return Err(Error::InvalidParameter(format!(
            "Invalid artifact file '{artifact_file}': a file name is required"
        )));
    }
    Ok(path)
}

fn require_active(run: &Run) -> Result<()> {
    if run.info.lifecycle_stage == LifecycleStage::Deleted {
        return Err(Error::InvalidState(format!(
            "The run {} must be in the 'active' state. Current state is deleted.",
            run.info.run_id
        )));
    }
    Ok(())
}

impl TrackingClient {
    fn artifacts_of(&self, run: &Run) -> Result<RunArtifacts> {
        let tracking_uri = self.tracking_uri();
        let (root, repo) = open_run_artifacts(
            &run.info.artifact_uri,
            RunLocator {
                tracking_uri: &tracking_uri,
                experiment_id: &run.info.experiment_id,
                run_id: &run.info.run_id,
            },
        )?;
        Ok(RunArtifacts {
            run_id: run.info.run_id.clone(),
            root,
            repo,
        })
    }

    /// The artifact repository of a run. When the run's recorded `artifact_uri` does not
    /// exist on this machine (a store copied from elsewhere), the artifacts are looked for
    /// relative to the store; [`RunArtifacts::note`] says so.
    pub fn run_artifacts(&self, run_id: &str) -> Result<RunArtifacts> {
        let run = self.get_run(run_id)?;
        self.artifacts_of(&run)
    }

    /// The artifact URI of a run, or of `artifact_path` under it (as recorded, like MLflow's
    /// `get_artifact_uri`).
    pub fn get_artifact_uri(&self, run_id: &str, artifact_path: Option<&str>) -> Result<String> {
        let run = self.get_run(run_id)?;
        let base = run.info.artifact_uri.trim_end_matches('/');
        match artifact_path {
            None => Ok(base.to_string()),
            Some(p) => {
                let p = ArtifactPath::parse(p)?;
                if p.is_root() {
                    Ok(base.to_string())
                } else {
                    Ok(format!("{base}/{p}"))
                }
            }
        }
    }

    /// Logs a local file (or, like MLflow, a directory: it becomes `<artifact_path>/<dir name>`)
    /// into directory `artifact_path` of the run (root when `None`). Large files are streamed.
    pub fn log_artifact(
        &self,
        run_id: &str,
        local_path: impl AsRef<Path>,
        artifact_path: Option<&str>,
    ) -> Result<()> {
        let local_path = local_path.as_ref();
        let meta = std::fs::metadata(local_path)
            .map_err(|e| Error::io("cannot read file to log", local_path, e))?;
        let arts = self.run_artifacts(run_id)?;
        if meta.is_dir() {
            let name = std::fs::canonicalize(local_path)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .ok_or_else(|| {
                    Error::InvalidParameter(format!(
                        "cannot log {}: the directory has no name",
                        local_path.display()
                    ))
                })?;
            let dest = ArtifactPath::parse_opt(artifact_path)?.join(&name)?;
            arts.repo.log_dir(local_path, Some(&dest.to_string()))
        } else {
            arts.repo.log_file(local_path, artifact_path)
        }
    }

    /// Logs the contents of a local directory into directory `artifact_path` of the run.
    pub fn log_artifacts(
        &self,
        run_id: &str,
        local_dir: impl AsRef<Path>,
        artifact_path: Option<&str>,
    ) -> Result<()> {
        self.run_artifacts(run_id)?
            .repo
            .log_dir(local_dir.as_ref(), artifact_path)
    }

    /// Writes bytes as the artifact `artifact_file` (MLflow's `log_stream` for in-memory data).
    pub fn log_bytes(&self, run_id: &str, bytes: &[u8], artifact_file: &str) -> Result<()> {
        let path = artifact_file_path(artifact_file)?;
        self.run_artifacts(run_id)?
            .repo
            .write_bytes(&path.to_string(), bytes)
    }

    /// Logs text as `artifact_file` (UTF-8, exactly as given).
    pub fn log_text(&self, run_id: &str, text: &str, artifact_file: &str) -> Result<()> {
        self.log_bytes(run_id, text.as_bytes(), artifact_file)
    }

    /// Logs a serialisable value (usually a map) as `artifact_file`: YAML for `.yml`/`.yaml`
    /// (PyYAML's `yaml.dump(…, indent=2, default_flow_style=False)`, keys sorted), JSON
    /// otherwise (`json.dump(…, indent=2)`, fields in order). Byte-compatible with MLflow.
    pub fn log_dict<T: Serialize + ?Sized>(
        &self,
        run_id: &str,
        dictionary: &T,
        artifact_file: &str,
    ) -> Result<()> {
        let path = artifact_file_path(artifact_file)?;
        let ext = path
            .file_name()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e)
            .unwrap_or("");
        let text = if ext == "yml" || ext == "yaml" {
            yaml_dump(dictionary)?
        } else {
            json_dumps_indent2(dictionary)?
        };
        self.log_bytes(run_id, text.as_bytes(), artifact_file)
    }

    /// Logs a table as MLflow's JSON "split" table (`artifact_file` must end in `.json`). When
    /// the file exists, the rows are appended (the columns must be the same, else a
    /// schema-mismatch error and nothing changes). Image cells are saved under
    /// `table_images/`. Adds the table to the run's `mlflow.loggedArtifacts` tag.
    pub fn log_table(&self, run_id: &str, table: &Table, artifact_file: &str) -> Result<()> {
        let path = validate_table_file(artifact_file)?;
        let image_columns = table.validate()?;
        let run = self.get_run(run_id)?;
        require_active(&run)?;
        let mut logged: Vec<Value> = match run.data.tags.get(tags::LOGGED_ARTIFACTS) {
            None => Vec::new(),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Array(items)) => items,
                _ => {
                    return Err(Error::InvalidState(format!(
                        "the run's {} tag is not a JSON list: {text}",
                        tags::LOGGED_ARTIFACTS
                    )));
                }
            },
        };
        let arts = self.artifacts_of(&run)?;
        let repo = &arts.repo;
        let file = path.to_string();
        let existing = if repo.exists(&file)? {
            let bytes = repo.read_all(&file, MAX_TABLE_BYTES)?;
            Some(LoggedTable::parse(&bytes).map_err(|e| {
                Error::InvalidState(format!(
                    "cannot append to table '{artifact_file}': the existing file cannot be read \
                     ({e})"
                ))
            })?)
        } else {
            None
        };

        // Everything is prepared in memory first.
        let mut image_files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut rows: Vec<Vec<Value>> = Vec::with_capacity(table.len());
        for row in table.rows() {
            let mut out = Vec::with_capacity(row.len());
            for cell in row {
                match cell {
                    TableCell::Value(v) => out.push(v.clone()),
                    TableCell::Image(img) => {
                        let cell = image_cell_paths(artifact_file);
                        image_files
                            .push((cell.filepath.clone(), encode(img, image::ImageFormat::Png)?));
                        image_files.push((
                            cell.compressed_filepath.clone(),
                            encode(&thumbnail(img), image::ImageFormat::WebP)?,
                        ));
                        out.push(cell.to_value());
                    }
                }
            }
            rows.push(out);
        }
        let result = match &existing {
            Some(old) => append_rows(old, table.columns(), &image_columns, rows, artifact_file)?,
            None => LoggedTable {
                columns: table.columns().to_vec(),
                data: rows,
            },
        };
        let json = result.to_json();

        for (p, bytes) in &image_files {
            repo.write_bytes(p, bytes)?;
        }
        repo.write_bytes(&file, json.as_bytes())?;

        let entry = serde_json::json!({"path": artifact_file, "type": "table"});
        if !logged.contains(&entry) {
            logged.push(entry);
            self.set_tag(run_id, tags::LOGGED_ARTIFACTS, json_dumps(&logged)?)?;
        }
        Ok(())
    }

    /// Reads a table logged with `log_table` (by MLflow or mlscope).
    pub fn load_table(&self, run_id: &str, artifact_file: &str) -> Result<LoggedTable> {
        let path = artifact_file_path(artifact_file)?;
        let bytes = self
            .run_artifacts(run_id)?
            .repo
            .read_all(&path.to_string(), MAX_TABLE_BYTES)?;
        LoggedTable::parse(&bytes)
    }

    /// Logs an image as `artifact_file`, in the format its extension names (`.png`, `.jpg`,
    /// `.webp`, `.gif`, `.bmp`), like `log_image(image, artifact_file=…)`.
    pub fn log_image<'a>(
        &self,
        run_id: &str,
        image: impl Into<ImageInput<'a>>,
        artifact_file: &str,
    ) -> Result<()> {
        let path = artifact_file_path(artifact_file)?;
        let format = format_for_file(artifact_file)?;
        let input = image.into();
        let bytes = encode(input.to_image()?.as_ref(), format)?;
        self.run_artifacts(run_id)?
            .repo
            .write_bytes(&path.to_string(), &bytes)
    }

    /// Logs one image of the series `key` at `step` (0 when `None`) and `timestamp` (now when
    /// `None`), like `log_image(image, key=…, step=…)`: the PNG
    /// `images/<key, / as ~>+step+<step>+timestamp+<ms>+<uuid>.png`, its 256 px thumbnail
    /// `…+compressed.webp` (MLflow 3.11+ naming), and the run tag `mlflow.loggedImages=True`.
    pub fn log_image_step<'a>(
        &self,
        run_id: &str,
        key: &str,
        image: impl Into<ImageInput<'a>>,
        step: Option<i64>,
        timestamp: Option<i64>,
    ) -> Result<ImageStepFiles> {
        validate_image_key(key)?;
        let input = image.into();
        let img = input.to_image()?;
        let png = encode(&img, image::ImageFormat::Png)?;
        let webp = encode(&thumbnail(&img), image::ImageFormat::WebP)?;
        let run = self.get_run(run_id)?;
        require_active(&run)?;
        let repo = self.artifacts_of(&run)?.repo;
        let (full, thumb) =
            ImageStepFile::new_pair(key, step.unwrap_or(0), timestamp.unwrap_or_else(now_ms));
        let files = ImageStepFiles {
            image: full.artifact_path(),
            thumbnail: thumb.artifact_path(),
        };
        repo.write_bytes(&files.image, &png)?;
        repo.write_bytes(&files.thumbnail, &webp)?;
        self.set_tag(run_id, tags::LOGGED_IMAGES, "True")?;
        Ok(files)
    }

    /// Logs a finished figure (PNG or SVG bytes, or an image) as `artifact_file`; raster
    /// figures are converted to the extension's format, SVG only goes to `.svg`.
    pub fn log_figure(&self, run_id: &str, figure: &Figure, artifact_file: &str) -> Result<()> {
        let path = artifact_file_path(artifact_file)?;
        let bytes = figure.encode_for(artifact_file)?;
        self.run_artifacts(run_id)?
            .repo
            .write_bytes(&path.to_string(), &bytes)
    }

    /// Renders a plotters figure and logs it as `artifact_file`: SVG for `.svg`, otherwise a
    /// bitmap in the extension's format (like matplotlib's `savefig` inside `log_figure`).
    pub fn log_plot(
        &self,
        run_id: &str,
        plot: &impl PlotFigure,
        artifact_file: &str,
    ) -> Result<()> {
        artifact_file_path(artifact_file)?;
        let figure = Figure::render(plot, artifact_file)?;
        self.log_figure(run_id, &figure, artifact_file)
    }

    /// The direct children of directory `path` (root when `None`), sorted, with sizes: MLflow's
    /// `list_artifacts`.
    pub fn list_artifacts(&self, run_id: &str, path: Option<&str>) -> Result<Vec<FileInfo>> {
        self.run_artifacts(run_id)?.repo.list(path.unwrap_or(""))
    }

    /// Every file and directory under `path` (root when `None`), sorted by path, with sizes.
    pub fn list_artifacts_recursive(
        &self,
        run_id: &str,
        path: Option<&str>,
    ) -> Result<Vec<FileInfo>> {
        self.run_artifacts(run_id)?
            .repo
            .list_recursive(path.unwrap_or(""))
    }

    /// Downloads a file or directory (`""`: everything) to `dst_dir/<path>` and returns that
    /// path; without `dst_dir`, returns the artifact's own local path (local stores only).
    pub fn download_artifacts(
        &self,
        run_id: &str,
        path: &str,
        dst_dir: Option<&Path>,
    ) -> Result<PathBuf> {
        let repo = self.run_artifacts(run_id)?.repo;
        match dst_dir {
            Some(dst) => repo.download(path, dst),
            None => repo.local_path(path)?.ok_or_else(|| {
                Error::InvalidParameter(
                    "this artifact store is not local: pass a destination directory".into(),
                )
            }),
        }
    }

    /// The run's image series (logged with a key and step), by key, each sorted by step: what
    /// MLflow's UI shows in its image grid. Reads both the 3.11+ and the older file names.
    pub fn image_series(&self, run_id: &str) -> Result<BTreeMap<String, Vec<ImageStep>>> {
        let files = self.list_artifacts(run_id, Some(images::IMAGES_DIR))?;
        Ok(images::image_series(&files))
    }
}
