//! Maps a TOML field path or byte offset back to a line and column, so every
//! configuration error can name the file, line and field at fault.

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

/// The dotted field path of the key at or before byte `offset`: the nearest
/// `[section]` header above plus the key on that line.
pub(crate) fn field_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |p| p + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |p| offset + p);
    let line = text[line_start..line_end].trim();
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned());
    let section = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    match (section, key) {
        (Some(s), Some(k)) => Some(format!("{s}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(s), None) if line.starts_with('[') => Some(s),
        (Some(s), None) => Some(s),
        (None, None) => None,
    }
}

/// Byte offset of the value at `path` (e.g. `["upstream", "extra_roots"]`) in
/// the TOML document, if present.
pub(crate) fn span_of(text: &str, path: &[&str]) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item = doc.as_item();
    for key in path {
        item = item.get(key)?;
    }
    item.span().map(|s| s.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_and_fields() {
        let text = "data_dir = \"x\"\n[proxy]\nlisten = \"nope\"\n";
        let off = text.find("\"nope\"").unwrap();
        assert_eq!(line_col(text, off), (3, 10));
        assert_eq!(field_at(text, off).as_deref(), Some("proxy.listen"));
        assert_eq!(span_of(text, &["proxy", "listen"]), Some(off));
        assert_eq!(field_at(text, 0).as_deref(), Some("data_dir"));
    }
}
