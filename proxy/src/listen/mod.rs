//! Listeners: accept connections and turn their first request into a target.

pub mod accept;
pub mod connect;
pub mod explicit;
pub mod h2;
pub mod https;
pub mod idle;
pub mod pac;
pub mod transparent;
