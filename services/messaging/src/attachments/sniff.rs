//! What a file is, from its first bytes and never from its name alone: the kinds
//! a school sends home (photos, PDFs such as report cards, office documents, short
//! videos). Office documents are zip files; their name tells which one.

/// A kind of file lienlac accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Jpeg,
    Png,
    Webp,
    Pdf,
    Docx,
    Xlsx,
    Pptx,
    Mp4,
}

impl Kind {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Webp => "image/webp",
            Kind::Pdf => "application/pdf",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Kind::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            Kind::Mp4 => "video/mp4",
        }
    }

    pub(crate) fn is_image(self) -> bool {
        matches!(self, Kind::Jpeg | Kind::Png | Kind::Webp)
    }
}

/// The kind of `bytes` named `file_name`, or `None` for a kind not accepted (or a
/// name that claims an office document the bytes are not).
pub(crate) fn sniff(bytes: &[u8], file_name: &str) -> Option<Kind> {
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Kind::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(Kind::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Kind::Webp)
    } else if bytes.starts_with(b"%PDF-") {
        Some(Kind::Pdf)
    } else if bytes.starts_with(b"PK\x03\x04") {
        match extension.as_str() {
            "docx" => Some(Kind::Docx),
            "xlsx" => Some(Kind::Xlsx),
            "pptx" => Some(Kind::Pptx),
            _ => None,
        }
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        Some(Kind::Mp4)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_the_first_bytes_and_a_name_then_the_kind_is_known_or_refused() {
        let cases: [(&str, &[u8], &str, Option<Kind>); 12] = [
            (
                "a JPEG",
                b"\xFF\xD8\xFF\xE0\0\x10JFIF",
                "anh.jpg",
                Some(Kind::Jpeg),
            ),
            (
                "a JPEG named .png",
                b"\xFF\xD8\xFF\xE1",
                "anh.png",
                Some(Kind::Jpeg),
            ),
            (
                "a PNG",
                b"\x89PNG\r\n\x1a\n\0\0",
                "anh.png",
                Some(Kind::Png),
            ),
            (
                "a WebP",
                b"RIFF\x10\0\0\0WEBPVP8 ",
                "anh.webp",
                Some(Kind::Webp),
            ),
            ("a PDF", b"%PDF-1.7\n", "hoc-ba.pdf", Some(Kind::Pdf)),
            (
                "a spreadsheet",
                b"PK\x03\x04\x14\0",
                "diem.XLSX",
                Some(Kind::Xlsx),
            ),
            (
                "a document",
                b"PK\x03\x04\x14\0",
                "thu-moi.docx",
                Some(Kind::Docx),
            ),
            ("any other zip", b"PK\x03\x04\x14\0", "tai-lieu.zip", None),
            (
                "an MP4",
                b"\0\0\0\x18ftypmp42",
                "video.mp4",
                Some(Kind::Mp4),
            ),
            ("text named .jpg", b"hello, this is text", "anh.jpg", None),
            ("a Windows program", b"MZ\x90\0\x03\0\0\0", "anh.jpg", None),
            ("nothing", b"", "anh.jpg", None),
        ];
        for (case, bytes, name, expected) in cases {
            assert_eq!(sniff(bytes, name), expected, "{case}");
        }
    }
}
