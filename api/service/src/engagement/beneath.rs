//! Opening a file named by a client, under a folder the operator chose, without ever leaving it.
//!
//! Resolving the path first and opening it afterwards is a race: a folder inside the root can be
//! swapped for a symlink between the check and the open. So the path is walked one component at
//! a time, each opened relative to the handle of the folder before it (`openat`) with
//! `O_NOFOLLOW`: no symlink is followed, no `..` is taken, and the file that is read is the one
//! that was checked, since it is the same open handle.

use std::fs::File;
use std::path::Path;

use rustix::fs::{Mode, OFlags, openat};

/// The regular file at `relative` under `root`, or `None` if there is none there: missing, a
/// link, a `..`, a folder, a device or a FIFO all look the same to the caller. An absolute path
/// is accepted only when it names a place inside `root`.
pub fn open_file(root: &Path, relative: &str) -> Option<File> {
    let relative = match Path::new(relative).is_absolute() {
        true => Path::new(relative).strip_prefix(root.canonicalize().ok()?).ok()?.to_str()?.to_string(),
        false => relative.to_string(),
    };
    let components: Vec<&str> = relative.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    let (file_name, folders) = components.split_last()?;
    if components.contains(&"..") {
        return None;
    }
    let folder = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir = rustix::fs::open(root, folder, Mode::empty()).ok()?;
    for name in folders {
        dir = openat(&dir, *name, folder | OFlags::NOFOLLOW, Mode::empty()).ok()?;
    }
    // NONBLOCK: opening a FIFO must not wait for a writer.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = File::from(openat(&dir, *file_name, flags, Mode::empty()).ok()?);
    file.metadata().ok()?.is_file().then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_inside_the_root_open() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.csv"), "x").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("in")).unwrap();
        std::fs::write(root.path().join("in/posts.csv"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.csv"), root.path().join("file-link.csv")).unwrap();

        assert!(open_file(root.path(), "in/posts.csv").is_some());
        assert!(open_file(root.path(), "./in//posts.csv").is_some());
        let absolute = root.path().canonicalize().unwrap().join("in/posts.csv");
        assert!(open_file(root.path(), absolute.to_str().unwrap()).is_some());
        for refused in [
            "link/secret.csv",
            "file-link.csv",
            "in/../in/posts.csv",
            "../secret.csv",
            "in",
            "",
            "/etc/passwd",
            "missing.csv",
            "in/posts.csv\0",
        ] {
            assert!(open_file(root.path(), refused).is_none(), "{refused:?}");
        }
    }
}
