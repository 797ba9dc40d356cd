//! Portcullis proxy library.
