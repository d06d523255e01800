//! A photo as lienlac keeps it: decoded within limits (no decompression bomb),
//! turned upright by its orientation, then encoded again, which leaves every
//! metadata block behind (EXIF, and with it the GPS position of where children
//! were photographed); and a JPEG thumbnail of at most 320 pixels a side.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::sniff::Kind;

/// The longest side of a thumbnail, in pixels.
pub(crate) const THUMBNAIL_SIDE: u32 = 320;

/// The photo without metadata, and its thumbnail.
pub(crate) struct Cleaned {
    pub(crate) image: Vec<u8>,
    pub(crate) thumbnail: Vec<u8>,
}

pub(crate) fn clean(kind: Kind, bytes: &[u8]) -> image::ImageResult<Cleaned> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);

    let mut cleaned = Vec::new();
    match kind {
        Kind::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
            rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut cleaned, 88))?;
        }
        Kind::Webp => image.write_to(&mut Cursor::new(&mut cleaned), ImageFormat::WebP)?,
        _ => image.write_to(&mut Cursor::new(&mut cleaned), ImageFormat::Png)?,
    }
    let small = DynamicImage::ImageRgb8(image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE).to_rgb8());
    let mut thumbnail = Vec::new();
    small.write_with_encoder(JpegEncoder::new_with_quality(&mut thumbnail, 80))?;
    Ok(Cleaned {
        image: cleaned,
        thumbnail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG of `width` × `height` with an EXIF block naming a GPS position.
    fn photo_with_gps(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgb8(width, height);
        let mut plain = Vec::new();
        image
            .write_with_encoder(JpegEncoder::new_with_quality(&mut plain, 90))
            .unwrap();
        let exif = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 10.8231 N GPSLongitude 106.6297 E";
        let length = (exif.len() + 2) as u16;
        let mut with_exif = vec![0xFF, 0xD8, 0xFF, 0xE1];
        with_exif.extend_from_slice(&length.to_be_bytes());
        with_exif.extend_from_slice(exif);
        with_exif.extend_from_slice(&plain[2..]);
        with_exif
    }

    fn holds(haystack: &[u8], needle: &[u8]) -> bool {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    }

    #[test]
    fn a_photo_loses_its_metadata_and_gets_a_thumbnail() {
        let photo = photo_with_gps(800, 600);
        assert!(
            holds(&photo, b"GPSLatitude"),
            "the test photo carries a position"
        );
        let cleaned = clean(Kind::Jpeg, &photo).unwrap();
        assert!(!holds(&cleaned.image, b"Exif") && !holds(&cleaned.image, b"GPSLatitude"));
        let kept = image::load_from_memory(&cleaned.image).unwrap();
        assert_eq!((kept.width(), kept.height()), (800, 600));
        let thumbnail = image::load_from_memory(&cleaned.thumbnail).unwrap();
        assert_eq!((thumbnail.width(), thumbnail.height()), (320, 240));
    }

    #[test]
    fn bytes_that_only_look_like_a_photo_are_refused() {
        assert!(clean(Kind::Jpeg, b"\xFF\xD8\xFF\xE0 not really a jpeg").is_err());
        let huge_header = {
            let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
            png.extend_from_slice(&100_000u32.to_be_bytes());
            png.extend_from_slice(&100_000u32.to_be_bytes());
            png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
            png
        };
        assert!(
            clean(Kind::Png, &huge_header).is_err(),
            "a 100,000-pixel side is over the limit"
        );
    }
}
