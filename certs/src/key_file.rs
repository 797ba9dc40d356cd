//! Private key files: written with mode 0600, refused when group- or
//! world-readable.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::CertError;

/// Reads a private key file, refusing it when its mode lets group or others read it.
pub(crate) fn read_private(path: &Path) -> Result<String, CertError> {
    check_private(path)?;
    fs::read_to_string(path).map_err(|source| CertError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Fails when `path` is accessible by group or others.
pub(crate) fn check_private(path: &Path) -> Result<(), CertError> {
    let meta = fs::metadata(path).map_err(|source| CertError::Io {
        path: path.to_owned(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CertError::KeyPermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

/// Creates `path` with mode 0600 (never briefly wider) and writes `contents`.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), CertError> {
    let io_err = |source| CertError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_err)?;
    file.write_all(contents.as_bytes()).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_keys_are_private_and_wide_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        write_private(&path, "secret").unwrap();
        assert_eq!(read_private(&path).unwrap(), "secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            let err = read_private(&path).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
            assert!(err.contains("0644"), "{err}");
        }
    }
}
