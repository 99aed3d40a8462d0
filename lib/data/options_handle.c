/* options_handle.c -- options by name, for the bindings.
 *
 * A herd_options handle owns one options struct of one operation ("fit",
 * "compare"...) and everything it points to (copied strings, the arrays of
 * lists and maps, a nested struct).  Options are set by the names of the
 * one table (options_table.c), text parsed the same in every locale; the
 * handle's struct is then passed to herd_fit & co. like any other, so a
 * binding never mirrors a C struct layout.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/options_internal.h"
#include "common/text_internal.h"

/* The arrays behind one list or map option. */
typedef struct hd_opt_store {
    const char **keys;  /* list entries, or map keys */
    void *values;       /* maps: const char * / double / int per key */
    size_t n, cap;
} hd_opt_store;

struct herd_options {
    const hd_opt_struct *desc;
    void *s;               /* the struct, desc->size bytes */
    hd_arena *arena;       /* every string the struct points to */
    hd_opt_store *stores;  /* per option */
    herd_options **nested; /* per option: HD_OT_OPTIONS children, or NULL */
};

/* ---- names: lookup and "did you mean" ------------------------------------------ */

static int hd_unknown_option(const hd_opt_struct *d, const char *name, const char *fn)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    char list[1024];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < d->nopts; i++) {
        size_t dist = hd_edit_distance(name, d->opts[i].name);
        if (dist < best_d) {
            best_d = dist;
            best = d->opts[i].name;
        }
        int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                         d->opts[i].name);
        if (w > 0 && (size_t)w < sizeof list - used) used += (size_t)w;
    }
    return hd_error(HERD_EINVAL, "%s: %s has no option '%s'; did you mean '%s'? (its "
                    "options: %s)", fn, d->operation, name, best ? best : "", list);
}

static int hd_unknown_operation(const char *operation, const char *fn)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    char list[512];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; hd_options_all[i]; i++) {
        const char *op = hd_options_all[i]->operation;
        size_t dist = hd_edit_distance(operation, op);
        if (dist < best_d) {
            best_d = dist;
            best = op;
        }
        int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", op);
        if (w > 0 && (size_t)w < sizeof list - used) used += (size_t)w;
    }
    return hd_error(HERD_EINVAL, "%s: no operation '%s'; did you mean '%s'? (operations: %s)",
                    fn, operation, best ? best : "", list);
}

static int hd_lookup_operation(const char *operation, const char *fn, const hd_opt_struct **d)
{
    *d = hd_options_find(operation);
    return *d ? HERD_OK : hd_unknown_operation(operation, fn);
}

/* The option `name` of `d`; "compare.metric" names an option of a nested
 * struct: *d becomes the nested descriptor and *parent the option that
 * holds it (NULL for a plain name). */
static int hd_lookup_option(const hd_opt_struct **d, const char *name, const char *fn,
                            const hd_opt **parent, const hd_opt **o)
{
    *parent = NULL;
    const char *dot = strchr(name, '.');
    if (dot) {
        char head[64];
        size_t n = (size_t)(dot - name);
        if (n >= sizeof head) n = sizeof head - 1;
        memcpy(head, name, n);
        head[n] = '\0';
        const hd_opt *p = hd_option_find(*d, head);
        if (!p) return hd_unknown_option(*d, head, fn);
        if (p->type != HD_OT_OPTIONS)
            return hd_error(HERD_EINVAL, "%s: option '%s' of %s is a %s, not nested options; "
                            "name it without '.'", fn, head, (*d)->operation,
                            hd_opt_type_name(p->type));
        *parent = p;
        *d = p->nested;
        name = dot + 1;
    }
    *o = hd_option_find(*d, name);
    return *o ? HERD_OK : hd_unknown_option(*d, name, fn);
}

/* ---- the handle ------------------------------------------------------------------ */

int herd_options_new(const char *operation, herd_options **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(operation);
    const hd_opt_struct *d;
    int rc = hd_lookup_operation(operation, __func__, &d);
    if (rc) return rc;
    herd_options *h = hd_calloc(1, sizeof *h);
    if (!h) return HERD_ENOMEM;
    h->desc = d;
    h->s = hd_calloc(1, d->size);
    h->arena = hd_arena_new();
    h->stores = hd_calloc(d->nopts, sizeof *h->stores);
    h->nested = hd_calloc(d->nopts, sizeof *h->nested);
    if (!h->s || !h->arena || !h->stores || !h->nested) {
        herd_options_free(h);
        return HERD_ENOMEM;
    }
    hd_options_defaults(d, h->s);
    *out = h;
    return HERD_OK;
}

