/* fuzz_options.c -- libFuzzer target for the options-by-name parser
 * (herd_options_set, herd_options_set_entry, herd_options_set_strings and
 * herd_options_get on an herd_options handle).
 *
 * Input: one byte choosing the operation (fit, csv, compare...), then
 * commands, each a tag byte and NUL-terminated strings:
 *   tag % 4 == 0   set NAME VALUE        (names may be nested: "fit.rounds")
 *   tag % 4 == 1   reset NAME            (herd_options_set with NULL)
 *   tag % 4 == 2   set_entry NAME KEY VALUE
 *   tag % 4 == 3   set_strings NAME A B  (two values)
 * Any command may be refused; none may crash or leak, a refusal leaves a
 * message, and afterwards every scalar option reads back as text that
 * herd_options_set accepts and that reads back the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/options_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct cursor {
    const char *p, *end;
} cursor;

/* The next NUL-terminated string, or NULL when the input ends first. */
static const char *next_string(cursor *c)
{
    const char *s = c->p;
    const char *nul = memchr(s, '\0', (size_t)(c->end - s));
    if (!nul) return NULL;
    c->p = nul + 1;
    return s;
}

static void expect_refusal_said(int rc)
{
    if (rc != HERD_OK && herd_last_error()[0] == '\0') abort();
}

static void run_command(herd_options *h, unsigned tag, cursor *c)
{
    const char *name = next_string(c), *a = NULL, *b = NULL, *v = NULL;
    if (!name) return;
    switch (tag & 3) {
    case 0:
        if ((a = next_string(c))) expect_refusal_said(herd_options_set(h, name, a));
        break;
    case 1:
        expect_refusal_said(herd_options_set(h, name, NULL));
        break;
    case 2:
        if ((a = next_string(c)) && (v = next_string(c)))
            expect_refusal_said(herd_options_set_entry(h, name, a, (tag & 4) ? NULL : v));
        break;
    default:
        if ((a = next_string(c)) && (b = next_string(c))) {
            const char *values[2] = {a, b};
            expect_refusal_said(herd_options_set_strings(h, name, values, 2));
        }
        break;
    }
}

/* Every scalar option of the handle's own struct reads back as text that
 * sets it to the same value. */
static void round_trip(herd_options *h, const hd_opt_struct *d)
{
    for (size_t i = 0; i < d->nopts; i++) {
        const hd_opt *o = &d->opts[i];
        if (o->type >= HD_OT_STRING_LIST) continue; /* lists and maps: JSON, own setters */
        char *text = NULL, *again = NULL;
        if (herd_options_get(h, o->name, &text) != HERD_OK) abort();
        if (text) {
            if (herd_options_set(h, o->name, text) != HERD_OK) abort();
            if (herd_options_get(h, o->name, &again) != HERD_OK || !again ||
                strcmp(text, again) != 0)
                abort();
        }
        herd_free(again);
        herd_free(text);
    }
    /* lists and maps at least read */
    for (size_t i = 0; i < d->nopts; i++) {
        const hd_opt *o = &d->opts[i];
        if (o->type < HD_OT_STRING_LIST || o->type > HD_OT_TYPE_MAP) continue;
        char *text = NULL;
        if (herd_options_get(h, o->name, &text) != HERD_OK) abort();
        herd_free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t nops = 0;
    while (hd_options_all[nops]) nops++;
    const hd_opt_struct *d = hd_options_all[data[0] % nops];
    herd_options *h = NULL;
    if (herd_options_new(d->operation, &h) != HERD_OK) abort();
    char *copy = malloc(size);
    if (!copy) {
        herd_options_free(h);
        return 0;
    }
    memcpy(copy, data, size);
    cursor c = {copy + 1, copy + size};
    while (c.p < c.end) {
        unsigned tag = (unsigned char)*c.p++;
        run_command(h, tag, &c);
    }
    round_trip(h, d);
    if (!herd_options_struct(h, d->operation)) abort();
    herd_options_free(h);
    free(copy);
    return 0;
}
