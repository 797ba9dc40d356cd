//! The users file: TOML, one `[[user]]` table per user with a password hash
//! (argon2 PHC string or bcrypt) and groups.
//!
//! ```toml
//! [[user]]
//! name = "alice"
//! password = "$argon2id$v=19$m=19456,t=2,p=1$…"
//! groups = ["engineering", "ai-pilot"]
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// User name.
    pub name: String,
    /// argon2 (`$argon2id$…`) or bcrypt (`$2b$…`) hash.
    pub password: String,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    user: Vec<UserEntry>,
}

/// A users file problem, naming the file and line.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct UsersError {
    /// The file.
    pub file: PathBuf,
    /// The line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Users by name.
#[derive(Debug, Clone, Default)]
pub struct UsersFile {
    users: HashMap<String, UserEntry>,
}

impl UsersFile {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, UsersError> {
        let err = |line, message| UsersError {
            file: path.to_owned(),
            line,
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(None, e.to_string()))?;
        Self::parse(&text).map_err(|(line, message)| err(line, message))
    }

    /// Parses the file's text; errors carry the 1-based line.
    pub fn parse(text: &str) -> Result<Self, (Option<usize>, String)> {
        let shape: FileShape = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            (line, e.message().to_owned())
        })?;
        let mut users = HashMap::new();
        for entry in shape.user {
            let line = text
                .find(&format!("\"{}\"", entry.name))
                .map(|o| text[..o].matches('\n').count() + 1);
            if !is_supported_hash(&entry.password) {
                return Err((
                    line,
                    format!(
                        "user {:?}: password must be an argon2 ($argon2id$…) or bcrypt ($2b$…) hash",
                        entry.name
                    ),
                ));
            }
            if users.insert(entry.name.clone(), entry.clone()).is_some() {
                return Err((line, format!("user {:?} appears twice", entry.name)));
            }
        }
        Ok(Self { users })
    }

    /// The entry for `name`.
    pub fn get(&self, name: &str) -> Option<&UserEntry> {
        self.users.get(name)
    }
}

fn is_supported_hash(hash: &str) -> bool {
    hash.starts_with("$argon2") || ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

/// Checks `password` against an argon2 or bcrypt `hash` (CPU-heavy: call off
/// the runtime threads).
pub fn verify_hash(hash: &str, password: &str) -> bool {
    if hash.starts_with("$argon2") {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        match PasswordHash::new(hash) {
            Ok(parsed) => argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    } else {
        bcrypt::verify(password, hash).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_both_hash_kinds_and_reports_lines() {
        let bcrypt_hash = bcrypt::hash("hunter2", 4).unwrap();
        assert!(verify_hash(&bcrypt_hash, "hunter2"));
        assert!(!verify_hash(&bcrypt_hash, "hunter3"));
        use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
        let salt = SaltString::generate(&mut OsRng);
        let argon = argon2::Argon2::default()
            .hash_password(b"s3cret", &salt)
            .unwrap()
            .to_string();
        assert!(verify_hash(&argon, "s3cret"));
        assert!(!verify_hash(&argon, "s3cre"));

        let text = format!("[[user]]\nname = \"a\"\npassword = \"{argon}\"\n\n[[user]]\nname = \"b\"\npassword = \"plain\"\n");
        let (line, msg) = UsersFile::parse(&text).unwrap_err();
        assert_eq!(line, Some(6), "{msg}");
        let (line, _) = UsersFile::parse("[[user]]\nname = \"a\"\npasswd = \"x\"\n").unwrap_err();
        assert_eq!(line, Some(3));
    }
}