void herd_options_free(herd_options *opt)
{
    if (!opt) return;
    for (size_t i = 0; opt->stores && i < opt->desc->nopts; i++) {
        free(opt->stores[i].keys);
        free(opt->stores[i].values);
    }
    for (size_t i = 0; opt->nested && i < opt->desc->nopts; i++)
        herd_options_free(opt->nested[i]);
    free(opt->stores);
    free(opt->nested);
    hd_arena_free(opt->arena);
    free(opt->s);
    free(opt);
}

const char *herd_options_operation(const herd_options *opt)
{
    return opt ? opt->desc->operation : NULL;
}

const void *herd_options_struct(const herd_options *opt, const char *operation)
{
    if (!opt || !operation) {
        hd_error(HERD_EINVAL, "%s: argument '%s' is NULL", __func__, opt ? "operation" : "opt");
        return NULL;
    }
    if (strcmp(operation, opt->desc->operation)) {
        hd_error(HERD_EINVAL, "%s: the handle holds %s options (%s), not %s options", __func__,
                 opt->desc->operation, opt->desc->type_name, operation);
        return NULL;
    }
    return opt->s;
}

/* The handle that holds option `o` of a dotted name: the nested child,
 * created on first use and linked into the parent's struct. */
static int hd_target(herd_options *h, const hd_opt *parent, herd_options **out)
{
    *out = h;
    if (!parent) return HERD_OK;
    size_t i = (size_t)(parent - h->desc->opts);
    if (!h->nested[i]) {
        int rc = herd_options_new(parent->nested->operation, &h->nested[i]);
        if (rc) return rc;
        const void *p = h->nested[i]->s;
        memcpy((char *)h->s + parent->off, &p, sizeof p);
    }
    *out = h->nested[i];
    return HERD_OK;
}

/* ---- parsing text, the same in every locale --------------------------------------- */

static int hd_ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        int x = *a, y = *b;
        if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
        if (x != y) return 0;
    }
    return *a == *b;
}

static int hd_parse_int64(const char *t, long long *v)
{
    if (!*t || (*t != '-' && *t != '+' && (*t < '0' || *t > '9'))) return 0;
    char *end;
    errno = 0;
    *v = strtoll(t, &end, 10);
    return !errno && !*end;
}

static int hd_parse_uint64(const char *t, unsigned long long *v)
{
    if (!*t || *t < '0' || *t > '9') return 0; /* strtoull would take "-1" */
    char *end;
    errno = 0;
    *v = strtoull(t, &end, 10);
    return !errno && !*end;
}

/* A number through the one number module (the same in every locale),
 * spaces around it ignored; never NaN, and never a finite text that
 * overflowed to infinity or underflowed to zero. */
static int hd_parse_double(const char *t, double *v)
{
    size_t len = strlen(t);
    int range;
    hd_num_trim(&t, &len);
    return hd_num_parse_f64(t, len, v, &range) == 0 && range == HD_NUM_IN_RANGE && !isnan(*v);
}

static int hd_parse_bool(const char *t, int *v)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (hd_ascii_ieq(t, yes[i])) return *v = 1, 1;
        if (hd_ascii_ieq(t, no[i])) return *v = 0, 1;
    }
    return 0;
}

static int hd_parse_name(const hd_opt *o, const char *t, size_t len, int64_t *v)
{
    for (const hd_opt_name *n = o->names; n && n->name; n++)
        if (strlen(n->name) == len && !strncmp(n->name, t, len)) return *v = n->value, 1;
    return 0;
}

/* Flags: names joined by '|' (or ','), or an integer; "" is none. */
static int hd_parse_flags(const hd_opt *o, const char *t, uint32_t *v)
{
    unsigned long long n;
    if (hd_parse_uint64(t, &n)) {
        if (n > UINT32_MAX) return 0;
        *v = (uint32_t)n;
        return 1;
    }
    uint32_t acc = 0;
    while (*t) {
        size_t len = strcspn(t, "|,");
        int64_t bit;
        if (!hd_parse_name(o, t, len, &bit)) return 0;
        acc |= (uint32_t)bit;
        t += len;
        if (*t) t++;
    }
    *v = acc;
    return 1;
}

static void hd_names_list(const hd_opt *o, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const hd_opt_name *n = o->names; n && n->name; n++) {
        int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", n->name);
        if (w > 0 && (size_t)w < size - used) used += (size_t)w;
    }
}

