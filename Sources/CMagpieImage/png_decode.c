// PNG decoding through libpng with setjmp/longjmp error recovery.
#include "CMagpieImage.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct magpie_png_source {
    const uint8_t *data;
    size_t size;
    size_t position;
} magpie_png_source;

typedef struct magpie_png_error {
    jmp_buf jump;
    int status;
    char message[256];
} magpie_png_error;

// libpng's error callback must not return: record the message and unwind to magpie_decode_png.
static void on_png_error(png_structp png, png_const_charp message) {
    magpie_png_error *err = (magpie_png_error *)png_get_error_ptr(png);
    snprintf(err->message, sizeof err->message, "%s", message ? message : "unknown libpng error");
    longjmp(err->jump, 1);
}

static void on_png_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void read_from_memory(png_structp png, png_bytep target, size_t count) {
    magpie_png_source *source = (magpie_png_source *)png_get_io_ptr(png);
    if (count > source->size - source->position) png_error(png, "Premature end of PNG file");
    memcpy(target, source->data + source->position, count);
    source->position += count;
}

void magpie_decode_png(const uint8_t *data, size_t size, int32_t max_side, int64_t max_pixels,
                       MagpieDecodedImage *out) {
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        out->status = MAGPIE_DECODE_CORRUPT;
        snprintf(out->message, sizeof out->message, "missing PNG signature");
        return;
    }

    magpie_png_error err;
    err.status = MAGPIE_DECODE_CORRUPT;
    err.message[0] = '\0';
    magpie_png_source source = {data, size, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_png_error, on_png_warning);
    if (png == NULL) {
        out->status = MAGPIE_DECODE_OUT_OF_MEMORY;
        snprintf(out->message, sizeof out->message, "cannot create the PNG reader");
        return;
    }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        out->status = MAGPIE_DECODE_OUT_OF_MEMORY;
        snprintf(out->message, sizeof out->message, "cannot create the PNG reader");
        return;
    }
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;

    if (setjmp(err.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(pixels);
        out->pixels = NULL;
        out->status = err.status;
        snprintf(out->message, sizeof out->message, "%s", err.message);
        return;
    }

    png_set_read_fn(png, &source, read_from_memory);
    // Dimension limits are checked below so that they are reported as such, not as a libpng error.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    out->width = (int32_t)width;
    out->height = (int32_t)height;
    if (width > (png_uint_32)max_side || height > (png_uint_32)max_side ||
        (int64_t)width * (int64_t)height > max_pixels) {
        png_destroy_read_struct(&png, &info, NULL);
        out->status = MAGPIE_DECODE_TOO_LARGE;
        snprintf(out->message, sizeof out->message, "image dimensions over the limit");
        return;
    }

    // Everything becomes 8-bit RGB: palettes and low-bit grey expand, 16-bit keeps the high byte, grey is
    // replicated, alpha and tRNS transparency are dropped. No gamma or colour-profile conversion.
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) png_set_strip_16(png);
    if ((color_type & PNG_COLOR_MASK_ALPHA) != 0 || png_get_valid(png, info, PNG_INFO_tRNS) != 0)
        png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)width * 3) {
        err.status = MAGPIE_DECODE_UNSUPPORTED;
        png_error(png, "PNG layout cannot be converted to 8-bit RGB");
    }

    pixels = malloc((size_t)width * height * 3);
    rows = malloc((size_t)height * sizeof(png_bytep));
    if (pixels == NULL || rows == NULL) {
        err.status = MAGPIE_DECODE_OUT_OF_MEMORY;
        png_error(png, "cannot allocate the pixel buffer");
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * width * 3;
    png_read_image(png, rows);

    // Chunks after the image data (text, time) are not needed; not reading them also tolerates a missing IEND.
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->pixels = pixels;
    out->status = MAGPIE_DECODE_OK;
}
