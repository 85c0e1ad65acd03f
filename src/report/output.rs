//! The one owner of the files the lab writes. Exporters return bytes; this module puts them on
//! disk, so that a reader only ever sees complete results.
//!
//! **A report directory is one result, never a mix.** [`OutputDir::stage`] checks the
//! destination (`--out`) and creates a fresh private directory beside it (`.failover-lab-XXXXXX`,
//! an unpredictable name made by `mkdir`, on the same file system so a rename works); every file
//! of the report is created there, exclusively (`create_new`), so a planted file or symlink can
//! never take a write. [`OutputDir::publish`] then swaps it in: the previous report is renamed
//! aside, the new one renamed into its place, and only then is the previous one removed. A
//! reader therefore finds the previous complete report, the new complete report, or (for the
//! instant between the two renames) none; never files of two runs side by side, and no file of
//! an earlier run survives a later one. A run that fails or is stopped before it publishes drops
//! its private directory and leaves the previous report as it was.
//!
//! The destination is replaced whole, so [`OutputDir::stage`] refuses one that is not a
//! directory, is a symlink, is a mount point, or holds anything a report does not consist of
//! (someone's own files): choose a new or empty directory for those.
//!
//! **A single file** (the gate's JUnit and Markdown, a baseline) is written through
//! [`AtomicFile`]: an exclusively created temporary with an unpredictable name in the target's
//! directory, renamed over the target.
//!
//! Who may interrupt a write (signals) is the caller's business: the CLI registers
//! [`OutputDir::staging`] and [`AtomicFile::temp_path`] with its signal handler.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use tempfile::{Builder, NamedTempFile, TempDir};

use super::chart::{CHARTS, FOREST, Format, LOAD_CHARTS, SPREAD};

/// The prefix of every private directory and temporary file the lab creates beside an output.
pub const PRIVATE_PREFIX: &str = ".failover-lab-";

/// The data files a report may hold besides its charts (a run's, a load test's and a sweep's).
const DATA_FILES: [&str; 13] = [
    "sweep.json",
    "sweep.csv",
    "index.html",
    "summary.json",
    "summary.csv",
    "timeseries.csv",
    "routes.csv",
    "route_states.csv",
    "faults.csv",
    "comparison.csv",
    "replications.csv",
    "load.csv",
    "audit.jsonl",
];

/// Whether a report may hold a file called `name`: one of its files, or a temporary
/// (`.<name>.<pid>.tmp`) that versions before the private directory could leave behind.
pub fn is_report_file(name: &str) -> bool {
    DATA_FILES.contains(&name)
        || CHARTS
            .iter()
            .chain([&FOREST, &SPREAD])
            .chain(&LOAD_CHARTS)
            .any(|c| {
                [Format::Svg, Format::Png]
                    .iter()
                    .any(|&f| c.file_name(f) == name)
            })
        || is_sweep_chart(name)
        || is_fit_chart(name)
        || (name.starts_with('.') && name.ends_with(".tmp"))
}

/// A sweep report's chart: `pareto`, or a per-metric chart (`heatmap_<metric>`,
/// `line_<metric>`, `scatter_<metric>`), as SVG or PNG. Metric keys are lower-case letters,
/// digits, `_` and `.` (a fault's metrics are `<fault>.<metric>`, the fault's name reduced to
/// those characters).
fn is_sweep_chart(name: &str) -> bool {
    let Some(stem) = name
        .strip_suffix(".svg")
        .or_else(|| name.strip_suffix(".png"))
    else {
        return false;
    };
    stem == "pareto"
        || ["heatmap_", "line_", "scatter_"].iter().any(|p| {
            stem.strip_prefix(p).is_some_and(|key| {
                !key.is_empty()
                    && !key.starts_with('.')
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            })
        })
}