/* What a value of option `o` should look like, for messages. */
static void hd_expected(const hd_opt *o, char *buf, size_t size)
{
    char names[256];
    switch (o->type) {
    case HD_OT_ENUM:
        hd_names_list(o, names, sizeof names);
        snprintf(buf, size, "one of %s", names);
        return;
    case HD_OT_FLAGS:
        hd_names_list(o, names, sizeof names);
        snprintf(buf, size, "flags joined by '|' (%s), or \"\" for none", names);
        return;
    case HD_OT_CHAR:
        snprintf(buf, size, "one ASCII character");
        return;
    case HD_OT_BOOL:
        snprintf(buf, size, "true or false (1/0, yes/no, on/off)");
        return;
    default: hd_opt_bounds_text(o, buf, size); return;
    }
}

static int hd_bad_value(const hd_opt_struct *d, const hd_opt *o, const char *value,
                        const char *why, const char *fn)
{
    char expected[320];
    hd_expected(o, expected, sizeof expected);
    return hd_error(HERD_EINVAL, "%s: option '%s' of %s: '%s' %s; give %s (%s)", fn, o->name,
                    d->operation, value, why, expected, o->doc);
}

/* Write the scalar `value` of option `o` into `field`. */
static int hd_parse_scalar(const hd_opt_struct *d, const hd_opt *o, const char *value,
                           unsigned char *field, const char *fn)
{
    long long i;
    unsigned long long u;
    double x;
    int b;
    int64_t e;
    uint32_t f;
    switch (o->type) {
    case HD_OT_BOOL:
        if (!hd_parse_bool(value, &b)) return hd_bad_value(d, o, value, "is not a boolean", fn);
        memcpy(field, &b, sizeof b);
        return HERD_OK;
    case HD_OT_INT:
        if (!hd_parse_int64(value, &i)) return hd_bad_value(d, o, value, "is not an integer", fn);
        if (i < INT_MIN || i > INT_MAX) return hd_bad_value(d, o, value, "is out of bounds", fn);
        b = (int)i;
        memcpy(field, &b, sizeof b);
        return HERD_OK;
    case HD_OT_INT64:
        if (!hd_parse_int64(value, &i)) return hd_bad_value(d, o, value, "is not an integer", fn);
        e = (int64_t)i;
        memcpy(field, &e, sizeof e);
        return HERD_OK;
    case HD_OT_UINT64:
    case HD_OT_SIZE:
        if (!hd_parse_uint64(value, &u))
            return hd_bad_value(d, o, value, "is not an integer >= 0", fn);
        if (o->type == HD_OT_UINT64) {
            uint64_t v = u;
            memcpy(field, &v, sizeof v);
        } else {
            if (u > SIZE_MAX) return hd_bad_value(d, o, value, "is out of bounds", fn);
            size_t v = (size_t)u;
            memcpy(field, &v, sizeof v);
        }
        return HERD_OK;
    case HD_OT_DOUBLE:
        if (!hd_parse_double(value, &x)) return hd_bad_value(d, o, value, "is not a number", fn);
        memcpy(field, &x, sizeof x);
        return HERD_OK;
    case HD_OT_CHAR: {
        char c = value[0];
        if (!strcmp(value, "\\t") || hd_ascii_ieq(value, "tab"))
            c = '\t';
        else if (strlen(value) != 1)
            return hd_bad_value(d, o, value, "is not one character", fn);
        memcpy(field, &c, sizeof c);
        return HERD_OK;
    }
    case HD_OT_ENUM:
        if (!hd_parse_name(o, value, strlen(value), &e)) {
            if (!hd_parse_int64(value, &i) || i < INT_MIN || i > INT_MAX)
                return hd_bad_value(d, o, value, "is not a value of this option", fn);
            e = i;
        }
        b = (int)e;
        memcpy(field, &b, sizeof b);
        return HERD_OK;
    case HD_OT_FLAGS:
        if (!hd_parse_flags(o, value, &f)) return hd_bad_value(d, o, value, "is not flags", fn);
        memcpy(field, &f, sizeof f);
        return HERD_OK;
    default: return hd_error(HERD_EINTERNAL, "%s: option '%s' is not a scalar", fn, o->name);
    }
}

/* ---- setters ------------------------------------------------------------------ */

static void hd_store_clear(hd_opt_store *st)
{
    free(st->keys);
    free(st->values);
    memset(st, 0, sizeof *st);
}

/* Point the struct's fields of a list or map at its store. */
static void hd_store_link(herd_options *h, const hd_opt *o, const hd_opt_store *st)
{
    unsigned char *s = h->s;
    const void *keys = st->n ? (const void *)st->keys : NULL;
    const void *values = st->n ? st->values : NULL;
    memcpy(s + o->off, &keys, sizeof keys);
    if (o->type != HD_OT_STRING_LIST) memcpy(s + o->off_values, &values, sizeof values);
    memcpy(s + o->off_count, &st->n, sizeof st->n);
}

