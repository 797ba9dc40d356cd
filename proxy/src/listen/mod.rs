//! Listeners: accept connections and turn their first request into a target.

pub mod explicit;
pub mod https;
pub mod pac;
pub mod transparent;
