/* fuzz_csv.c -- libFuzzer target for the CSV reader
 * (herd_frame_read_csv_buffer: the tokenizer, type inference, conversion).
 *
 * The first byte chooses the options: the delimiter (',', ';', tab, '|')
 * and whether the first column is forced to int64, float64 or string (a
 * forced type is how a caller overrides inference, and has its own error
 * paths); the rest is the CSV text.  Any input may be refused; none may
 * crash, read out of bounds or leak, and one that reads must give a frame
 * whose every cell answers its accessor with the column's type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every cell through the typed accessor of its column: a read frame holds
 * exactly what its column types say. */
static void walk(const herd_frame *f)
{
    size_t rows = herd_frame_row_count(f), cols = herd_frame_column_count(f);
    for (size_t c = 0; c < cols; c++) {
        const char *name = herd_frame_column_name(f, c);
        size_t found = 0;
        if (!name || herd_frame_find(f, name, &found) != HERD_OK) abort();
        int type = herd_frame_column_type(f, c);
        for (size_t r = 0; r < rows; r++) {
            int rc;
            if (type == HERD_TYPE_FLOAT64) {
                double v;
                rc = herd_frame_get_double(f, c, r, &v);
            } else if (type == HERD_TYPE_INT64) {
                int64_t v;
                rc = herd_frame_get_int64(f, c, r, &v);
            } else if (type == HERD_TYPE_STRING) {
                const char *v = NULL;
                rc = herd_frame_get_string(f, c, r, &v);
            } else {
                abort(); /* the reader makes no other type */
            }
            if (rc != HERD_OK && rc != HERD_MISSING) abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char delimiters[4] = {',', ';', '\t', '|'};
    static const int forced[4] = {-1, HERD_TYPE_INT64, HERD_TYPE_FLOAT64, HERD_TYPE_STRING};
    herd_csv_options opt;
    if (herd_csv_options_init(&opt, HERD_CSV_OPTIONS_VERSION)) abort();
    opt.delimiter = delimiters[data[0] & 3];
    /* Force the type of the column named by the first header field, as a
     * caller would (the name is taken from the input itself, so that the
     * forced column usually exists). */
    char first[64] = "a";
    const char *names[1] = {first};
    int types[1];
    if (forced[(data[0] >> 2) & 3] >= 0) {
        size_t n = 0;
        while (n + 1 < size && n < sizeof first - 1 && data[1 + n] != (uint8_t)opt.delimiter &&
               data[1 + n] != '\n' && data[1 + n] != '\r' && data[1 + n] != '"' && data[1 + n])
            n++;
        if (n) {
            memcpy(first, data + 1, n);
            first[n] = '\0';
        }
        types[0] = forced[(data[0] >> 2) & 3];
        opt.type_names = names;
        opt.types = types;
        opt.n_types = 1;
    }
    herd_frame *f = NULL;
    int rc = herd_frame_read_csv_buffer((const char *)data + 1, size - 1, "fuzz.csv", &opt, &f);
    if (rc == HERD_OK) {
        walk(f);
        herd_frame_free(f);
    } else if (f || herd_last_error()[0] == '\0') {
        abort(); /* a failure leaves *out NULL and says why */
    }
    return 0;
}