/* Reset option `o` of `h` to its default. */
static int hd_reset(herd_options *h, const hd_opt *o)
{
    size_t i = (size_t)(o - h->desc->opts);
    unsigned char *s = h->s, *def = hd_malloc(1, h->desc->size);
    if (!def) return HERD_ENOMEM;
    hd_options_defaults(h->desc, def);
    memcpy(s + o->off, def + o->off, hd_opt_type_size(o->type));
    if (o->type == HD_OT_PROGRESS) memcpy(s + o->off_values, def + o->off_values, sizeof(void *));
    free(def);
    if (o->type == HD_OT_STRING_LIST || o->type == HD_OT_STRING_MAP ||
        o->type == HD_OT_NUMBER_MAP || o->type == HD_OT_TYPE_MAP) {
        hd_store_clear(&h->stores[i]);
        hd_store_link(h, o, &h->stores[i]);
    }
    if (o->type == HD_OT_OPTIONS) {
        herd_options_free(h->nested[i]);
        h->nested[i] = NULL;
    }
    return HERD_OK;
}

static const char *hd_setter_for(hd_opt_type t)
{
    switch (t) {
    case HD_OT_STRING_LIST: return "herd_options_set_strings()";
    case HD_OT_STRING_MAP:
    case HD_OT_NUMBER_MAP:
    case HD_OT_TYPE_MAP: return "herd_options_set_entry() per entry";
    case HD_OT_POINTER: return "herd_options_set_pointer()";
    case HD_OT_PROGRESS: return "herd_options_set_progress()";
    case HD_OT_OPTIONS: return "the nested names (NAME.option)";
    default: return "herd_options_set()";
    }
}

static int hd_wrong_setter(const hd_opt_struct *d, const hd_opt *o, const char *fn)
{
    return hd_error(HERD_EINVAL, "%s: option '%s' of %s is a %s; set it with %s", fn, o->name,
                    d->operation, hd_opt_type_name(o->type), hd_setter_for(o->type));
}

/* Resolve `name` to its handle and option. */
static int hd_resolve(herd_options *opt, const char *name, const char *fn, herd_options **h,
                      const hd_opt **o)
{
    const hd_opt_struct *d = opt->desc;
    const hd_opt *parent;
    int rc = hd_lookup_option(&d, name, fn, &parent, o);
    if (!rc) rc = hd_target(opt, parent, h);
    return rc;
}

int herd_options_set(herd_options *opt, const char *name, const char *value)
{
    HD_CHECK_NOT_NULL(opt);
    HD_CHECK_NOT_NULL(name);
    herd_options *h = NULL;
    const hd_opt *o = NULL;
    int rc = hd_resolve(opt, name, __func__, &h, &o);
    if (rc) return rc;
    if (!value) return hd_reset(h, o);
    if (o->type == HD_OT_STRING) {
        const char *copy = hd_arena_strndup(h->arena, value, strlen(value));
        if (!copy) return HERD_ENOMEM;
        memcpy((char *)h->s + o->off, &copy, sizeof copy);
        return HERD_OK;
    }
    if (o->type >= HD_OT_STRING_LIST) /* lists, maps, pointers: their own setters */
        return hd_wrong_setter(h->desc, o, __func__);
    /* Parse into a scratch copy, check it there, then keep it. */
    unsigned char *scratch = hd_malloc(1, h->desc->size);
    if (!scratch) return HERD_ENOMEM;
    memcpy(scratch, h->s, h->desc->size);
    rc = hd_parse_scalar(h->desc, o, value, scratch + o->off, __func__);
    if (!rc && hd_option_check(h->desc, o, scratch, NULL))
        rc = hd_bad_value(h->desc, o, value, "is out of bounds", __func__);
    if (!rc) memcpy((char *)h->s + o->off, scratch + o->off, hd_opt_type_size(o->type));
    free(scratch);
    return rc;
}

int herd_options_set_strings(herd_options *opt, const char *name, const char *const *values,
                             size_t n)
{
    HD_CHECK_NOT_NULL(opt);
    HD_CHECK_NOT_NULL(name);
    if (n && !values)
        return hd_error(HERD_EINVAL, "%s: argument 'values' is NULL but n is %zu", __func__, n);
    herd_options *h = NULL;
    const hd_opt *o = NULL;
    int rc = hd_resolve(opt, name, __func__, &h, &o);
    if (rc) return rc;
    if (o->type != HD_OT_STRING_LIST) return hd_wrong_setter(h->desc, o, __func__);
    for (size_t i = 0; i < n; i++)
        if (!values[i])
            return hd_error(HERD_EINVAL, "%s: option '%s' of %s: values[%zu] is NULL", __func__,
                            o->name, h->desc->operation, i);
    const char **keys = hd_malloc(n ? n : 1, sizeof *keys);
    if (!keys) return HERD_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(keys[i] = hd_arena_strndup(h->arena, values[i], strlen(values[i])))) {
            free(keys);
            return HERD_ENOMEM;
        }
    hd_opt_store *st = &h->stores[o - h->desc->opts];
    hd_store_clear(st);
    st->keys = keys;
    st->n = st->cap = n;
    hd_store_link(h, o, st);
    return HERD_OK;
}