/// A fit report's chart: `fit_latency_<k>`, `fit_qq_<k>` or `fit_failures_<k>`, `<k>` a
/// route's index (ASCII digits), as SVG or PNG.
fn is_fit_chart(name: &str) -> bool {
    let Some(stem) = name
        .strip_suffix(".svg")
        .or_else(|| name.strip_suffix(".png"))
    else {
        return false;
    };
    ["fit_latency_", "fit_qq_", "fit_failures_"]
        .iter()
        .any(|p| {
            stem.strip_prefix(p)
                .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// An I/O failure, with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct OutputError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError {
        path: path.to_owned(),
        source,
    }
}

fn refuse(path: &Path, kind: io::ErrorKind, why: String) -> OutputError {
    OutputError {
        path: path.to_owned(),
        source: io::Error::new(kind, why),
    }
}

/// The directory `path` is in and its own name; `.`, `..` and `/` name no directory the lab
/// could replace.
fn split(path: &Path) -> Result<(PathBuf, &std::ffi::OsStr), OutputError> {
    match path.components().next_back() {
        Some(Component::Normal(name)) => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
                _ => PathBuf::from("."),
            };
            Ok((parent, name))
        }
        _ => Err(refuse(
            path,
            io::ErrorKind::InvalidInput,
            "not a name the lab can write to: name a file or directory".into(),
        )),
    }
}

/// Creates `dir` (and its parents) unless it exists, with a plain message when something in the
/// way is not a directory.
fn ensure_dir(dir: &Path) -> Result<(), OutputError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(refuse(
            dir,
            io::ErrorKind::NotADirectory,
            "not a directory".into(),
        )),
        Err(_) => fs::create_dir_all(dir).map_err(at(dir)),
    }
}

