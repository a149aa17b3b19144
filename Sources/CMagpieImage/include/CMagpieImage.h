// Small C wrappers around libjpeg(-turbo) and libpng for MagpieVision.
//
// Both libraries report fatal errors by calling a handler that must not return; the only sound way out is
// longjmp, which Swift cannot do. These wrappers keep setjmp/longjmp inside C and give Swift a status code
// and a message instead, so a corrupt file can never terminate the process.
#ifndef CMAGPIE_IMAGE_H
#define CMAGPIE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/// Outcome of a decode call.
typedef enum MagpieDecodeStatus {
    MAGPIE_DECODE_OK = 0,
    /// The data is damaged or truncated.
    MAGPIE_DECODE_CORRUPT = 1,
    /// The data is valid but uses a feature the decoder does not handle (12-bit JPEG, lossless JPEG, ...).
    MAGPIE_DECODE_UNSUPPORTED = 2,
    /// The header declares dimensions over the caller's limits; width and height are filled in.
    MAGPIE_DECODE_TOO_LARGE = 3,
    /// The pixel buffer could not be allocated.
    MAGPIE_DECODE_OUT_OF_MEMORY = 4,
} MagpieDecodeStatus;

/// The result of a decode call.
typedef struct MagpieDecodedImage {
    /// width * height * 3 bytes of 8-bit RGB, row-major, allocated with malloc; NULL unless status is OK.
    /// Release with magpie_image_free.
    uint8_t *pixels;
    int32_t width;
    int32_t height;
    /// A MagpieDecodeStatus value.
    int32_t status;
    /// The library's message when status is not OK (NUL-terminated).
    char message[256];
} MagpieDecodedImage;

/// Decodes a baseline or progressive JPEG (grayscale, YCbCr, RGB, CMYK or YCCK) to 8-bit RGB.
///
/// Truncated data ("Premature end of JPEG file") is reported as corrupt rather than padded with grey, as
/// Pillow reports it; other libjpeg warnings (corrupt entropy data, extraneous bytes) are tolerated, as in Pillow.
/// Never calls exit() and never prints.
void magpie_decode_jpeg(const uint8_t *data, size_t size, int32_t max_side, int64_t max_pixels,
                        MagpieDecodedImage *out);

/// Decodes a PNG of any colour type and bit depth to 8-bit RGB.
///
/// Palette and low-bit grey are expanded, 16-bit samples keep their high byte, alpha is dropped (not
/// composited) and gamma/ICC chunks are ignored, which is what Pillow's `convert("RGB")` does.
/// Never calls exit() and never prints.
void magpie_decode_png(const uint8_t *data, size_t size, int32_t max_side, int64_t max_pixels,
                       MagpieDecodedImage *out);

/// Frees pixels returned by a decode call (NULL is allowed).
void magpie_image_free(uint8_t *pixels);

#endif