static size_t hd_map_value_size(hd_opt_type t)
{
    return t == HD_OT_NUMBER_MAP ? sizeof(double) : t == HD_OT_TYPE_MAP ? sizeof(int)
                                                                        : sizeof(char *);
}

/* Parse one map value into `slot`. */
static int hd_map_value(herd_options *h, const hd_opt *o, const char *key, const char *value,
                        void *slot, const char *fn)
{
    if (o->type == HD_OT_STRING_MAP) {
        const char *copy = hd_arena_strndup(h->arena, value, strlen(value));
        if (!copy) return HERD_ENOMEM;
        memcpy(slot, &copy, sizeof copy);
        return HERD_OK;
    }
    if (o->type == HD_OT_NUMBER_MAP) {
        double x;
        if (!hd_parse_double(value, &x) && !hd_ascii_ieq(value, "nan"))
            return hd_error(HERD_EINVAL, "%s: option '%s' of %s: entry '%s': '%s' is not a "
                            "number", fn, o->name, h->desc->operation, key, value);
        if (hd_ascii_ieq(value, "nan")) x = NAN;
        memcpy(slot, &x, sizeof x);
        return HERD_OK;
    }
    for (int t = HERD_TYPE_FLOAT32; t <= HERD_TYPE_STRING; t++)
        if (!strcmp(value, herd_type_name(t))) {
            memcpy(slot, &t, sizeof t);
            return HERD_OK;
        }
    return hd_error(HERD_EINVAL, "%s: option '%s' of %s: entry '%s': '%s' is not a type; give "
                    "float32, float64, int32, int64 or string", fn, o->name,
                    h->desc->operation, key, value);
}

int herd_options_set_entry(herd_options *opt, const char *name, const char *key,
                           const char *value)
{
    HD_CHECK_NOT_NULL(opt);
    HD_CHECK_NOT_NULL(name);
    HD_CHECK_NOT_NULL(key);
    herd_options *h = NULL;
    const hd_opt *o = NULL;
    int rc = hd_resolve(opt, name, __func__, &h, &o);
    if (rc) return rc;
    if (o->type != HD_OT_STRING_MAP && o->type != HD_OT_NUMBER_MAP && o->type != HD_OT_TYPE_MAP)
        return hd_wrong_setter(h->desc, o, __func__);
    hd_opt_store *st = &h->stores[o - h->desc->opts];
    size_t vsize = hd_map_value_size(o->type), i = 0;
    while (i < st->n && strcmp(st->keys[i], key)) i++;
    if (!value) { /* remove the entry */
        if (i == st->n) return HERD_OK;
        memmove(&st->keys[i], &st->keys[i + 1], (st->n - i - 1) * sizeof *st->keys);
        memmove((char *)st->values + i * vsize, (char *)st->values + (i + 1) * vsize,
                (st->n - i - 1) * vsize);
        st->n--;
        hd_store_link(h, o, st);
        return HERD_OK;
    }
    unsigned char slot[sizeof(double)];
    if ((rc = hd_map_value(h, o, key, value, slot, __func__))) return rc;
    if (i == st->n) {
        size_t cap = st->cap;
        if (hd_grow((void **)&st->keys, &cap, st->n + 1, sizeof *st->keys)) return HERD_ENOMEM;
        size_t vcap = st->cap;
        if (hd_grow(&st->values, &vcap, st->n + 1, vsize)) return HERD_ENOMEM;
        st->cap = cap < vcap ? cap : vcap;
        if (!(st->keys[i] = hd_arena_strndup(h->arena, key, strlen(key)))) return HERD_ENOMEM;
        st->n++;
    }
    memcpy((char *)st->values + i * vsize, slot, vsize);
    hd_store_link(h, o, st);
    return HERD_OK;
}

int herd_options_set_pointer(herd_options *opt, const char *name, const void *pointer)
{
    HD_CHECK_NOT_NULL(opt);
    HD_CHECK_NOT_NULL(name);
    herd_options *h = NULL;
    const hd_opt *o = NULL;
    int rc = hd_resolve(opt, name, __func__, &h, &o);
    if (rc) return rc;
    if (o->type != HD_OT_POINTER) return hd_wrong_setter(h->desc, o, __func__);
    memcpy((char *)h->s + o->off, &pointer, sizeof pointer);
    return HERD_OK;
}

