//! Portcullis: an inline CASB/SASE forward proxy.
//!
//! The binary `portcullis` is a thin CLI over this library. The data flow is
//! described in DESIGN.md: listener → admission → tunnel decision →
//! interception → per-request pipeline → upstream.

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod device;
pub mod error_page;
pub mod hostmatch;
pub mod http1_server;
pub mod http2_server;
pub mod inspect;
pub mod intercept;
pub mod listen;
pub mod metrics;
pub mod pac;
pub mod pipeline;
pub mod prefixed;
pub mod quic;
pub mod records;
pub mod relay;
pub mod server;
pub mod startup;
pub mod state;
pub mod upstream;
