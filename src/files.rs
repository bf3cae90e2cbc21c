//! Reading inputs and writing single files safely.
//!
//! Inputs are read with a size limit (a scenario named `/dev/zero` is refused after
//! the limit, not read until memory runs out). A file is written under a temporary
//! name in its own directory and renamed over the target, so a crash never leaves a
//! half-written result; the temporary file is removed when the write fails. A target
//! that is a symbolic link is written through the link (the link stays, its target is
//! replaced), and a target that exists but is not a regular file (a device, a pipe,
//! a directory) is refused: sptlab writes only regular files.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Largest scenario or summary.json read (a 2,048-stock covariance matrix in TOML is
/// about 80 MiB).
pub const MAX_TEXT_INPUT: u64 = 256 << 20;
/// Largest calibration CSV read (33 years of daily prices of 2,048 stocks is about 170 MiB).
pub const MAX_CSV_INPUT: u64 = 1 << 30;

/// Reads at most `limit` bytes of `path`: more is an error that says the limit.
pub fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::other(format!("is larger than {} MiB, the most sptlab reads", limit >> 20)));
    }
    Ok(bytes)
}

/// Reads at most `limit` bytes of `path` as UTF-8 text.
pub fn read_text_limited(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_limited(path, limit)?).map_err(|_| io::Error::other("is not UTF-8 text"))
}

/// What kind of thing a path is, in words, for messages.
fn kind(metadata: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let file_type = metadata.file_type();
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_fifo() {
            return "a named pipe";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if metadata.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Where a write to `path` lands: `path` itself, or the file its chain of symbolic
/// links ends at. Refused, with the reason, when that exists and is not a regular
/// file, or when its directory does not exist.
pub fn output_file(path: &Path) -> Result<PathBuf, String> {
    let mut target = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&target) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = fs::read_link(&target).map_err(|e| format!("cannot read the link: {e}"))?;
                target = match target.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            Ok(metadata) if metadata.is_file() => return Ok(target),
            Ok(metadata) => {
                let via = if target == path { String::new() } else { format!(" ({})", target.display()) };
                return Err(format!("is {}{via}; sptlab writes only regular files", kind(&metadata)));
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                return match fs::metadata(parent) {
                    Ok(metadata) if metadata.is_dir() => Ok(target),
                    Ok(_) => Err(format!("{} is not a directory", parent.display())),
                    Err(_) => Err(format!("its directory {} does not exist", parent.display())),
                };
            }
            Err(error) => return Err(format!("cannot inspect it: {error}")),
        }
    }
    Err("has too many levels of symbolic links".into())
}

/// The temporary name a write to `target` goes through: hidden, beside it, and
/// unique to this process.
fn temporary_name(target: &Path) -> PathBuf {
    let name = target.file_name().map_or_else(|| "output".into(), |name| name.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.{}.partial", std::process::id()))
}

/// Writes `bytes` to `path` (through a symbolic link to its target) via a temporary
/// file in the same directory, removed again if any step fails.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = output_file(path).map_err(|reason| io::Error::other(format!("{}: {reason}", path.display())))?;
    let temporary = temporary_name(&target);
    let written = (|| {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, &target)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sptlab-files-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_are_limited() {
        let dir = scratch("limit");
        let path = dir.join("big.toml");
        fs::write(&path, vec![b'#'; 1025]).unwrap();
        assert_eq!(read_limited(&path, 1025).unwrap().len(), 1025);
        assert!(read_limited(&path, 1024).unwrap_err().to_string().contains("larger than"));
        #[cfg(unix)]
        assert!(read_limited(Path::new("/dev/zero"), 1 << 20).is_err());
        assert!(read_limited(&dir, 10).unwrap_err().to_string().contains("directory"));
    }

    #[cfg(unix)]
    #[test]
    fn writes_follow_links_and_refuse_devices() {
        let dir = scratch("links");
        let target = dir.join("target.toml");
        fs::write(&target, "old").unwrap();
        let link = dir.join("link.toml");
        std::os::unix::fs::symlink("target.toml", &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        // A dangling link is written through too: its target is created.
        let dangling = dir.join("dangling.toml");
        std::os::unix::fs::symlink("created.toml", &dangling).unwrap();
        write_atomically(&dangling, b"made").unwrap();
        assert_eq!(fs::read_to_string(dir.join("created.toml")).unwrap(), "made");
        assert!(output_file(Path::new("/dev/full")).unwrap_err().contains("character device"));
        assert!(output_file(&dir).unwrap_err().contains("directory"));
        assert!(output_file(&dir.join("missing/x.toml")).unwrap_err().contains("does not exist"));
        // A failed write leaves no temporary file behind.
        assert!(write_atomically(&dir.join("missing/x.toml"), b"x").is_err());
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.iter().all(|n| !n.to_string_lossy().contains("partial")), "{names:?}");
    }
}