int herd_options_set_progress(herd_options *opt, const char *name, herd_progress_fn fn,
                              void *user)
{
    HD_CHECK_NOT_NULL(opt);
    HD_CHECK_NOT_NULL(name);
    herd_options *h = NULL;
    const hd_opt *o = NULL;
    int rc = hd_resolve(opt, name, __func__, &h, &o);
    if (rc) return rc;
    if (o->type != HD_OT_PROGRESS) return hd_wrong_setter(h->desc, o, __func__);
    memcpy((char *)h->s + o->off, &fn, sizeof fn);
    memcpy((char *)h->s + o->off_values, &user, sizeof user);
    return HERD_OK;
}

/* ---- reading back --------------------------------------------------------------- */

/* A scalar, string, list or map value as text (JSON for lists and maps);
 * NULL for a NULL string.  Allocated with malloc. */
static int hd_value_text(const hd_opt_struct *d, const hd_opt *o, const void *opt, char **out)
{
    const unsigned char *p = (const unsigned char *)opt + o->off;
    char buf[64];
    *out = NULL;
    switch (o->type) {
    case HD_OT_BOOL:
    case HD_OT_INT: {
        int v;
        memcpy(&v, p, sizeof v);
        if (o->type == HD_OT_BOOL && (v == 0 || v == 1))
            snprintf(buf, sizeof buf, "%s", v ? "true" : "false");
        else
            snprintf(buf, sizeof buf, "%d", v);
        break;
    }
    case HD_OT_INT64: {
        int64_t v;
        memcpy(&v, p, sizeof v);
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        break;
    }
    case HD_OT_UINT64: {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
        break;
    }
    case HD_OT_SIZE: {
        size_t v;
        memcpy(&v, p, sizeof v);
        snprintf(buf, sizeof buf, "%zu", v);
        break;
    }
    case HD_OT_DOUBLE: {
        double v;
        memcpy(&v, p, sizeof v);
        hd_opt_fmt_double(v, buf, sizeof buf);
        break;
    }
    case HD_OT_CHAR:
        buf[0] = (char)*p;
        buf[1] = '\0';
        break;
    case HD_OT_ENUM: {
        int v;
        memcpy(&v, p, sizeof v);
        snprintf(buf, sizeof buf, "%d", v);
        for (const hd_opt_name *n = o->names; n && n->name; n++)
            if (n->value == v) snprintf(buf, sizeof buf, "%s", n->name);
        break;
    }
    case HD_OT_FLAGS: {
        uint32_t v, named = 0;
        memcpy(&v, p, sizeof v);
        size_t used = 0;
        buf[0] = '\0';
        for (const hd_opt_name *n = o->names; n && n->name; n++)
            if (v & (uint32_t)n->value) {
                used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
                                         used ? "|" : "", n->name);
                named |= (uint32_t)n->value;
            }
        if (v & ~named) snprintf(buf, sizeof buf, "%u", (unsigned)v);
        break;
    }
    case HD_OT_STRING: {
        const char *s;
        memcpy(&s, p, sizeof s);
        if (!s) return HERD_OK;
        *out = hd_strdup(s);
        return *out ? HERD_OK : HERD_ENOMEM;
    }
    case HD_OT_STRING_LIST:
    case HD_OT_STRING_MAP:
    case HD_OT_NUMBER_MAP:
    case HD_OT_TYPE_MAP: {
        const char *const *keys;
        const void *values = NULL;
        size_t n;
        memcpy(&keys, p, sizeof keys);
        memcpy(&n, (const unsigned char *)opt + o->off_count, sizeof n);
        if (o->type != HD_OT_STRING_LIST)
            memcpy(&values, (const unsigned char *)opt + o->off_values, sizeof values);
        cJSON *j = o->type == HD_OT_STRING_LIST ? cJSON_CreateArray() : cJSON_CreateObject();
        for (size_t i = 0; j && i < n; i++) {
            cJSON *v;
            if (o->type == HD_OT_STRING_LIST)
                v = cJSON_CreateString(keys[i]);
            else if (o->type == HD_OT_STRING_MAP)
                v = cJSON_CreateString(((const char *const *)values)[i]);
            else if (o->type == HD_OT_NUMBER_MAP)
                v = isfinite(((const double *)values)[i])
                        ? cJSON_CreateNumber(((const double *)values)[i])
                        : cJSON_CreateNull();
            else
                v = cJSON_CreateString(herd_type_name(((const int *)values)[i]));
            if (!v || !(o->type == HD_OT_STRING_LIST ? cJSON_AddItemToArray(j, v)
                                                     : cJSON_AddItemToObject(j, keys[i], v))) {
                cJSON_Delete(v);
                cJSON_Delete(j);
                j = NULL;
            }
        }
        char *text = j ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!text) return hd_oom();
        *out = hd_strdup(text);
        cJSON_free(text);
        return *out ? HERD_OK : HERD_ENOMEM;
    }
    default:
        return hd_error(HERD_ETYPE, "option '%s' of %s is a %s; it has no text value", o->name,
                        d->operation, hd_opt_type_name(o->type));
    }
    *out = hd_strdup(buf);
    return *out ? HERD_OK : HERD_ENOMEM;
}

