/* options.c -- versioned options structs: init, the one reader, checks.
 *
 * options_internal.h explains the mechanism; options_table.c holds the
 * descriptors.  Nothing here knows a particular struct.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/number_internal.h"
#include "common/options_internal.h"

/* A version above this is not a plausible future version but garbage or an
 * uninitialised struct; the message says so. */
#define HD_OPT_PLAUSIBLE_VERSION 1000u

/* The message prefix: "fn: ", or nothing without a function name. */
#define HD_FN(fn) (fn) ? (fn) : "", (fn) ? ": " : ""

size_t hd_opt_type_size(hd_opt_type t)
{
    switch (t) {
    case HD_OT_BOOL:
    case HD_OT_INT:
    case HD_OT_ENUM: return sizeof(int);
    case HD_OT_INT64: return sizeof(int64_t);
    case HD_OT_UINT64: return sizeof(uint64_t);
    case HD_OT_SIZE: return sizeof(size_t);
    case HD_OT_DOUBLE: return sizeof(double);
    case HD_OT_CHAR: return sizeof(char);
    case HD_OT_FLAGS: return sizeof(uint32_t);
    case HD_OT_PROGRESS: return sizeof(herd_progress_fn);
    case HD_OT_STRING:
    case HD_OT_STRING_LIST:
    case HD_OT_STRING_MAP:
    case HD_OT_NUMBER_MAP:
    case HD_OT_TYPE_MAP:
    case HD_OT_POINTER:
    case HD_OT_OPTIONS: return sizeof(void *);
    }
    return 0;
}

const char *hd_opt_type_name(hd_opt_type t)
{
    switch (t) {
    case HD_OT_BOOL: return "bool";
    case HD_OT_INT: return "int";
    case HD_OT_INT64: return "int64";
    case HD_OT_UINT64: return "uint64";
    case HD_OT_SIZE: return "size";
    case HD_OT_DOUBLE: return "double";
    case HD_OT_CHAR: return "char";
    case HD_OT_ENUM: return "enum";
    case HD_OT_FLAGS: return "flags";
    case HD_OT_STRING: return "string";
    case HD_OT_STRING_LIST: return "string_list";
    case HD_OT_STRING_MAP: return "string_map";
    case HD_OT_NUMBER_MAP: return "number_map";
    case HD_OT_TYPE_MAP: return "type_map";
    case HD_OT_POINTER: return "pointer";
    case HD_OT_PROGRESS: return "progress";
    case HD_OT_OPTIONS: return "options";
    }
    return "unknown";
}

static int hd_opt_has_values(const hd_opt *o)
{
    return o->type == HD_OT_STRING_MAP || o->type == HD_OT_NUMBER_MAP ||
           o->type == HD_OT_TYPE_MAP || o->type == HD_OT_PROGRESS;
}

static int hd_opt_has_count(const hd_opt *o)
{
    return o->type == HD_OT_STRING_LIST || o->type == HD_OT_STRING_MAP ||
           o->type == HD_OT_NUMBER_MAP || o->type == HD_OT_TYPE_MAP;
}

/* One past the last byte of the fields of `d` that `version` has. */
static size_t hd_opt_extent(const hd_opt_struct *d, unsigned version)
{
    size_t end = sizeof(uint32_t);
    for (size_t i = 0; i < d->nopts; i++) {
        const hd_opt *o = &d->opts[i];
        if (o->since > version) continue;
        size_t e = o->off + hd_opt_type_size(o->type);
        if (hd_opt_has_values(o) && o->off_values + sizeof(void *) > e)
            e = o->off_values + sizeof(void *);
        if (hd_opt_has_count(o) && o->off_count + sizeof(size_t) > e)
            e = o->off_count + sizeof(size_t);
        if (e > end) end = e;
    }
    return end;
}

/* ---- the version check ---------------------------------------------------- */

static int hd_opt_version_error(const hd_opt_struct *d, uint32_t version, const char *fn)
{
    char known[32];
    if (d->version == 1)
        snprintf(known, sizeof known, "1");
    else
        snprintf(known, sizeof known, "1..%u", d->version);
    const char *why = version == 0 ? " (a struct that was never initialised)"
                      : version > HD_OPT_PLAUSIBLE_VERSION
                          ? " (a struct that was never initialised or was overwritten)"
                          : " (a program built against a newer herd.h than the library "
                            "it runs with)";
    return hd_error(HERD_EINVAL,
                    "%s%s%s: version %u is not one this library (%s) knows (%s)%s; "
                    "initialise with %s(&opt, %s)",
                    fn ? fn : "", fn ? ": " : "", d->type_name, (unsigned)version,
                    herd_version_string(), known, why, d->init_name, d->version_macro);
}

static int hd_opt_version_ok(const hd_opt_struct *d, uint32_t version)
{
    return version >= 1 && version <= d->version;
}

