/* error.c -- status names and the thread-local last error.
 *
 * Each thread keeps its own message buffer so that workers never overwrite
 * the error the calling thread is about to read.  Out-of-memory must not
 * allocate, so it points at a static message instead.
 *
 * Every message is valid UTF-8, whatever bytes it quotes (a file name, a
 * CSV field, a key from an artifact): a byte that does not start a valid
 * character is written \xNN, and a cut falls between characters. */
#include <stdio.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/utf8_internal.h"

#define HD_ERROR_MAX 1024

static const char hd_oom_message[] =
    "out of memory: free memory or reduce the data (fewer rows, groups or threads)";

typedef struct hd_error_state {
    int code;
    const char *message; /* buf, hd_oom_message or "" */
    char buf[HD_ERROR_MAX];
} hd_error_state;

static _Thread_local hd_error_state hd_err = {HERD_OK, "", {0}};

const char *herd_status_str(int status)
{
    switch (status) {
    case HERD_OK: return "HERD_OK";
    case HERD_EINVAL: return "HERD_EINVAL";
    case HERD_ENOMEM: return "HERD_ENOMEM";
    case HERD_EIO: return "HERD_EIO";
    case HERD_EFORMAT: return "HERD_EFORMAT";
    case HERD_ENOTFOUND: return "HERD_ENOTFOUND";
    case HERD_EEXISTS: return "HERD_EEXISTS";
    case HERD_ETYPE: return "HERD_ETYPE";
    case HERD_ELIMIT: return "HERD_ELIMIT";
    case HERD_EXGBOOST: return "HERD_EXGBOOST";
    case HERD_ECANCELED: return "HERD_ECANCELED";
    case HERD_ECORRUPT: return "HERD_ECORRUPT";
    case HERD_EBUSY: return "HERD_EBUSY";
    /* -13 is retired (was HERD_ECALLBACK): "HERD_UNKNOWN". */
    case HERD_EBUDGET: return "HERD_EBUDGET";
    case HERD_EINTERNAL: return "HERD_EINTERNAL";
    case HERD_ECONFLICT: return "HERD_ECONFLICT";
    case HERD_EREFUSED: return "HERD_EREFUSED";
    case HERD_SKIP: return "HERD_SKIP";
    case HERD_MISSING: return "HERD_MISSING";
    default: return "HERD_UNKNOWN";
    }
}

const char *herd_last_error(void)
{
    return hd_err.message ? hd_err.message : "";
}

int herd_last_error_code(void)
{
    return hd_err.code;
}

void herd_clear_error(void)
{
    hd_err.code = HERD_OK;
    hd_err.message = "";
    hd_err.buf[0] = '\0';
}

int hd_verror(int code, const char *fmt, va_list ap)
{
    /* Formatted aside first, so that a message may quote the previous one
     * (hd_error(code, "...: %s", herd_last_error())). */
    static _Thread_local char scratch[HD_ERROR_MAX];
    int n = vsnprintf(scratch, sizeof scratch, fmt, ap);
    if (n < 0) {
        snprintf(scratch, sizeof scratch, "%s (message could not be formatted)",
                 herd_status_str(code));
    } else if ((size_t)n >= sizeof scratch) {
        /* vsnprintf may have cut a character: step back to its start. */
        size_t end = sizeof scratch - 4;
        while (end > 0 && ((unsigned char)scratch[end] & 0xC0) == 0x80) end--;
        memcpy(scratch + end, "...", 4);
    }
    hd_utf8_escape(hd_err.buf, sizeof hd_err.buf, scratch);
    hd_err.code = code;
    hd_err.message = hd_err.buf;
    return code;
}

int hd_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hd_verror(code, fmt, ap);
    va_end(ap);
    return code;
}

int hd_oom(void)
{
    hd_err.code = HERD_ENOMEM;
    hd_err.message = hd_oom_message;
    return HERD_ENOMEM;
}

int hd_error_prefix(const char *fmt, ...)
{
    /* An out-of-memory message stays as it is: prefixing needs no memory but
     * the static text must not be edited. */
    if (hd_err.message != hd_err.buf) return hd_err.code;
    char prefix[256], whole[256 + HD_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n <= 0) return hd_err.code;
    snprintf(whole, sizeof whole, "%s%s", prefix, hd_err.buf);
    hd_utf8_escape(hd_err.buf, sizeof hd_err.buf, whole);
    return hd_err.code;
}

void hd_error_save(hd_saved_error *s)
{
    s->code = hd_err.code;
    snprintf(s->msg, sizeof s->msg, "%s", herd_last_error());
}

int hd_error_restore(const hd_saved_error *s)
{
    return hd_error(s->code ? s->code : HERD_EIO, "%s", s->msg);
}

void hd_error_keep(hd_error_kept *k)
{
    k->code = hd_err.code;
    if (hd_err.message == hd_err.buf) {
        k->kind = HD_KEPT_TEXT;
        memcpy(k->text, hd_err.buf, strlen(hd_err.buf) + 1);
    } else {
        k->kind = hd_err.message == hd_oom_message ? HD_KEPT_OOM : HD_KEPT_EMPTY;
        k->text[0] = '\0';
    }
}

void hd_error_put_back(const hd_error_kept *k)
{
    hd_err.code = k->code;
    switch (k->kind) {
    case HD_KEPT_TEXT:
        memcpy(hd_err.buf, k->text, strlen(k->text) + 1);
        hd_err.message = hd_err.buf;
        break;
    case HD_KEPT_OOM: hd_err.message = hd_oom_message; break;
    default:
        hd_err.buf[0] = '\0';
        hd_err.message = "";
        break;
    }
}