int herd_options_get(const herd_options *opt, const char *name, char **value)
{
    HD_CHECK_NOT_NULL(value);
    *value = NULL;
    HD_CHECK_NOT_NULL(opt);
    HD_CHECK_NOT_NULL(name);
    const hd_opt_struct *d = opt->desc;
    const hd_opt *parent, *o;
    int rc = hd_lookup_option(&d, name, __func__, &parent, &o);
    if (rc) return rc;
    const void *s = opt->s;
    unsigned char *def = NULL;
    if (parent) {
        const herd_options *child = opt->nested[parent - opt->desc->opts];
        if (child) {
            s = child->s;
        } else { /* not set: the nested struct's defaults */
            if (!(def = hd_malloc(1, d->size))) return HERD_ENOMEM;
            hd_options_defaults(d, def);
            s = def;
        }
    }
    rc = hd_value_text(d, o, s, value);
    free(def);
    if (rc) hd_error_prefix("%s: ", __func__);
    return rc;
}

/* ---- bounds and the table ------------------------------------------------------- */

static int hd_is_numeric(hd_opt_type t)
{
    return t == HD_OT_BOOL || t == HD_OT_INT || t == HD_OT_INT64 || t == HD_OT_UINT64 ||
           t == HD_OT_SIZE || t == HD_OT_DOUBLE || t == HD_OT_CHAR || t == HD_OT_ENUM;
}

/* Inclusive bounds: an open end becomes the next double inside. */
static void hd_closed_bounds(const hd_opt *o, double *min, double *max)
{
    if (o->type == HD_OT_ENUM) {
        *min = INFINITY;
        *max = -INFINITY;
        for (const hd_opt_name *n = o->names; n && n->name; n++) {
            if ((double)n->value < *min) *min = (double)n->value;
            if ((double)n->value > *max) *max = (double)n->value;
        }
        return;
    }
    *min = (o->flags & HD_OF_MIN_OPEN) ? nextafter(o->min, INFINITY) : o->min;
    *max = (o->flags & HD_OF_MAX_OPEN) ? nextafter(o->max, -INFINITY) : o->max;
}

int herd_option_bounds(const char *operation, const char *name, double *min, double *max)
{
    HD_CHECK_NOT_NULL(min);
    HD_CHECK_NOT_NULL(max);
    *min = *max = NAN;
    HD_CHECK_NOT_NULL(operation);
    HD_CHECK_NOT_NULL(name);
    const hd_opt_struct *d;
    const hd_opt *parent, *o;
    int rc = hd_lookup_operation(operation, __func__, &d);
    if (!rc) rc = hd_lookup_option(&d, name, __func__, &parent, &o);
    if (rc) return rc;
    if (!hd_is_numeric(o->type))
        return hd_error(HERD_ETYPE, "%s: option '%s' of %s is a %s; only numeric options have "
                        "bounds", __func__, name, operation, hd_opt_type_name(o->type));
    hd_closed_bounds(o, min, max);
    return HERD_OK;
}

enum { TB_OP, TB_NAME, TB_TYPE, TB_DEFAULT, TB_MIN, TB_MAX, TB_DOC, TB_SINCE, TB_FIELDS,
       TB_VALUES, TB_N };

typedef struct hd_table_cols {
    size_t n, cap;
    const char **op, **name, **type, **def, **doc, **fields, **values;
    double *min, *max;
    int64_t *since;
} hd_table_cols;

static void hd_table_cols_free(hd_table_cols *t, hd_arena *a)
{
    free(t->op), free(t->name), free(t->type), free(t->def), free(t->doc), free(t->fields);
    free(t->values), free(t->min), free(t->max), free(t->since);
    hd_arena_free(a);
}