/* ---- defaults --------------------------------------------------------------- */

static void hd_opt_store_default(const hd_opt *o, unsigned char *s)
{
    unsigned char *p = s + o->off;
    switch (o->type) {
    case HD_OT_BOOL:
    case HD_OT_INT:
    case HD_OT_ENUM: {
        int v = (int)o->def;
        memcpy(p, &v, sizeof v);
        break;
    }
    case HD_OT_INT64: {
        int64_t v = (int64_t)o->def;
        memcpy(p, &v, sizeof v);
        break;
    }
    case HD_OT_UINT64: {
        uint64_t v = (uint64_t)o->def;
        memcpy(p, &v, sizeof v);
        break;
    }
    case HD_OT_SIZE: {
        size_t v = (size_t)o->def;
        memcpy(p, &v, sizeof v);
        break;
    }
    case HD_OT_DOUBLE: memcpy(p, &o->def, sizeof o->def); break;
    case HD_OT_CHAR: {
        char v = (char)o->def;
        memcpy(p, &v, sizeof v);
        break;
    }
    case HD_OT_FLAGS: {
        uint32_t v = (uint32_t)o->def;
        memcpy(p, &v, sizeof v);
        break;
    }
    case HD_OT_STRING: memcpy(p, &o->def_text, sizeof o->def_text); break;
    default: break; /* lists, maps, pointers, callbacks: zero (NULL, 0) */
    }
}

/* Write zeroes and the defaults of every field `version` has. */
static void hd_opt_fill(const hd_opt_struct *d, void *opt, unsigned version)
{
    unsigned char *s = opt;
    memset(s, 0, hd_opt_extent(d, version));
    uint32_t v = version;
    memcpy(s, &v, sizeof v);
    for (size_t i = 0; i < d->nopts; i++)
        if (d->opts[i].since <= version) hd_opt_store_default(&d->opts[i], s);
}

void hd_options_defaults(const hd_opt_struct *d, void *out)
{
    memset(out, 0, d->size);
    hd_opt_fill(d, out, d->version);
}

int hd_options_init(const hd_opt_struct *d, void *opt, unsigned version)
{
    if (!opt)
        return hd_error(HERD_EINVAL, "%s: argument 'opt' is NULL; pass the address of a %s",
                        d->init_name, d->type_name);
    if (!hd_opt_version_ok(d, version)) {
        hd_opt_version_error(d, version, NULL);
        return hd_error_prefix("%s: ", d->init_name);
    }
    hd_opt_fill(d, opt, version);
    return HERD_OK;
}

/* ---- messages: numbers the same in every locale ------------------------------ */

void hd_opt_fmt_double(double v, char *buf, size_t size)
{
    if (isnan(v) || isinf(v)) {
        snprintf(buf, size, "%s", isnan(v) ? "nan" : v < 0 ? "-inf" : "inf");
        return;
    }
    /* The number module's shortest exact text, '.' in every locale. */
    snprintf(buf, size, "%s", HD_NUM_JSON(v));
}

static int hd_opt_is_integer(hd_opt_type t)
{
    return t == HD_OT_INT || t == HD_OT_INT64 || t == HD_OT_UINT64 || t == HD_OT_SIZE ||
           t == HD_OT_CHAR;
}

/* A bound of an integer option: "no limit" past 2^62, the integer otherwise. */
static void hd_opt_fmt_int_bound(double b, char *buf, size_t size)
{
    if (b >= 0x1p62)
        snprintf(buf, size, "%s", "no limit");
    else
        snprintf(buf, size, "%s", HD_NUMF("%.0f", b));
}

void hd_opt_bounds_text(const hd_opt *o, char *buf, size_t size)
{
    char lo[40], hi[40];
    if (hd_opt_is_integer(o->type)) {
        hd_opt_fmt_int_bound(o->min, lo, sizeof lo);
        hd_opt_fmt_int_bound(o->max, hi, sizeof hi);
        if (o->max >= 0x1p62)
            snprintf(buf, size, "an integer >= %s", lo);
        else
            snprintf(buf, size, "an integer in %s..%s", lo, hi);
        return;
    }
    if (o->type == HD_OT_BOOL) {
        snprintf(buf, size, "0 or 1");
        return;
    }
    hd_opt_fmt_double(o->min, lo, sizeof lo);
    hd_opt_fmt_double(o->max, hi, sizeof hi);
    if (isinf(o->min) && isinf(o->max))
        snprintf(buf, size, "a number (not NaN)");
    else
        snprintf(buf, size, "a number in %c%s, %s%c", (o->flags & HD_OF_MIN_OPEN) ? '(' : '[',
                 lo, hi, (o->flags & HD_OF_MAX_OPEN) ? ')' : ']');
}

/* ---- checks ------------------------------------------------------------------- */

