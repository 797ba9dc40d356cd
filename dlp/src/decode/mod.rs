//! decoders (todo)
