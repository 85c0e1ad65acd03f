//! The one owner of the output directory: every file is written atomically (a temporary file in
//! the same directory, then a rename), so an interrupted run never leaves a half-written file and
//! a reader sees either the old file or the new one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

#[derive(Debug)]
pub struct OutputDir {
    dir: PathBuf,
}

impl OutputDir {
    /// Creates the directory (and parents) if needed.
    pub fn create(dir: &Path) -> Result<Self, OutputError> {
        fs::create_dir_all(dir).map_err(at(dir))?;
        Ok(OutputDir {
            dir: dir.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Where a file being streamed should be written before [`commit`](Self::commit).
    pub fn temp_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!(".{name}.{}.tmp", std::process::id()))
    }

    /// Atomically replaces `name` with `temp` (a path from [`temp_path`](Self::temp_path)).
    pub fn commit(&self, temp: &Path, name: &str) -> Result<PathBuf, OutputError> {
        let target = self.dir.join(name);
        fs::rename(temp, &target).map_err(at(&target))?;
        Ok(target)
    }

    /// Writes `bytes` to `name` atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, OutputError> {
        let temp = self.temp_path(name);
        let result = (|| {
            let mut f = File::create(&temp)?;
            f.write_all(bytes)?;
            f.sync_all()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&temp);
            return Err(at(&temp)(e));
        }
        self.commit(&temp, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_files_whole_and_leave_no_temporaries() {
        let dir = std::env::temp_dir().join(format!("failover-lab-output-{}", std::process::id()));
        let out = OutputDir::create(&dir.join("nested")).unwrap();
        out.write("a.txt", b"first").unwrap();
        out.write("a.txt", b"second").unwrap();
        assert_eq!(fs::read(dir.join("nested/a.txt")).unwrap(), b"second");
        let names: Vec<String> = fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.txt".to_owned()]);
        let err = OutputDir::create(&dir.join("nested/a.txt/x")).unwrap_err();
        assert!(err.to_string().contains("nested/a.txt/x"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
