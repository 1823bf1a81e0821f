//! The uploaded ZIP, checked before anything is inflated: sizes, entry count and
//! compression ratio (zip bombs), names (no absolute paths, no `..`), no links. What
//! passes is held compressed in memory and inflated one member at a time.

use std::io::{Cursor, Read};
use std::sync::Arc;

use serde::Deserialize;

#[derive(Clone, Copy, Debug, Deserialize)]
pub struct ArchiveLimits {
    pub max_compressed_bytes: u64,
    pub max_uncompressed_bytes: u64,
    pub max_entries: usize,
    /// Largest uncompressed/compressed ratio of any member.
    pub max_ratio: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_compressed_bytes: 2 << 30,
            max_uncompressed_bytes: 8 << 30,
            max_entries: 20_000,
            max_ratio: 200,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a ZIP archive: {0}")]
    NotZip(String),
    #[error("the archive is {size} bytes; the limit is {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("the archive has {count} entries; the limit is {limit}")]
    TooManyEntries { count: usize, limit: usize },
    #[error("the archive would inflate to more than {limit} bytes")]
    InflatesTooMuch { limit: u64 },
    #[error("entry {name:?} compresses {ratio}:1, beyond the limit of {limit}:1 (a zip bomb?)")]
    Ratio {
        name: String,
        ratio: u64,
        limit: u64,
    },
    #[error("entry {0:?} has an unsafe path (absolute or with ..)")]
    UnsafePath(String),
    #[error("entry {0:?} is a link; links are not accepted")]
    Link(String),
    #[error("entry {name:?} cannot be read: {reason}")]
    Entry { name: String, reason: String },
}

/// One member that passed the checks.
#[derive(Clone, Debug)]
pub struct Member {
    index: usize,
    pub name: String,
    pub size: u64,
}

/// An archive that passed the checks; members are inflated on demand (from any thread).
/// The central directory is parsed once: clones of `zip` share it.
#[derive(Clone, Debug)]
pub struct Archive {
    zip: zip::ZipArchive<Cursor<Arc<[u8]>>>,
    pub members: Vec<Member>,
}

const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;

impl Archive {
    pub fn open(bytes: Vec<u8>, limits: &ArchiveLimits) -> Result<Self, ArchiveError> {
        let size = bytes.len() as u64;
        if size > limits.max_compressed_bytes {
            return Err(ArchiveError::TooLarge {
                size,
                limit: limits.max_compressed_bytes,
            });
        }
        let bytes: Arc<[u8]> = bytes.into();
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| ArchiveError::NotZip(e.to_string()))?;
        if zip.len() > limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                count: zip.len(),
                limit: limits.max_entries,
            });
        }
        let mut members = Vec::new();
        let mut total = 0u64;
        for index in 0..zip.len() {
            let entry = zip.by_index_raw(index).map_err(|e| ArchiveError::Entry {
                name: format!("#{index}"),
                reason: e.to_string(),
            })?;
            let name = entry.name().to_owned();
            if entry.enclosed_name().is_none() {
                return Err(ArchiveError::UnsafePath(name));
            }
            if entry.is_symlink() || entry.unix_mode().is_some_and(|m| m & S_IFMT == S_IFLNK) {
                return Err(ArchiveError::Link(name));
            }
            if entry.is_dir() {
                continue;
            }
            let (packed, size) = (entry.compressed_size(), entry.size());
            let ratio = size / packed.max(1);
            if size > 0 && ratio > limits.max_ratio {
                return Err(ArchiveError::Ratio {
                    name,
                    ratio,
                    limit: limits.max_ratio,
                });
            }
            total = total.saturating_add(size);
            if total > limits.max_uncompressed_bytes {
                return Err(ArchiveError::InflatesTooMuch {
                    limit: limits.max_uncompressed_bytes,
                });
            }
            members.push(Member { index, name, size });
        }
        Ok(Self { zip, members })
    }

    /// Inflates one member, reading no more than its declared size (a lying header
    /// cannot make it grow).
    pub fn read(&self, member: &Member) -> Result<Vec<u8>, ArchiveError> {
        let failed = |reason: String| ArchiveError::Entry {
            name: member.name.clone(),
            reason,
        };
        let mut zip = self.zip.clone();
        let entry = zip
            .by_index(member.index)
            .map_err(|e| failed(e.to_string()))?;
        let mut out = Vec::with_capacity(member.size as usize);
        entry
            .take(member.size + 1)
            .read_to_end(&mut out)
            .map_err(|e| failed(e.to_string()))?;
        if out.len() as u64 != member.size {
            return Err(failed(
                "its size differs from what the archive declares".into(),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            out.start_file(*name, SimpleFileOptions::default()).unwrap();
            out.write_all(data).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn members_are_listed_and_read_back() {
        let bytes = zip_of(&[("a/b/one.dcm", b"first"), ("two", b"second")]);
        let archive = Archive::open(bytes, &ArchiveLimits::default()).unwrap();
        let names: Vec<&str> = archive.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a/b/one.dcm", "two"]);
        assert_eq!(archive.read(&archive.members[1]).unwrap(), b"second");
    }

    #[test]
    fn a_zip_bomb_is_refused_before_inflating() {
        let zeros = vec![0u8; 4 << 20];
        let bytes = zip_of(&[("zeros.dcm", &zeros)]);
        let err = Archive::open(bytes, &ArchiveLimits::default()).unwrap_err();
        assert!(matches!(err, ArchiveError::Ratio { .. }), "{err}");
    }

    #[test]
    fn traversal_and_absolute_paths_are_refused() {
        for name in ["../evil.dcm", "/etc/passwd", "a/../../b"] {
            let err =
                Archive::open(zip_of(&[(name, b"x")]), &ArchiveLimits::default()).unwrap_err();
            assert!(matches!(err, ArchiveError::UnsafePath(_)), "{name}: {err}");
        }
    }

    #[test]
    fn links_are_refused() {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        out.add_symlink("link.dcm", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        let bytes = out.finish().unwrap().into_inner();
        let err = Archive::open(bytes, &ArchiveLimits::default()).unwrap_err();
        assert!(matches!(err, ArchiveError::Link(_)), "{err}");
    }

    #[test]
    fn limits_on_size_and_count_hold() {
        let bytes = zip_of(&[("a", b"1"), ("b", b"2"), ("c", b"3")]);
        let few = ArchiveLimits {
            max_entries: 2,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            Archive::open(bytes.clone(), &few),
            Err(ArchiveError::TooManyEntries { .. })
        ));
        let small = ArchiveLimits {
            max_compressed_bytes: 10,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            Archive::open(bytes, &small),
            Err(ArchiveError::TooLarge { .. })
        ));
        assert!(matches!(
            Archive::open(b"not a zip".to_vec(), &ArchiveLimits::default()),
            Err(ArchiveError::NotZip(_))
        ));
    }
}
