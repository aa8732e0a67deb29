//! Files kockpit reads and writes: a file from outside is read within its limit
//! (`domain::limits`: the size is checked before the text is allocated, and a file that
//! grows while it is read stops at the limit); a file that may hold cluster details (the
//! log, recordings, the audit log, crash reports) is created readable by its owner only.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Owner read and write, nobody else.
pub const PRIVATE_MODE: u32 = 0o600;

/// Opens `path` for writing, created with `PRIVATE_MODE` (appending when `append`,
/// truncating otherwise). An existing file is made private too.
pub fn create_private(path: &Path, append: bool) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .mode(PRIVATE_MODE)
        .open(path)?;
    let metadata = file.metadata()?;
    // Only a regular file is the user's to tighten (never /dev/null or another device).
    if metadata.is_file() && metadata.permissions().mode() & 0o777 != PRIVATE_MODE {
        file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_MODE))?;
    }
    Ok(file)
}

use crate::domain::limits::Limit;

/// The file's text, or an error that names the limit when it is larger.
pub fn read_to_string(path: &Path, limit: Limit) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let too_big = |size: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            limit.exceeded("size", format!("{size} bytes")),
        )
    };
    if !limit.allows(size) {
        return Err(too_big(size));
    }
    let mut text = String::new();
    file.take(limit.max + 1).read_to_string(&mut text)?;
    if !limit.allows(text.len() as u64) {
        return Err(too_big(text.len() as u64));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::limits::USER_FILE_BYTES;

    #[test]
    fn private_files_are_readable_by_their_owner_only() {
        let dir = std::env::temp_dir().join(format!("kockpit-private-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("audit.jsonl");
        std::fs::write(&path, "old\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        create_private(&path, true).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(PRIVATE_MODE));
        let fresh = dir.join("fresh.kock");
        create_private(&fresh, false).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&fresh).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(PRIVATE_MODE));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_over_its_limit_is_refused_before_it_is_read() {
        let dir = std::env::temp_dir().join(format!("kockpit-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("big.toml");
        let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        // Sparse: the size is there, the bytes never are.
        file.set_len(10 << 30).unwrap_or_else(|e| panic!("{e}"));
        let error = read_to_string(&path, USER_FILE_BYTES).expect_err("too big");
        assert_eq!(
            error.to_string(),
            "size 10737418240 bytes is over kockpit's limit of 1 MiB (a scenario, config, key map or theme file)"
        );
        std::fs::write(&path, "name = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            read_to_string(&path, USER_FILE_BYTES).ok().as_deref(),
            Some("name = \"x\"\n")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
