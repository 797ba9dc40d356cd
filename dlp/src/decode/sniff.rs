//! File-type sniffing by magic bytes (never by the declared Content-Type).

/// A file type recognised from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// ZIP archive (`PK\x03\x04`), not recognised as an Office document.
    Zip,
    /// Word document (OOXML).
    Docx,
    /// Excel workbook (OOXML).
    Xlsx,
    /// PowerPoint presentation (OOXML).
    Pptx,
    /// PDF document.
    Pdf,
    /// gzip stream.
    Gzip,
    /// zstd frame.
    Zstd,
    /// bzip2 stream.
    Bzip2,
    /// xz stream.
    Xz,
    /// 7-Zip archive.
    SevenZip,
    /// RAR archive.
    Rar,
    /// Legacy Office / OLE compound file (doc, xls, ppt, msg).
    Ole,
    /// PNG image.
    Png,
    /// JPEG image.
    Jpeg,
    /// GIF image.
    Gif,
    /// Windows executable (`MZ`).
    Exe,
    /// ELF executable.
    Elf,
    /// Mach-O executable.
    MachO,
    /// Text (UTF-8 without control bytes other than whitespace).
    Text,
    /// Anything else, or empty.
    Unknown,
}

impl FileType {
    /// A short lower-case name for records.
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Zip => "zip",
            FileType::Docx => "docx",
            FileType::Xlsx => "xlsx",
            FileType::Pptx => "pptx",
            FileType::Pdf => "pdf",
            FileType::Gzip => "gzip",
            FileType::Zstd => "zstd",
            FileType::Bzip2 => "bzip2",
            FileType::Xz => "xz",
            FileType::SevenZip => "7z",
            FileType::Rar => "rar",
            FileType::Ole => "ole",
            FileType::Png => "png",
            FileType::Jpeg => "jpeg",
            FileType::Gif => "gif",
            FileType::Exe => "exe",
            FileType::Elf => "elf",
            FileType::MachO => "macho",
            FileType::Text => "text",
            FileType::Unknown => "unknown",
        }
    }

    /// `true` for executables.
    pub fn is_executable(self) -> bool {
        matches!(self, FileType::Exe | FileType::Elf | FileType::MachO)
    }
}

/// Bytes [`sniff`] looks at.
pub const SNIFF_LEN: usize = 16;

/// Recognises a file type from (up to) its first [`SNIFF_LEN`] bytes.
pub fn sniff(head: &[u8]) -> FileType {
    const TABLE: &[(&[u8], FileType)] = &[
        (b"PK\x03\x04", FileType::Zip),
        (b"PK\x05\x06", FileType::Zip),
        (b"%PDF-", FileType::Pdf),
        (b"\x1f\x8b", FileType::Gzip),
        (b"\x28\xb5\x2f\xfd", FileType::Zstd),
        (b"BZh", FileType::Bzip2),
        (b"\xfd7zXZ\x00", FileType::Xz),
        (b"7z\xbc\xaf\x27\x1c", FileType::SevenZip),
        (b"Rar!\x1a\x07", FileType::Rar),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", FileType::Ole),
        (b"\x89PNG\r\n\x1a\n", FileType::Png),
        (b"\xff\xd8\xff", FileType::Jpeg),
        (b"GIF87a", FileType::Gif),
        (b"GIF89a", FileType::Gif),
        (b"\x7fELF", FileType::Elf),
        (b"\xcf\xfa\xed\xfe", FileType::MachO),
        (b"\xce\xfa\xed\xfe", FileType::MachO),
        (b"\xca\xfe\xba\xbe", FileType::MachO),
        (b"MZ", FileType::Exe),
    ];
    for (magic, ty) in TABLE {
        if head.starts_with(magic) {
            return *ty;
        }
    }
    if head.is_empty() {
        return FileType::Unknown;
    }
    let text = head
        .iter()
        .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0c));
    // A multi-byte UTF-8 sequence cut at the end of the sniffed prefix is fine.
    let utf8 = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    if text && utf8 {
        FileType::Text
    } else {
        FileType::Unknown
    }
}

/// Refines a ZIP's type from its member names (OOXML documents).
pub fn zip_kind<'a>(names: impl Iterator<Item = &'a str>) -> FileType {
    for n in names {
        if n.starts_with("word/") {
            return FileType::Docx;
        }
        if n.starts_with("xl/") {
            return FileType::Xlsx;
        }
        if n.starts_with("ppt/") {
            return FileType::Pptx;
        }
    }
    FileType::Zip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide() {
        let table: &[(&[u8], FileType)] = &[
            (b"PK\x03\x04rest", FileType::Zip),
            (b"%PDF-1.7", FileType::Pdf),
            (b"MZ\x90\x00", FileType::Exe),
            (b"\x7fELF\x02", FileType::Elf),
            (b"hello world", FileType::Text),
            ("주민등록".as_bytes(), FileType::Text),
            (b"\x00\x01\x02", FileType::Unknown),
            (b"", FileType::Unknown),
        ];
        for (head, want) in table {
            assert_eq!(sniff(head), *want, "{head:?}");
        }
        assert_eq!(
            zip_kind(["[Content_Types].xml", "word/document.xml"].into_iter()),
            FileType::Docx
        );
    }
}