/// Checks that the report directory `dest` (in `parent`) may be replaced: absent, or a real
/// directory (not a symlink, not a mount point) holding nothing but report files.
fn check_destination(dest: &Path, parent: &Path) -> Result<(), OutputError> {
    let meta = match fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        // A path under a regular file: creating its parent says so more plainly.
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Ok(()),
        Err(e) => return Err(at(dest)(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse(
            dest,
            io::ErrorKind::InvalidInput,
            "is a symbolic link; the report replaces the directory whole, so name the real \
             directory instead"
                .into(),
        ));
    }
    if !meta.is_dir() {
        return Err(refuse(
            dest,
            io::ErrorKind::NotADirectory,
            "exists and is not a directory".into(),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(p) = fs::metadata(parent)
            && p.dev() != meta.dev()
        {
            return Err(refuse(
                dest,
                io::ErrorKind::InvalidInput,
                "is a mount point; the report replaces the directory whole, so name a \
                 directory inside it"
                    .into(),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = parent;
    for entry in fs::read_dir(dest).map_err(at(dest))? {
        let entry = entry.map_err(at(dest))?;
        let name = entry.file_name();
        let is_dir = entry.file_type().map_err(at(dest))?.is_dir();
        if is_dir || !name.to_str().is_some_and(is_report_file) {
            return Err(refuse(
                dest,
                io::ErrorKind::AlreadyExists,
                format!(
                    "is not a failover-lab report (it holds {name:?}); a run replaces the \
                     directory whole, so name a new or empty one"
                ),
            ));
        }
    }
    Ok(())
}

/// Flushes a directory's entries to disk (best effort: not every platform opens directories).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A report being written: a private directory beside its destination, swapped in whole by
/// [`publish`](Self::publish). Dropped unpublished, it is removed and the destination is left
/// as it was.
#[derive(Debug)]
pub struct OutputDir {
    dest: PathBuf,
    parent: PathBuf,
    staging: TempDir,
}

impl OutputDir {
    /// Checks that `dest` may be replaced, creates its parent directories if needed and the
    /// private directory beside it: every reason the report could not be written that can be
    /// known before it is made is an error here.
    pub fn stage(dest: &Path) -> Result<Self, OutputError> {
        let (parent, _) = split(dest)?;
        check_destination(dest, &parent)?;
        ensure_dir(&parent)?;
        let staging = Builder::new()
            .prefix(PRIVATE_PREFIX)
            .tempdir_in(&parent)
            .map_err(|e| {
                refuse(
                    &parent,
                    e.kind(),
                    format!(
                        "cannot create a directory in it: {}",
                        io::Error::from(e.kind())
                    ),
                )
            })?;
        Ok(OutputDir {
            dest: dest.to_owned(),
            parent,
            staging,
        })
    }

    /// Where the report will be once published.
    pub fn path(&self) -> &Path {
        &self.dest
    }

    /// The private directory the report is written into.
    pub fn staging(&self) -> &Path {
        self.staging.path()
    }

    /// Creates `name` in the private directory, exclusively: an existing file or symlink of
    /// that name is an error, never written through.
    pub fn create(&self, name: &str) -> Result<File, OutputError> {
        let path = self.staging.path().join(name);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(at(&path))
    }

    /// Writes `bytes` to a new file `name`.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let mut f = self.create(name)?;
        let path = self.staging.path().join(name);
        f.write_all(bytes).map_err(at(&path))
    }

    /// Opens `name`, written earlier, for reading.
    pub fn open(&self, name: &str) -> Result<File, OutputError> {
        let path = self.staging.path().join(name);
        File::open(&path).map_err(at(&path))
    }

    /// Removes `name` (a part that was only a step towards another file).
    pub fn remove(&self, name: &str) -> Result<(), OutputError> {
        let path = self.staging.path().join(name);
        fs::remove_file(&path).map_err(at(&path))
    }

    /// Whether `name` has been written.
    pub fn contains(&self, name: &str) -> bool {
        self.staging.path().join(name).is_file()
    }

    /// Flushes every file written so far to disk. [`publish`](Self::publish) does it too;
    /// calling it first keeps the slow part (a large audit trail) out of the swap.
    pub fn sync(&self) -> Result<(), OutputError> {
        let dir = self.staging.path();
        for entry in fs::read_dir(dir).map_err(at(dir))? {
            let path = entry.map_err(at(dir))?.path();
            debug_assert!(
                path.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_report_file),
                "{}: add it to is_report_file, or the next run refuses to replace this report",
                path.display()
            );
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(at(&path))?;
        }
        sync_dir(dir);
        Ok(())
    }

    /// Makes the report the destination's content: flushes every file to disk, moves the
    /// previous report (if any) aside, renames this one into place, then removes the previous
    /// one. On failure the previous report is put back and this one removed.
    pub fn publish(self) -> Result<PathBuf, OutputError> {
        self.sync()?;
        let OutputDir {
            dest,
            parent,
            staging,
        } = self;
        // The destination may have changed while the report was made.
        check_destination(&dest, &parent)?;
        let aside = match fs::symlink_metadata(&dest) {
            Ok(_) => {
                // An empty directory with a fresh name, which the rename replaces.
                let aside = Builder::new()
                    .prefix(PRIVATE_PREFIX)
                    .tempdir_in(&parent)
                    .map_err(at(&parent))?;
                fs::rename(&dest, aside.path()).map_err(at(&dest))?;
                Some(aside)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(at(&dest)(e)),
        };
        if let Err(e) = fs::rename(staging.path(), &dest) {
            if let Some(aside) = aside {
                let kept = aside.keep();
                if let Err(back) = fs::rename(&kept, &dest) {
                    return Err(refuse(
                        &dest,
                        e.kind(),
                        format!(
                            "{e}; the previous report is kept in {} (it could not be put \
                             back: {back})",
                            kept.display()
                        ),
                    ));
                }
            }
            return Err(at(&dest)(e));
        }
        // The private directory is the report now: nothing to clean up.
        let _ = staging.keep();
        sync_dir(&parent);
        if let Some(aside) = aside {
            // The new report is in place whatever happens here; a previous report that cannot
            // be removed stays as a hidden directory beside it.
            let _ = aside.close();
        }
        Ok(dest)
    }
}

/// A single file being written: an exclusively created temporary with an unpredictable name in
/// the target's directory, renamed over the target by [`commit`](Self::commit). Dropped
/// uncommitted, it is removed and the target is left as it was.
#[derive(Debug)]
pub struct AtomicFile {
    temp: NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    /// Creates the target's directory if needed and the temporary in it. An existing directory
    /// at the target is an error here, not after the work.
    pub fn create(dest: &Path) -> Result<Self, OutputError> {
        let (dir, _) = split(dest)?;
        if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
            return Err(refuse(
                dest,
                io::ErrorKind::IsADirectory,
                "is a directory".into(),
            ));
        }
        ensure_dir(&dir)?;
        let mut builder = Builder::new();
        builder.prefix(PRIVATE_PREFIX).suffix(".tmp");
        // The mode `File::create` gives (umask applies), not tempfile's owner-only default.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let temp = builder.tempfile_in(&dir).map_err(|e| {
            refuse(
                &dir,
                e.kind(),
                format!("cannot create a file in it: {}", io::Error::from(e.kind())),
            )
        })?;
        Ok(AtomicFile {
            temp,
            dest: dest.to_owned(),
        })
    }

    /// The temporary's path (to remove it if the process is stopped).
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), OutputError> {
        let path = self.temp.path().to_owned();
        self.temp.write_all(bytes).map_err(at(&path))
    }

    /// Flushes the temporary to disk and renames it over the target.
    pub fn commit(self) -> Result<PathBuf, OutputError> {
        let path = self.temp.path().to_owned();
        self.temp.as_file().sync_all().map_err(at(&path))?;
        self.temp
            .persist(&self.dest)
            .map_err(|e| at(&self.dest)(e.error))?;
        if let Ok((dir, _)) = split(&self.dest) {
            sync_dir(&dir);
        }
        Ok(self.dest)
    }

    /// Writes `bytes` to `dest` through a temporary.
    pub fn write(dest: &Path, bytes: &[u8]) -> Result<PathBuf, OutputError> {
        let mut f = AtomicFile::create(dest)?;
        f.write_all(bytes)?;
        f.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("failover-lab-output-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_published_report_replaces_the_previous_one_whole() {
        let dir = temp_dir("publish");
        let dest = dir.join("nested/report");
        let out = OutputDir::stage(&dest).unwrap();
        out.write("summary.json", b"first").unwrap();
        out.write("audit.jsonl", b"events").unwrap();
        // Nothing is visible before it is published.
        assert!(!dest.exists());
        assert_eq!(out.publish().unwrap(), dest);
        assert_eq!(names(&dest), ["audit.jsonl", "summary.json"]);

        let out = OutputDir::stage(&dest).unwrap();
        out.write("summary.json", b"second").unwrap();
        assert!(out.contains("summary.json") && !out.contains("audit.jsonl"));
        // The previous report is untouched until the new one is published.
        assert_eq!(fs::read(dest.join("summary.json")).unwrap(), b"first");
        out.publish().unwrap();
        assert_eq!(names(&dest), ["summary.json"]);
        assert_eq!(fs::read(dest.join("summary.json")).unwrap(), b"second");
        assert_eq!(names(&dir.join("nested")), ["report"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unpublished_report_leaves_the_previous_one_and_nothing_else() {
        let dir = temp_dir("unpublished");
        let dest = dir.join("report");
        let out = OutputDir::stage(&dest).unwrap();
        out.write("index.html", b"old").unwrap();
        out.publish().unwrap();
        let out = OutputDir::stage(&dest).unwrap();
        out.write("index.html", b"new").unwrap();
        drop(out);
        assert_eq!(names(&dir), ["report"]);
        assert_eq!(fs::read(dest.join("index.html")).unwrap(), b"old");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_are_created_exclusively() {
        let dir = temp_dir("exclusive");
        let victim = dir.join("victim");
        fs::write(&victim, b"precious").unwrap();
        let out = OutputDir::stage(&dir.join("report")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&victim, out.staging().join("summary.csv")).unwrap();
        #[cfg(not(unix))]
        fs::write(out.staging().join("summary.csv"), b"").unwrap();
        let err = out.write("summary.csv", b"new").unwrap_err();
        assert_eq!(err.source.kind(), io::ErrorKind::AlreadyExists, "{err}");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        drop(out);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_destination_that_cannot_be_replaced_is_refused_up_front() {
        let dir = temp_dir("refuse");
        let file = dir.join("file");
        fs::write(&file, b"mine").unwrap();
        let err = OutputDir::stage(&file).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        let err = OutputDir::stage(&file.join("report")).unwrap_err();
        assert_eq!(err.path, file);
        assert!(err.to_string().contains("not a directory"), "{err}");
        let mine = dir.join("mine");
        fs::create_dir(&mine).unwrap();
        fs::write(mine.join("notes.txt"), b"mine").unwrap();
        let err = OutputDir::stage(&mine).unwrap_err();
        assert!(err.to_string().contains("\"notes.txt\""), "{err}");
        fs::create_dir(dir.join("sub")).unwrap();
        fs::create_dir(dir.join("sub/charts")).unwrap();
        assert!(OutputDir::stage(&dir.join("sub")).is_err());
        #[cfg(unix)]
        {
            let link = dir.join("link");
            std::os::unix::fs::symlink(&mine, &link).unwrap();
            let err = OutputDir::stage(&link).unwrap_err();
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        assert!(OutputDir::stage(Path::new("..")).is_err());
        assert!(OutputDir::stage(Path::new("/")).is_err());
        // A report of an older version, with a leftover temporary, may be replaced.
        let old = dir.join("old");
        fs::create_dir(&old).unwrap();
        for f in [
            "index.html",
            "summary.json",
            "forest.png",
            ".audit.0.jsonl.77.tmp",
        ] {
            fs::write(old.join(f), b"").unwrap();
        }
        OutputDir::stage(&old).unwrap().publish().unwrap();
        assert!(names(&old).is_empty());
        // Nothing left beside them.
        assert!(
            names(&dir).iter().all(|n| !n.starts_with('.')),
            "{:?}",
            names(&dir)
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fit_report_may_be_replaced() {
        for name in [
            "index.html",
            "fit_latency_0.svg",
            "fit_latency_0.png",
            "fit_qq_12.svg",
            "fit_failures_39.png",
        ] {
            assert!(is_report_file(name), "{name}");
        }
        for name in [
            "fit_latency_.svg",
            "fit_latency_a.svg",
            "fit_qq_1.txt",
            "fit_qq_1",
            "fit_other_1.svg",
            "fit_failures_-1.png",
            "fit_failures_1.svg.png.toml",
            "fitted.toml",
        ] {
            assert!(!is_report_file(name), "{name}");
        }
        // A directory holding a fit report may be replaced by another.
        let dir = temp_dir("fit");
        let old = dir.join("report");
        fs::create_dir_all(&old).unwrap();
        for f in ["index.html", "fit_latency_0.svg", "fit_qq_0.png"] {
            fs::write(old.join(f), b"").unwrap();
        }
        OutputDir::stage(&old).unwrap().publish().unwrap();
        assert!(names(&old).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_load_test_report_may_be_replaced() {
        for name in [
            "load.csv",
            "load_rate.svg",
            "load_rate.png",
            "load_in_flight.svg",
            "load_overhead.png",
        ] {
            assert!(is_report_file(name), "{name}");
        }
        assert!(!is_report_file("load.txt") && !is_report_file("load_other.svg"));
    }

    #[test]
    fn single_files_are_replaced_whole_through_a_fresh_temporary() {
        let dir = temp_dir("atomic");
        let target = dir.join("nested/report.xml");
        AtomicFile::write(&target, b"first").unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        let temp = f.temp_path().to_owned();
        assert!(
            temp.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(PRIVATE_PREFIX)
        );
        f.write_all(b"second").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"first");
        f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        assert!(!temp.exists());
        // Dropped uncommitted: the target stays, the temporary goes.
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"third").unwrap();
        drop(f);
        assert_eq!(fs::read(&target).unwrap(), b"second");
        assert_eq!(names(&dir.join("nested")), ["report.xml"]);
        let err = AtomicFile::create(&dir.join("nested")).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