static int hd_opt_in_bounds(const hd_opt *o, double v)
{
    if (isnan(v)) return 0;
    if ((o->flags & HD_OF_MIN_OPEN) ? !(v > o->min) : !(v >= o->min)) return 0;
    if ((o->flags & HD_OF_MAX_OPEN) ? !(v < o->max) : !(v <= o->max)) return 0;
    return 1;
}

static int hd_opt_out_of_bounds(const hd_opt_struct *d, const hd_opt *o, const char *value,
                                const char *fn)
{
    char bounds[96];
    hd_opt_bounds_text(o, bounds, sizeof bounds);
    return hd_error(HERD_EINVAL, "%s%s%s.%s is %s; give %s (%s)", HD_FN(fn), d->type_name, o->name,
                    value, bounds, o->doc);
}

static void hd_opt_names_text(const hd_opt *o, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const hd_opt_name *n = o->names; n && n->name; n++) {
        int w = snprintf(buf + used, size - used, "%s%s (%lld)", used ? ", " : "", n->name,
                         (long long)n->value);
        if (w < 0 || (size_t)w >= size - used) break;
        used += (size_t)w;
    }
}

static int hd_opt_check_enum(const hd_opt_struct *d, const hd_opt *o, int v, const char *fn)
{
    for (const hd_opt_name *n = o->names; n && n->name; n++)
        if (n->value == v) return HERD_OK;
    char names[256];
    hd_opt_names_text(o, names, sizeof names);
    return hd_error(HERD_EINVAL, "%s%s%s.%s is %d; give one of %s (%s)", HD_FN(fn), d->type_name,
                    o->name, v, names, o->doc);
}

static int hd_opt_check_flags(const hd_opt_struct *d, const hd_opt *o, uint32_t v,
                              const char *fn)
{
    uint32_t known = 0;
    for (const hd_opt_name *n = o->names; n && n->name; n++) known |= (uint32_t)n->value;
    if (!(v & ~known)) return HERD_OK;
    char names[256];
    hd_opt_names_text(o, names, sizeof names);
    return hd_error(HERD_EINVAL, "%s%s%s.%s is 0x%X: bits 0x%X are not flags this library "
                    "knows; combine %s (%s)", HD_FN(fn), d->type_name, o->name, (unsigned)v,
                    (unsigned)(v & ~known), names, o->doc);
}