static int hd_table_grow(hd_table_cols *t)
{
    if (t->n < t->cap) return HERD_OK;
    size_t cap = t->cap ? 2 * t->cap : 64;
    void **cols[] = {(void **)&t->op,  (void **)&t->name,   (void **)&t->type,
                     (void **)&t->def, (void **)&t->doc,    (void **)&t->fields,
                     (void **)&t->values};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        void *p = hd_realloc(*cols[i], cap, sizeof(char *));
        if (!p) return HERD_ENOMEM;
        *cols[i] = p;
    }
    double *mn = hd_realloc(t->min, cap, sizeof *mn);
    if (!mn) return HERD_ENOMEM;
    t->min = mn;
    double *mx = hd_realloc(t->max, cap, sizeof *mx);
    if (!mx) return HERD_ENOMEM;
    t->max = mx;
    int64_t *sc = hd_realloc(t->since, cap, sizeof *sc);
    if (!sc) return HERD_ENOMEM;
    t->since = sc;
    t->cap = cap;
    return HERD_OK;
}

static int hd_table_row(hd_table_cols *t, hd_arena *a, const hd_opt_struct *d, const hd_opt *o,
                        const void *defaults)
{
    if (hd_table_grow(t)) return HERD_ENOMEM;
    size_t r = t->n;
    char *def = NULL;
    int rc = HERD_OK;
    if (o->type <= HD_OT_TYPE_MAP && (rc = hd_value_text(d, o, defaults, &def))) return rc;
    t->def[r] = def ? hd_arena_strndup(a, def, strlen(def)) : NULL;
    free(def);
    char values[256] = "";
    if (o->names) {
        size_t used = 0;
        for (const hd_opt_name *n = o->names; n->name; n++) {
            int w = snprintf(values + used, sizeof values - used, "%s%s", used ? "|" : "",
                             n->name);
            if (w > 0 && (size_t)w < sizeof values - used) used += (size_t)w;
        }
    }
    t->op[r] = d->operation;
    t->name[r] = o->name;
    t->type[r] = hd_opt_type_name(o->type);
    t->doc[r] = o->doc;
    t->fields[r] = o->fields;
    t->values[r] = o->names ? hd_arena_strndup(a, values, strlen(values)) : NULL;
    if (hd_is_numeric(o->type)) {
        hd_closed_bounds(o, &t->min[r], &t->max[r]);
    } else {
        t->min[r] = t->max[r] = NAN;
    }
    t->since[r] = o->since;
    if ((def && !t->def[r]) || (o->names && !t->values[r])) return HERD_ENOMEM;
    t->n++;
    return HERD_OK;
}

static int hd_table_struct(hd_table_cols *t, hd_arena *a, const hd_opt_struct *d)
{
    unsigned char *defaults = hd_malloc(1, d->size);
    if (!defaults) return HERD_ENOMEM;
    hd_options_defaults(d, defaults);
    int rc = HERD_OK;
    for (size_t i = 0; !rc && i < d->nopts; i++) rc = hd_table_row(t, a, d, &d->opts[i], defaults);
    free(defaults);
    return rc;
}

static int hd_table_frame(const hd_table_cols *t, herd_frame **out)
{
    static const char *const names[TB_N] = {"operation", "name", "type", "default", "min",
                                            "max", "doc", "since", "fields", "values"};
    const void *data[TB_N] = {t->op,  t->name, t->type,  t->def,    t->min,
                              t->max, t->doc,  t->since, t->fields, t->values};
    static const int types[TB_N] = {HERD_TYPE_STRING,  HERD_TYPE_STRING,  HERD_TYPE_STRING,
                                    HERD_TYPE_STRING,  HERD_TYPE_FLOAT64, HERD_TYPE_FLOAT64,
                                    HERD_TYPE_STRING,  HERD_TYPE_INT64,   HERD_TYPE_STRING,
                                    HERD_TYPE_STRING};
    herd_frame *f = NULL;
    int rc = herd_frame_new(&f);
    for (size_t c = 0; !rc && c < TB_N; c++)
        rc = herd_frame_add_column(f, names[c], types[c], data[c], t->n, NULL);
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

int herd_options_table(const char *operation, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    const hd_opt_struct *only = NULL;
    int rc = operation ? hd_lookup_operation(operation, __func__, &only) : HERD_OK;
    if (rc) return rc;
    hd_table_cols t;
    memset(&t, 0, sizeof t);
    hd_arena *a = hd_arena_new();
    if (!a) return HERD_ENOMEM;
    for (size_t i = 0; !rc && hd_options_all[i]; i++)
        if (!only || only == hd_options_all[i]) rc = hd_table_struct(&t, a, hd_options_all[i]);
    if (!rc) rc = hd_table_frame(&t, out);
    hd_table_cols_free(&t, a);
    return rc;
}
