//! Output files that never clobber and are never half-written: every path is
//! checked before any work starts, written to a temporary file beside it and
//! published in one step at the end. Whether an existing file may be replaced
//! is decided at that last step, so parallel runs cannot overwrite each other.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail, ensure};

/// What may happen to a file already at an output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse: the run stops with an error and the file is kept.
    Keep,
    /// Replace a regular file (or a symlink to one), never a folder, device
    /// or fifo.
    Replace,
}

/// An output path, checked: its folder exists and takes new files, and what
/// is there now may be replaced (or nothing is there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    path: PathBuf,
    existing: Existing,
}

impl OutputFile {
    /// Checks `path` now, before the work that fills it: creates its folder,
    /// tries a file in it, and looks at what is at the path.
    pub fn check(
        path: impl Into<PathBuf>,
        existing: Existing,
    ) -> anyhow::Result<Self> {
        let output = OutputFile {
            path: path.into(),
            existing,
        };
        let folder = output.folder()?;
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("cannot create folder {}", folder.display()))?;
        let probe = output.temporary()?;
        drop(probe.1);
        let _ = std::fs::remove_file(&probe.0);
        output.may_publish()?;
        Ok(output)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` and publishes them at the path.
    pub fn write(&self, bytes: &[u8]) -> anyhow::Result<()> {
        self.write_with(|file| {
            let mut file = OpenOptions::new().write(true).open(file)?;
            file.write_all(bytes)?;
            Ok(file.sync_all()?)
        })
    }

    /// Lets `fill` write the temporary file (for writers that want a path),
    /// then publishes it; on any error the temporary file is removed.
    pub fn write_with(
        &self,
        fill: impl FnOnce(&Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let (temporary, file) = self.temporary()?;
        drop(file);
        let result = fill(&temporary).and_then(|()| self.publish(&temporary));
        let _ = std::fs::remove_file(&temporary);
        result.with_context(|| format!("cannot write {}", self.path.display()))
    }

    fn folder(&self) -> anyhow::Result<PathBuf> {
        ensure!(
            self.path.file_name().is_some(),
            "{} is not a file path",
            self.path.display()
        );
        Ok(match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        })
    }

    /// A new, empty file beside the path, named after it and this process.
    fn temporary(&self) -> anyhow::Result<(PathBuf, std::fs::File)> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = self.path.file_name().expect("checked").to_string_lossy();
        let temporary = self.folder()?.join(format!(
            ".{name}.{}-{}.partial",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .with_context(|| {
                format!("cannot write in the folder of {}", self.path.display())
            })?;
        Ok((temporary, file))
    }

    /// Whether what is at the path now may be replaced.
    fn may_publish(&self) -> anyhow::Result<()> {
        let Ok(found) = std::fs::symlink_metadata(&self.path) else {
            return Ok(());
        };
        let shown = self.path.display();
        if self.existing == Existing::Keep {
            bail!(
                "{shown} already exists: pass --force to replace it, or choose another name"
            );
        }
        let target = if found.file_type().is_symlink() {
            std::fs::metadata(&self.path)
                .with_context(|| format!("{shown} is a symlink to nothing"))?
        } else {
            found
        };
        ensure!(
            target.is_file(),
            "{shown} is not a regular file (a folder, device or fifo): it is never replaced"
        );
        Ok(())
    }

    /// Moves the finished temporary file to the path in one step. Without
    /// replacing, a hard link is made: it fails if anything (even a dangling
    /// symlink) appeared at the path meanwhile.
    fn publish(&self, temporary: &Path) -> anyhow::Result<()> {
        self.may_publish()?;
        match self.existing {
            Existing::Replace => Ok(std::fs::rename(temporary, &self.path)?),
            Existing::Keep => match std::fs::hard_link(temporary, &self.path) {
                Err(e) if e.kind() == ErrorKind::AlreadyExists => bail!(
                    "{} appeared while this run worked: pass --force to replace it",
                    self.path.display()
                ),
                other => Ok(other?),
            },
        }
    }
}

/// The outputs of one run, checked together: no two may share a path.
pub fn check_all(
    paths: &[&Path],
    existing: Existing,
) -> anyhow::Result<Vec<OutputFile>> {
    let outputs = paths
        .iter()
        .map(|path| OutputFile::check(*path, existing))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (i, a) in outputs.iter().enumerate() {
        for b in &outputs[i + 1..] {
            ensure!(
                place(&a.path) != place(&b.path),
                "two outputs of this run would both be written to {}",
                a.path.display()
            );
        }
    }
    Ok(outputs)
}

/// Where a checked path points: its real folder (it exists) and its name.
fn place(path: &Path) -> (Option<PathBuf>, Option<std::ffi::OsString>) {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    (
        std::fs::canonicalize(folder).ok(),
        path.file_name().map(Into::into),
    )
}

/// A file name made from a text (a prompt): its letters and digits in lower
/// case, every other run of characters one `-`, at most 80 characters (not
/// bytes: a prompt may be in any script); `fallback` when nothing is left.
pub fn name_from_text(text: &str, fallback: &str) -> String {
    // Lower case first: it can make marks that are not letters ("İ" → "i̇").
    let letters: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let words: Vec<&str> = letters.split('-').filter(|w| !w.is_empty()).collect();
    let name: String = words.join("-").chars().take(80).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        fallback.to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(folder: &Path) -> Vec<String> {
        std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".partial"))
            .collect()
    }

    #[test]
    fn a_run_that_checked_first_cannot_clobber_a_file_published_meanwhile()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("new/picture.png");
        let first = OutputFile::check(&path, Existing::Keep)?;
        let second = OutputFile::check(&path, Existing::Keep)?;
        first.write(b"first")?;
        let error = format!("{:#}", second.write(b"second").unwrap_err());
        assert!(error.contains("--force"), "{error}");
        assert_eq!(std::fs::read(&path)?, b"first");
        assert!(OutputFile::check(&path, Existing::Keep).is_err());
        OutputFile::check(&path, Existing::Replace)?.write(b"third")?;
        assert_eq!(std::fs::read(&path)?, b"third");
        assert_eq!(leftovers(&dir.path().join("new")), Vec::<String>::new());
        Ok(())
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_nothing_behind()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("weights.safetensors");
        std::fs::write(&path, b"old")?;
        let output = OutputFile::check(&path, Existing::Replace)?;
        let error = output
            .write_with(|_| bail!("the disk is full"))
            .unwrap_err();
        assert!(format!("{error:#}").contains("the disk is full"));
        assert_eq!(std::fs::read(&path)?, b"old");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_and_symlinks_to_them_are_ever_replaced()
    -> anyhow::Result<()> {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir()?;
        let at = |name: &str| dir.path().join(name);
        std::fs::create_dir(at("folder"))?;
        symlink(at("folder"), at("link-to-folder"))?;
        symlink(at("nowhere"), at("dangling"))?;
        let fifo = std::process::Command::new("mkfifo")
            .arg(at("fifo"))
            .status()?;
        assert!(fifo.success());
        for name in ["folder", "link-to-folder", "dangling", "fifo"] {
            let error = OutputFile::check(at(name), Existing::Replace).unwrap_err();
            assert!(format!("{error:#}").contains(name), "{name}: {error:#}");
            assert!(
                OutputFile::check(at(name), Existing::Keep).is_err(),
                "{name}"
            );
        }
        std::fs::write(at("target.png"), b"kept")?;
        symlink(at("target.png"), at("link.png"))?;
        OutputFile::check(at("link.png"), Existing::Replace)?.write(b"new")?;
        assert_eq!(std::fs::read(at("target.png"))?, b"kept");
        assert_eq!(std::fs::read(at("link.png"))?, b"new");
        assert!(!std::fs::symlink_metadata(at("link.png"))?.is_symlink());
        Ok(())
    }

    #[test]
    fn a_path_that_cannot_be_written_is_found_before_any_work() -> anyhow::Result<()>
    {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("file"), b"")?;
        let error = OutputFile::check(dir.path().join("file/x.png"), Existing::Keep)
            .unwrap_err();
        assert!(
            format!("{error:#}").contains("cannot create folder"),
            "{error:#}"
        );
        assert!(
            OutputFile::check(dir.path().join(".."), Existing::Replace).is_err()
        );
        Ok(())
    }

    #[test]
    fn names_from_prompts_keep_letters_of_any_script_and_stay_short() {
        assert_eq!(
            name_from_text("A red circle, above a BLUE square!", "x"),
            "a-red-circle-above-a-blue-square"
        );
        let japanese = "赤い円".repeat(40);
        assert_eq!(name_from_text(&japanese, "x").chars().count(), 80);
        assert_eq!(name_from_text("?!/..", "generated"), "generated");
        // "İ" lower-cases to "i" and a combining dot, which is not a letter.
        assert_eq!(name_from_text("İstanbul", "x"), "i-stanbul");
    }

    #[test]
    fn two_outputs_of_one_run_may_not_share_a_path() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let png = dir.path().join("a.png");
        let same = dir.path().join("sub/../a.png");
        std::fs::create_dir(dir.path().join("sub"))?;
        let error = check_all(&[&png, &same], Existing::Keep).unwrap_err();
        assert!(format!("{error}").contains("both be written"), "{error}");
        let gif = dir.path().join("a.gif");
        assert_eq!(check_all(&[&png, &gif], Existing::Keep)?.len(), 2);
        Ok(())
    }
}