static const char *hd_opt_field_at(const char *fields, int index, char *buf, size_t size)
{
    const char *p = fields;
    for (int i = 0; i < index && p; i++) {
        p = strchr(p, ',');
        if (p) p++;
    }
    if (!p) return fields;
    size_t n = strcspn(p, ",");
    if (n >= size) n = size - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

/* Lists and maps: a count needs its arrays, and no entry may be NULL. */
static int hd_opt_check_list(const hd_opt_struct *d, const hd_opt *o, const unsigned char *s,
                             const char *fn)
{
    const void *keys, *values = NULL;
    size_t n;
    memcpy(&keys, s + o->off, sizeof keys);
    memcpy(&n, s + o->off_count, sizeof n);
    if (hd_opt_has_values(o)) memcpy(&values, s + o->off_values, sizeof values);
    char kname[64], vname[64], cname[64];
    hd_opt_field_at(o->fields, 0, kname, sizeof kname);
    hd_opt_field_at(o->fields, 1, vname, sizeof vname);
    hd_opt_field_at(o->fields, hd_opt_has_values(o) ? 2 : 1, cname, sizeof cname);
    if (n == 0) return HERD_OK;
    if (!keys)
        return hd_error(HERD_EINVAL, "%s%s%s.%s is NULL but %s is %zu (%s)", HD_FN(fn), d->type_name,
                        kname, cname, n, o->doc);
    if (hd_opt_has_values(o) && !values)
        return hd_error(HERD_EINVAL, "%s%s%s.%s is NULL but %s is %zu (%s)", HD_FN(fn), d->type_name,
                        vname, cname, n, o->doc);
    const char *const *k = keys;
    for (size_t i = 0; i < n; i++) {
        if (!k[i])
            return hd_error(HERD_EINVAL, "%s%s%s.%s[%zu] is NULL (%s)", HD_FN(fn), d->type_name, kname,
                            i, o->doc);
        if (o->type == HD_OT_STRING_MAP && !((const char *const *)values)[i])
            return hd_error(HERD_EINVAL, "%s%s%s.%s[%zu] is NULL (the value of '%s')", HD_FN(fn),
                            d->type_name, vname, i, k[i]);
        if (o->type == HD_OT_TYPE_MAP) {
            int t = ((const int *)values)[i];
            if (t < HERD_TYPE_FLOAT32 || t > HERD_TYPE_STRING)
                return hd_error(HERD_EINVAL, "%s%s%s.%s[%zu] is %d, not a herd_type "
                                "(HERD_TYPE_FLOAT32 .. HERD_TYPE_STRING), for column '%s'",
                                HD_FN(fn), d->type_name, vname, i, t, k[i]);
        }
    }
    return HERD_OK;
}

int hd_option_check(const hd_opt_struct *d, const hd_opt *o, const void *opt, const char *fn)
{
    const unsigned char *p = (const unsigned char *)opt + o->off;
    char text[48];
    switch (o->type) {
    case HD_OT_BOOL:
    case HD_OT_INT: {
        int v;
        memcpy(&v, p, sizeof v);
        snprintf(text, sizeof text, "%d", v);
        if (o->type == HD_OT_BOOL ? (v != 0 && v != 1) : !hd_opt_in_bounds(o, v))
            return hd_opt_out_of_bounds(d, o, text, fn);
        return HERD_OK;
    }
    case HD_OT_INT64: {
        int64_t v;
        memcpy(&v, p, sizeof v);
        snprintf(text, sizeof text, "%lld", (long long)v);
        return hd_opt_in_bounds(o, (double)v) ? HERD_OK : hd_opt_out_of_bounds(d, o, text, fn);
    }
    case HD_OT_UINT64: {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        snprintf(text, sizeof text, "%llu", (unsigned long long)v);
        return hd_opt_in_bounds(o, (double)v) ? HERD_OK : hd_opt_out_of_bounds(d, o, text, fn);
    }
    case HD_OT_SIZE: {
        size_t v;
        memcpy(&v, p, sizeof v);
        snprintf(text, sizeof text, "%zu", v);
        return hd_opt_in_bounds(o, (double)v) ? HERD_OK : hd_opt_out_of_bounds(d, o, text, fn);
    }
    case HD_OT_DOUBLE: {
        double v;
        memcpy(&v, p, sizeof v);
        hd_opt_fmt_double(v, text, sizeof text);
        return hd_opt_in_bounds(o, v) ? HERD_OK : hd_opt_out_of_bounds(d, o, text, fn);
    }
    case HD_OT_CHAR: {
        unsigned char v = *p;
        snprintf(text, sizeof text, "0x%02X", (unsigned)v);
        return hd_opt_in_bounds(o, v) ? HERD_OK : hd_opt_out_of_bounds(d, o, text, fn);
    }
    case HD_OT_ENUM: {
        int v;
        memcpy(&v, p, sizeof v);
        return hd_opt_check_enum(d, o, v, fn);
    }
    case HD_OT_FLAGS: {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return hd_opt_check_flags(d, o, v, fn);
    }
    case HD_OT_STRING_LIST:
    case HD_OT_STRING_MAP:
    case HD_OT_NUMBER_MAP:
    case HD_OT_TYPE_MAP: return hd_opt_check_list(d, o, opt, fn);
    case HD_OT_STRING:
    case HD_OT_POINTER:
    case HD_OT_PROGRESS:
    case HD_OT_OPTIONS: return HERD_OK; /* the modules check what they point to */
    }
    return hd_error(HERD_EINTERNAL, "%s%s%s.%s has no type", HD_FN(fn), d->type_name, o->name);
}

/* ---- the reader ------------------------------------------------------------------ */

static void hd_opt_copy(const hd_opt *o, unsigned char *dst, const unsigned char *src)
{
    memcpy(dst + o->off, src + o->off, hd_opt_type_size(o->type));
    if (hd_opt_has_values(o))
        memcpy(dst + o->off_values, src + o->off_values, sizeof(void *));
    if (hd_opt_has_count(o)) memcpy(dst + o->off_count, src + o->off_count, sizeof(size_t));
}

int hd_options_read(const hd_opt_struct *d, const void *in, void *out, const char *fn)
{
    hd_options_defaults(d, out);
    if (!in) return HERD_OK;
    uint32_t version;
    memcpy(&version, in, sizeof version);
    if (!hd_opt_version_ok(d, version)) return hd_opt_version_error(d, version, fn);
    for (size_t i = 0; i < d->nopts; i++)
        if (d->opts[i].since <= version) hd_opt_copy(&d->opts[i], out, in);
    for (size_t i = 0; i < d->nopts; i++) {
        int rc = hd_option_check(d, &d->opts[i], out, fn);
        if (rc) return rc;
    }
    return HERD_OK;
}

/* ---- lookup -------------------------------------------------------------------- */

const hd_opt *hd_option_find(const hd_opt_struct *d, const char *name)
{
    for (size_t i = 0; i < d->nopts; i++)
        if (!strcmp(d->opts[i].name, name)) return &d->opts[i];
    return NULL;
}

const hd_opt_struct *hd_options_find(const char *operation)
{
    for (size_t i = 0; hd_options_all[i]; i++)
        if (!strcmp(hd_options_all[i]->operation, operation)) return hd_options_all[i];
    return NULL;
}
