// JPEG decoding through libjpeg(-turbo) with setjmp/longjmp error recovery.
#include "CMagpieImage.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct magpie_jpeg_error {
    struct jpeg_error_mgr mgr;  // must stay first: libjpeg hands back a pointer to it
    jmp_buf jump;
    int status;
    char message[JMSG_LENGTH_MAX];
} magpie_jpeg_error;

static int status_for_code(int code) {
    switch (code) {
    case JERR_ARITH_NOTIMPL:
    case JERR_BAD_PRECISION:
    case JERR_CCIR601_NOTIMPL:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_SOF_UNSUPPORTED:
        return MAGPIE_DECODE_UNSUPPORTED;
    case JERR_OUT_OF_MEMORY:
        return MAGPIE_DECODE_OUT_OF_MEMORY;
    default:
        return MAGPIE_DECODE_CORRUPT;
    }
}

// Records the current message and unwinds to the setjmp in magpie_decode_jpeg.
static void fail(j_common_ptr cinfo) {
    magpie_jpeg_error *err = (magpie_jpeg_error *)cinfo->err;
    err->mgr.format_message(cinfo, err->message);
    err->status = status_for_code(err->mgr.msg_code);
    longjmp(err->jump, 1);
}

static void on_error_exit(j_common_ptr cinfo) { fail(cinfo); }

// Warnings (level -1) are tolerated, except running out of data: libjpeg would pad the rest of the image
// with grey, and a silently half-grey picture is worse than an error.
static void on_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) fail(cinfo);
        cinfo->err->num_warnings++;
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void set_message(MagpieDecodedImage *out, const char *message) {
    snprintf(out->message, sizeof out->message, "%s", message);
}

// a * b / 255, rounded.
static inline int mul_div_255(int a, int b) {
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

// CMYK (ink amounts) to RGB: each channel is (255 - ink) scaled by (255 - black).
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, size_t width, int inverted) {
    for (size_t x = 0; x < width; x++, in += 4, out += 3) {
        int c = inverted ? 255 - in[0] : in[0];
        int m = inverted ? 255 - in[1] : in[1];
        int y = inverted ? 255 - in[2] : in[2];
        int k = inverted ? 255 - in[3] : in[3];
        int nk = 255 - k;
        out[0] = (uint8_t)(nk - mul_div_255(c, nk));
        out[1] = (uint8_t)(nk - mul_div_255(m, nk));
        out[2] = (uint8_t)(nk - mul_div_255(y, nk));
    }
}

void magpie_decode_jpeg(const uint8_t *data, size_t size, int32_t max_side, int64_t max_pixels,
                        MagpieDecodedImage *out) {
    struct jpeg_decompress_struct cinfo;
    magpie_jpeg_error err;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile cmyk_row = NULL;

    memset(out, 0, sizeof *out);
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = on_error_exit;
    err.mgr.emit_message = on_emit_message;
    err.mgr.output_message = on_output_message;
    err.status = MAGPIE_DECODE_CORRUPT;
    err.message[0] = '\0';

    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(cmyk_row);
        out->pixels = NULL;
        out->status = err.status;
        set_message(out, err.message);
        return;
    }

    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    out->width = (int32_t)cinfo.image_width;
    out->height = (int32_t)cinfo.image_height;
    if (cinfo.image_width > (JDIMENSION)max_side || cinfo.image_height > (JDIMENSION)max_side ||
        (int64_t)cinfo.image_width * (int64_t)cinfo.image_height > max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        out->status = MAGPIE_DECODE_TOO_LARGE;
        set_message(out, "image dimensions over the limit");
        return;
    }

    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default:
        jpeg_destroy_decompress(&cinfo);
        out->status = MAGPIE_DECODE_UNSUPPORTED;
        snprintf(out->message, sizeof out->message, "unsupported JPEG colour space with %d components",
                 cinfo.num_components);
        return;
    }

    jpeg_start_decompress(&cinfo);
    const size_t width = cinfo.output_width, height = cinfo.output_height;
    if ((int)cinfo.output_components != (cmyk ? 4 : 3)) {
        jpeg_destroy_decompress(&cinfo);
        out->status = MAGPIE_DECODE_UNSUPPORTED;
        set_message(out, "unexpected number of output components");
        return;
    }

    pixels = malloc(width * height * 3);
    if (cmyk) cmyk_row = malloc(width * 4);
    if (pixels == NULL || (cmyk && cmyk_row == NULL)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(cmyk_row);
        out->pixels = NULL;
        out->status = MAGPIE_DECODE_OUT_OF_MEMORY;
        set_message(out, "cannot allocate the pixel buffer");
        return;
    }

    // Photoshop and everything that copied it store CMYK inverted and say so with an Adobe marker.
    const int inverted = cinfo.saw_Adobe_marker ? 1 : 0;
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *row = pixels + (size_t)cinfo.output_scanline * width * 3;
        JSAMPROW target = cmyk ? (JSAMPROW)cmyk_row : (JSAMPROW)row;
        if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) {
            // Cannot happen with a memory source (it never suspends), but never loop forever.
            snprintf(err.message, sizeof err.message, "decoder returned no scanline");
            err.status = MAGPIE_DECODE_CORRUPT;
            longjmp(err.jump, 1);
        }
        if (cmyk) cmyk_row_to_rgb(cmyk_row, row, width, inverted);
    }

    // Every pixel is in. jpeg_finish_decompress would only read the trailing markers; skipping it leaves
    // bytes after the image alone. (A file cut just before EOI has normally failed already: the entropy
    // decoder's look-ahead runs into the end of the data, as in Pillow, which reports such files truncated.)
    jpeg_destroy_decompress(&cinfo);
    free(cmyk_row);
    out->pixels = pixels;
    out->width = (int32_t)width;
    out->height = (int32_t)height;
    out->status = MAGPIE_DECODE_OK;
}

void magpie_image_free(uint8_t *pixels) { free(pixels); }
